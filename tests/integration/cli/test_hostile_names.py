"""Names are data in every command that prints them (issue 16 item 3): hostile function, rule and source names
through the real CLI (`python -m opsview`), against a real store. Rich reads a plain string cell as markup, so a
function named `[/]` used to sink `opsview status` for the whole fleet with a MarkupError traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from hostile import RICH_MARKUP, TERMINAL, markdown_html, shown

from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

NAMES = (*RICH_MARKUP, *TERMINAL, *markdown_html("127.0.0.1:9"))
RULES = ("[/]", "[bold]x", ":fire: hot", "esc\x1b[31mred")
SOURCE = "[bold]src :fire:"


def _toml(text: str) -> str:
    return json.dumps(text)  # a JSON string is a TOML basic string (\uXXXX escapes included)


def opsview(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False, input=stdin, encoding="utf-8")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose functions carry every hostile name, and a config with hostile rule and source names."""
    folder = tmp_path_factory.mktemp("hostile")
    store = SQLiteStore(folder / "store.db")
    now = floor_time(utcnow(), 60)
    keys = [FunctionKey("aws", "111111111111", "us-east-1", name) for name in NAMES]
    store.upsert_functions(FunctionInfo(k) for k in keys)
    store.write_samples(Sample(key=k, start=now - timedelta(minutes=m), invocations=100, errors=20)
                        for m in range(1, 6) for k in keys)
    store.close()
    rules = "".join(
        f"[[alerts.rules]]\nname = {_toml(name)}\nmeasure = \"error_rate\"\nwindow = \"5m\"\nthreshold = 0.05\n"
        f"severity = \"warning\"\nmatch = {{ provider = \"aws\" }}\n\n"
        for name in RULES
    )
    (folder / "opsview.toml").write_text(
        f'[store]\nurl = "{folder / "store.db"}"\n\n'
        f'[[sources.demo]]\nname = {_toml(SOURCE)}\ninclude = ["checkout-*"]\n\n' + rules,
        encoding="utf-8",
    )
    return folder


def _clean(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "\x1b" not in result.stdout + result.stderr  # a name never sends a control sequence to the terminal
    assert "\x07" not in result.stdout + result.stderr
    return result.stdout


def test_status_table_shows_every_hostile_name_literally(fleet: Path) -> None:
    out = _clean(opsview("status", "--config", fleet / "opsview.toml"))
    for name in NAMES:
        assert shown(name) in out, name
    assert "🔥" not in out  # `:fire:` is text, not rich's emoji


def test_status_json_keeps_the_names_unchanged(fleet: Path) -> None:
    rows = json.loads(_clean(opsview("status", "--config", fleet / "opsview.toml", "--format", "json")))
    assert {r["function"].split("/", 3)[3] for r in rows} >= set(NAMES)


def test_check_lists_hostile_rules_over_hostile_functions(fleet: Path) -> None:
    out = _clean(opsview("check", "--config", fleet / "opsview.toml", "--no-collect"), code=1)
    assert out.startswith(f"WARNING: {len(RULES) * len(NAMES)} firing")
    for rule in RULES:
        assert f"warning  {shown(rule)}" in out, rule
    for name in NAMES:
        assert f"aws/111111111111/us-east-1/{shown(name)}" in out, name


def test_rules_validate_and_silences_with_hostile_names(fleet: Path) -> None:
    config = fleet / "opsview.toml"
    assert _clean(opsview("rules", "validate", config)).startswith(f"ok: {len(RULES)} rules valid")
    for rule in RULES:
        added = _clean(opsview("silence", "add", "--config", config, "--rule", rule, "--function", "[bold]x",
                               "--for", "1h", "--comment", "[/] :fire:"))
        assert f"rule {shown(rule)}, function [bold]x" in added
    listed = _clean(opsview("silence", "list", "--config", config))
    for rule in RULES:
        assert f"rule {shown(rule)}  function [bold]x" in listed
    assert "# [/] :fire:" in listed


def test_ingest_table_shows_a_hostile_function_name(tmp_path: Path) -> None:
    log = "\n".join(
        f"REPORT RequestId: 4ce9340a-b765-490f-ad8a-02ab3415e2b{i}\tDuration: {10 + i}.00 ms\t"
        f"Billed Duration: {11 + i} ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB" for i in range(3))
    (tmp_path / "export.log").write_text(log + "\n", encoding="utf-8")
    for name in ("[/]", "[bold]x", ":fire: hot", "esc\x1b[31mred"):
        out = _clean(opsview("ingest", "--provider", "aws", "--function", name, tmp_path / "export.log"))
        assert shown(name) in out, name
        assert "3 lines read" in out


def test_collect_names_a_hostile_source(fleet: Path) -> None:
    out = _clean(opsview("collect", "--config", fleet / "opsview.toml"))
    assert out.startswith(SOURCE)
