"""Alert values in their unit, as `opsview check` prints them and as a notification's text carries them.

Real processes against a real SQLite store; notifications through the jsonl notifier (the payload a
webhook, Apprise or Alertmanager receives is built by the same path).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

API = FunctionKey("aws", "111", "us-east-1", "api")
SLOW = FunctionKey("aws", "111", "us-east-1", "slow")
GONE = FunctionKey("gcp", "proj", "europe-west1", "gone")

RULES = """
[[alerts.rules]]
name = "errors"
measure = "error_rate"
threshold = 0.05
severity = "critical"
notify = ["log"]

[[alerts.rules]]
name = "errors-pct"
measure = "error_rate"
threshold = 0.05
notify = ["log"]
annotations = { summary = "{function} failing: {value:.0%} (limit {threshold})", description = "{condition}" }

[[alerts.rules]]
name = "slow"
measure = "duration_p99_ms"
threshold = 1000
notify = ["log"]
annotations = { description = "p99 {value}, limit {threshold}" }

[[alerts.rules]]
name = "near-timeout"
measure = "timeout_ratio"
threshold = 0.8

[[alerts.rules]]
name = "throttled"
measure = "throttles"
threshold = 0
missing = "breaching"
match = { provider = "gcp" }
notify = ["log"]
annotations = { summary = "{function}: {value:.0f} throttled requests over {window}" }
"""


def write_config(tmp_path: Path, rules: str = RULES) -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text(
        f'[store]\nurl = "{tmp_path / "store.db"}"\n\n'
        f'[notifiers.log]\ntype = "jsonl"\npath = "{tmp_path / "notes.jsonl"}"\n\n' + rules,
        encoding="utf-8",
    )
    return path


def fill_store(tmp_path: Path, errors: int) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    now = floor_time(utcnow(), 60)
    store.upsert_functions([FunctionInfo(API, timeout_s=3), FunctionInfo(SLOW, timeout_s=3), FunctionInfo(GONE)])
    store.write_samples(
        Sample(key=key, start=now - timedelta(minutes=m), invocations=100, errors=errors if key == API else 0,
               duration_p99_ms=2599.4 if key == SLOW else 120.0)
        for m in range(1, 10) for key in (API, SLOW)
    )
    store.close()


def opsview(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *map(str, args)], capture_output=True, text=True,
                          timeout=60, check=False)


def notes(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "notes.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def summaries(tmp_path: Path, status: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(a["function"], n["rule"]): a for n in notes(tmp_path) if n["status"] == status for a in n["alerts"]}


def test_check_prints_values_in_their_unit_and_resolved_lines_say_what_holds(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill_store(tmp_path, errors=22)
    firing = opsview("check", "--config", config, "--no-collect")
    assert firing.returncode == 2, firing.stdout + firing.stderr
    lines = firing.stdout.splitlines()
    assert f"  FIRING   critical errors                   {API}  22.0 % > 5.0 %" in lines
    assert f"  FIRING   warning  slow                     {SLOW}  2.60 s > 1.00 s" in lines
    assert f"  FIRING   warning  near-timeout             {SLOW}  86.6 % > 80.0 % of timeout" in lines
    assert f"  FIRING   warning  throttled                {GONE}  no data" in lines

    fill_store(tmp_path, errors=0)  # the same minutes, re-collected clean
    resolved = opsview("check", "--config", config, "--no-collect")
    assert f"  RESOLVED critical errors                   {API}  0.0 % ≤ 5.0 %" in resolved.stdout.splitlines()

    # JSON keeps raw numbers
    raw = json.loads(opsview("check", "--config", config, "--no-collect", "--format", "json").stdout)
    (errors,) = [a for a in raw["alerts"] if a["rule"] == "errors"]
    assert (errors["value"], errors["op"], errors["threshold"]) == (0.0, ">", 0.05)


def test_notification_text_carries_the_unit_unless_the_template_formats_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    fill_store(tmp_path, errors=22)
    assert opsview("check", "--config", config, "--no-collect").returncode == 2
    sent = summaries(tmp_path, "firing")
    # the default summary
    assert sent[(str(API), "errors")]["summary"] == f"{API}: error_rate 22.0 % > 5.0 % over 5m"
    # an explicit spec keeps working; a bare {threshold} reads in the unit
    assert sent[(str(API), "errors-pct")]["summary"] == f"{API} failing: 22% (limit 5.0 %)"
    assert sent[(str(API), "errors-pct")]["description"] == "22.0 % > 5.0 %"
    assert sent[(str(SLOW), "slow")]["description"] == "p99 2.60 s, limit 1.00 s"
    # missing data: "no data", not "no data throttled requests"
    assert sent[(str(GONE), "throttled")]["summary"] == f"{GONE}: no data for throttles over 5m"
    # the payload keeps raw numbers
    assert sent[(str(API), "errors")]["value"] == pytest.approx(0.22)

    fill_store(tmp_path, errors=0)
    opsview("check", "--config", config, "--no-collect")
    assert summaries(tmp_path, "resolved")[(str(API), "errors")]["summary"] == (
        f"{API}: error_rate 0.0 % ≤ 5.0 % over 5m")

