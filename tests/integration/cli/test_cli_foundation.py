"""The commands as a user runs them: real processes, a real store file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from opsview.collect import CollectionRunner
from opsview.collectors.base import CollectRequest, CollectResult
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.schema import CollectorHealth, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration


def opsview(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "x.db"
    result = opsview("demo", "--collect-only", "--store", str(path), "--hours", "6")
    assert result.returncode == 0, result.stderr
    assert "60 functions" in result.stdout
    return path


def test_demo_history_then_status_json_lists_the_fleet_with_honest_nulls(demo_store: Path) -> None:
    result = opsview("status", "--store", str(demo_store), "--format", "json")
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    assert len(rows) >= 50
    assert {r["provider"] for r in rows} == {"aws", "azure", "gcp"}
    keys = {"function", "provider", "account", "region", "name", "invocations", "errors", "throttles", "cold_starts",
            "error_rate", "duration_p50_ms", "duration_p95_ms", "duration_p99_ms", "duration_max_ms", "cost_usd",
            "covered_s", "invocations_per_min", "cost_per_hour"}
    assert all(set(r) == keys for r in rows)
    busy = [r for r in rows if r["invocations"]]
    assert len(busy) >= 40
    for r in busy:
        assert 0 <= r["error_rate"] <= 1
        assert r["duration_p50_ms"] <= r["duration_p95_ms"] <= r["duration_p99_ms"] <= r["duration_max_ms"] * 1.0001
        assert r["cost_usd"] is not None
        assert r["cost_usd"] > 0
    gen1 = [r for r in rows if r["name"].startswith("legacy-") and r["invocations"]]
    assert gen1
    assert all(r["cold_starts"] is None and r["throttles"] is None for r in gen1)
    spike = next(r for r in rows if r["name"] == "payments-webhook")
    assert spike["error_rate"] is not None


def test_six_hours_read_over_24h_keep_their_per_minute_rates(demo_store: Path) -> None:
    """Issue 15.1: the 18 hours the store never collected are unknown, not 18 quiet hours (which made
    `--window 24h` read a quarter of the traffic and cost)."""
    def rows(window: str) -> dict[str, dict[str, Any]]:
        result = opsview("status", "--store", str(demo_store), "--window", window, "--format", "json")
        assert result.returncode == 0, result.stderr
        return {r["function"]: r for r in json.loads(result.stdout)}

    day, seven, six = rows("24h"), rows("7h"), rows("6h")
    busy = [f for f, r in seven.items() if r["invocations"]]
    assert len(busy) >= 50
    for f in busy:  # 7h and 24h hold the same six hours: the same rates, exactly
        assert day[f]["covered_s"] == seven[f]["covered_s"] == 6 * 3600
        assert day[f]["invocations_per_min"] == pytest.approx(seven[f]["invocations_per_min"], rel=1e-12)
        assert day[f]["cost_per_hour"] == pytest.approx(seven[f]["cost_per_hour"], rel=1e-12)
        assert day[f]["invocations_per_min"] == pytest.approx(day[f]["invocations"] / 360)
    for provider in ("aws", "azure", "gcp"):  # 6h may have lost its oldest minute or two since the fill
        total_day = sum(r["invocations_per_min"] or 0 for r in day.values() if r["provider"] == provider)
        total_six = sum(r["invocations_per_min"] or 0 for r in six.values() if r["provider"] == provider)
        assert total_day == pytest.approx(total_six, rel=0.02), provider
    table = opsview("status", "--store", str(demo_store), "--window", "24h", "--provider", "aws")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].strip() == "24 functions · last 24h · 6h of data"


def test_status_table_and_filters(demo_store: Path) -> None:
    result = opsview("status", "--store", str(demo_store), "--provider", "gcp", "--sort", "invocations")
    assert result.returncode == 0, result.stderr
    assert "us-central1" in result.stdout
    assert "us-east-1" not in result.stdout
    bad = opsview("status", "--store", str(demo_store), "--window", "5x")
    assert bad.returncode == 2
    assert 'invalid duration "5x"' in bad.stderr
    assert "Traceback" not in bad.stderr


def test_collect_runs_configured_sources_and_reports_each(tmp_path: Path) -> None:
    cfg = tmp_path / "opsview.toml"
    cfg.write_text("[[sources.demo]]\nname = 'fleet-a'\n[[sources.demo]]\nname = 'fleet-b'\nseed = 7\nscale = 1\n")
    result = opsview("collect", "--config", str(cfg), "--store", str(tmp_path / "c.db"), "--since", "30m")
    assert result.returncode == 0, result.stderr
    lines = sorted(result.stdout.strip().splitlines())  # printed as each source finishes
    assert len(lines) == 2
    assert lines[0].startswith("fleet-a")
    assert "60 functions" in lines[0]
    assert "ok" in lines[0]


def test_collect_without_sources_says_how_to_add_one(tmp_path: Path) -> None:
    cfg = tmp_path / "opsview.toml"
    cfg.write_text("[collect]\ninterval = '30s'\n")
    result = opsview("collect", "--config", str(cfg), "--store", str(tmp_path / "c.db"))
    assert result.returncode == 2
    assert "no sources configured" in result.stderr
    assert "config.example.toml" in result.stderr


def test_help_lists_every_command_and_each_has_an_example() -> None:
    top = opsview("--help")
    assert top.returncode == 0
    from opsview.cli import COMMANDS

    for name in COMMANDS:
        assert name in top.stdout
    commands = [(name,) for name in COMMANDS] + [("rules", "validate"), ("rules", "test"), ("silence", "add"),
                                                  ("silence", "list"), ("silence", "remove")]
    for args in commands:
        sub = opsview(*args, "--help")
        assert sub.returncode == 0, args
        assert "Example" in sub.stdout, args
    for name in ("collect", "status", "demo", "ingest", "tui", "web", "check", "exporter"):
        sub = opsview(name, "--help")
        assert "--store" in sub.stdout, name
        assert "--config" in sub.stdout, name


class _Broken:
    name = "broken"
    provider = "aws"

    def collect(self, request: CollectRequest) -> CollectResult:
        raise ConnectionError("could not connect to the endpoint URL: https://monitoring.us-east-1.amazonaws.com/")


class _PartlyBroken:
    name = "partly"
    provider = "gcp"

    def collect(self, request: CollectRequest) -> CollectResult:
        return CollectResult(health=[
            CollectorHealth("partly", "gcp", utcnow(), True, scope="proj-a"),
            CollectorHealth("partly", "gcp", utcnow(), False, "403 PERMISSION_DENIED", scope="proj-b"),
        ])


def test_one_failing_source_never_sinks_the_others(tmp_path: Path) -> None:
    config = Config(sources=SourcesConfig(demo=[DemoSource(name="demo")]))
    store = SQLiteStore(tmp_path / "r.db")
    runner = CollectionRunner(config, store, [*config.sources.all()])
    runner._collectors.update({"demo": runner._collector(config.sources.all()[0])})
    from opsview.config import AwsSource, GcpSource

    runner.sources += [AwsSource(name="broken"), GcpSource(name="partly", project_id=["a"])]
    runner._collectors["broken"] = _Broken()
    runner._collectors["partly"] = _PartlyBroken()
    reports = {r.source: r for r in runner.run()}
    assert reports["demo"].ok
    assert reports["demo"].samples > 0
    assert not reports["broken"].ok
    assert "could not connect" in reports["broken"].errors[0]
    assert reports["partly"].errors == ("proj-b: 403 PERMISSION_DENIED",)
    health = {(h.source, h.scope): h for h in store.latest_health()}
    assert health[("broken", "")].ok is False
    assert health[("demo", "")].ok is True


def test_status_on_a_store_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    result = opsview("status", "--store", str(missing))
    assert result.returncode == 2
    assert "store not found" in result.stderr
    assert "opsview collect" in result.stderr
    assert not missing.exists()
