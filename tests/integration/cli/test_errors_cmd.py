"""`opsview errors` as a user runs it: a real process over a real store file."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsview.error_records import ErrorCoverage, ErrorObservation
from opsview.schema import FunctionInfo, FunctionKey, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

PAY = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
ODD = FunctionKey("gcp", "shop", "us-central1", "[bold]odd[/bold]")
DARK = FunctionKey("azure", "sub", "westeurope", "orders/ProcessOrder")  # collected, errors never searched


def opsview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, timeout=300,
                          env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"})


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "errors.db"
    store = SQLiteStore(path)
    now = floor_time(utcnow(), 60)

    def ago(minutes: int) -> datetime:
        return now - timedelta(minutes=minutes)

    store.upsert_functions([FunctionInfo(PAY), FunctionInfo(ODD), FunctionInfo(DARK)])
    store.record_error_coverage([ErrorCoverage((PAY, ODD), ago(600), now)])
    store.write_errors(
        [ErrorObservation.of(PAY, ago(m), "KeyError", f"'user_{m}'", count=3, sample_id=f"req-{m}")
         for m in (5, 20, 200)]
        + [ErrorObservation.of(PAY, ago(9), "TypeError", "capture_charge() missing 1 required positional argument: "
                                                          "'currency'", sample_id="req-new")]
        + [ErrorObservation.of(ODD, ago(30), None, "[red]Task timed out after 60.00 seconds[/red]", count=2)]
    )
    store.close()
    return path


def test_json_lists_signatures_by_count_with_first_last_seen_and_sample(store_path: Path) -> None:
    result = opsview("errors", "--store", str(store_path), "--format", "json")
    assert result.returncode == 0, result.stderr
    out = strict(result.stdout)
    assert out["window"] == "1h"
    rows = out["signatures"]
    assert [(r["name"], r["signature"], r["count"], r["new"]) for r in rows] == [
        ("payments-webhook", "KeyError: <str>", 6, False),  # 200 min ago is outside the hour
        ("[bold]odd[/bold]", "[red]Task timed out after <n> seconds[/red]", 2, True),
        ("payments-webhook", "TypeError: capture_charge() missing <n> required positional argument: <str>", 1, True),
    ]
    top = rows[0]
    assert (top["sample"], top["sample_id"], top["error_type"]) == ("'user_5'", "req-5", "KeyError")
    assert datetime.fromisoformat(top["first_seen"]) < datetime.fromisoformat(out["start"])
    assert datetime.fromisoformat(top["last_seen"]) > datetime.fromisoformat(top["first_seen"])
    assert out["unwatched"] == [str(DARK)]  # its errors are unknown, not none


def test_new_and_function_glob_narrow_the_list(store_path: Path) -> None:
    new = strict(opsview("errors", "--store", str(store_path), "--new", "--format", "json").stdout)
    assert {r["name"] for r in new["signatures"]} == {"payments-webhook", "[bold]odd[/bold]"}
    assert all(r["new"] is True for r in new["signatures"])
    only = strict(opsview("errors", "--store", str(store_path), "--function", "aws/*", "--window", "6h",
                          "--format", "json").stdout)
    assert [(r["signature"], r["count"]) for r in only["signatures"]] == [
        ("KeyError: <str>", 9), ("TypeError: capture_charge() missing <n> required positional argument: <str>", 1),
    ]
    assert only["unwatched"] == []


def test_the_table_shows_names_and_messages_as_written_and_says_what_is_unknown(store_path: Path) -> None:
    result = opsview("errors", "--store", str(store_path))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "3 error signatures in 2 functions · last 1h" in text
    assert "[bold]odd[/bold]" in text  # not taken as markup
    assert "[red]Task timed out after <n> seconds[/red]" in text
    assert "↳ 'user_5' · req-5" in text
    assert "NEW " in text
    assert "errors unknown for 1 function (no source searched their errors in this window): orders/ProcessOrder" in text


def test_nothing_found_and_no_such_function(store_path: Path) -> None:
    quiet = opsview("errors", "--store", str(store_path), "--function", "*odd*", "--window", "10m")
    assert quiet.returncode == 0
    assert "no error signatures in the last 10m (1 function watched)" in quiet.stdout
    missing = opsview("errors", "--store", str(store_path), "--function", "nope*")
    assert missing.returncode == 2
    assert missing.stderr.strip() == 'opsview: no function matches "nope*" (see `opsview status` for the functions ' \
                                     "in the store)"
    assert missing.stdout == ""


def test_help_shows_examples() -> None:
    result = opsview("errors", "--help")
    assert result.returncode == 0
    assert "opsview errors --function payments-webhook --window 6h" in result.stdout
    assert "errors" in opsview("--help").stdout
