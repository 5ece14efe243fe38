"""Error records through the ingest accumulator: top errors per function, --store, JSON and the table.

The cloud readers' extraction of error records is issue 17 part 2; here a reader of our own stands in for
them and hands over `ErrorEvent`s, the contract those readers will meet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import pytest
from click.testing import CliRunner

from opsview.ingest import Ingest, IngestStats
from opsview.logevents import MAX_SIGNATURES, ErrorEvent, InvocationEvent, LogEvent
from opsview.schema import DEFAULT_PRICES, FunctionKey
from opsview.store import SQLiteStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def export() -> list[LogEvent]:
    """payments: 6 calls, 4 failed (3 KeyErrors on different keys, 1 timeout); reports: 2 calls, none failed."""
    events: list[LogEvent] = []
    for i, key in enumerate(("user_1", "cart_2", "user_3")):
        events.append(InvocationEvent("payments", at(i * 50), duration_ms=120.0, error=True))
        events.append(ErrorEvent("payments", at(i * 50 + 1), "KeyError", f"'{key}'", request_id=f"req-{i}",
                                 sample=f"Traceback (most recent call last):\n  ...\nKeyError: '{key}'"))
    events.append(InvocationEvent("payments", at(200), duration_ms=3000.0, error=True, timeout=True))
    events.append(ErrorEvent("payments", at(200), None, "Task timed out after 3.00 seconds", request_id="req-t"))
    events += [InvocationEvent("payments", at(210), duration_ms=90.0), InvocationEvent("payments", at(220))]
    events += [InvocationEvent("reports", at(5), duration_ms=900.0), InvocationEvent("reports", at(65))]
    return events


def ingest(events: list[LogEvent], *, minutes: bool = False, errors_read: bool = False) -> Ingest:
    acc = Ingest("aws", DEFAULT_PRICES["aws"], minutes=minutes)
    acc.stats.errors_read = errors_read
    acc.add_all(events)
    return acc


def test_top_errors_per_function_with_first_last_seen_and_the_latest_sample() -> None:
    result = ingest(export()).result()
    pay, reports = result.functions
    assert (pay.measures.invocations, pay.measures.errors) == (6, 4)  # error records count no invocation
    assert pay.top_errors is not None
    [keys, timeout] = pay.top_errors
    assert (keys.signature, keys.count, keys.first_seen, keys.last_seen) == ("KeyError: <str>", 3, at(1), at(101))
    assert keys.sample == "Traceback (most recent call last):\n  ...\nKeyError: 'user_3'"
    assert keys.sample_id == "req-2"
    assert (timeout.signature, timeout.count, timeout.error_type) == ("Task timed out after <n> seconds", 1, None)
    assert reports.top_errors == ()  # the reader read error records: none for reports means none
    assert reports.measures.errors == 0


def test_a_reader_without_error_records_leaves_top_errors_unknown() -> None:
    events = [e for e in export() if not isinstance(e, ErrorEvent)]
    result = ingest(events).result()
    assert all(f.top_errors is None for f in result.functions)
    doc = result.to_json()
    assert all(f["top_errors"] is None and f["other_errors"] is None for f in doc["functions"])
    assert ingest(events, errors_read=True).result().functions[0].top_errors == ()


def test_a_function_with_only_error_records_has_unknown_measures() -> None:
    result = ingest([ErrorEvent("only-errors", at(1), "ValueError", "bad row 17", weight=5)]).result()
    [summary] = result.functions
    assert summary.measures.invocations is None  # how often it ran is not in the file
    assert summary.top_errors is not None
    assert [(e.signature, e.count) for e in summary.top_errors] == [("ValueError: bad row <n>", 5)]


def test_distinct_signatures_are_bounded_per_function() -> None:
    words = [f"{a}{b}" for a in "abcdefghijklmnopqrstuvwxyz" for b in "abcdefghijklmnopqrstuvwxyz"]
    events: list[LogEvent] = [ErrorEvent("f", at(i), "Error", f"{words[i % 676]} {words[i // 676]} failed")
                              for i in range(MAX_SIGNATURES + 200)]
    acc = ingest(events)
    [summary] = acc.result().functions
    assert len(acc._errors["f"].signatures) == MAX_SIGNATURES
    assert summary.other_errors == 200
    assert summary.top_errors is not None
    assert len(summary.top_errors) == 10


def test_store_gets_per_minute_counts_samples_and_coverage(tmp_path: Path) -> None:
    result = ingest(export(), minutes=True).result()
    assert sum(o.count for o in result.errors) == 4
    store = SQLiteStore(tmp_path / "pm.db")
    try:
        store.upsert_functions(result.infos)
        store.write_samples(result.samples)
        store.write_errors(result.errors)
        store.record_error_coverage(result.error_coverage)
        pay = FunctionKey("aws", "ingest", "unknown", "payments")
        stored = store.top_errors(pay, T0, at(3600))
        assert [(s.signature, s.count) for s in stored] == [("KeyError: <str>", 3),
                                                            ("Task timed out after <n> seconds", 1)]
        assert (stored[0].first_seen, stored[0].sample_id) == (T0, "req-2")
        assert stored[0].sample is not None
        assert stored[0].sample.endswith("KeyError: 'user_3'")
        assert store.error_coverage()[pay] == (T0, T0 + timedelta(minutes=4))
        reports = FunctionKey("aws", "ingest", "unknown", "reports")
        assert store.error_coverage()[reports] == (T0, T0 + timedelta(minutes=2))  # read, no errors: none
    finally:
        store.close()


def test_json_is_strict_and_names_the_fields_the_issue_lists() -> None:
    doc = json.loads(json.dumps(ingest(export()).result().to_json(), allow_nan=False))
    [first, _] = doc["functions"][0]["top_errors"]
    assert {"signature", "count", "first_seen", "last_seen", "sample"} <= set(first)
    assert first["first_seen"] == at(1).isoformat()


def _reader(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[LogEvent]:
    """Stands in for a cloud reader that extracts error records (issue 17 part 2)."""
    stats.errors_read = True
    for line in stream:
        stats.lines_read += 1
        yield InvocationEvent("[b]pay[/b]", at(stats.lines_read), duration_ms=10.0, error=True)
        yield ErrorEvent("[b]pay[/b]", at(stats.lines_read), "KeyError", line.strip(), request_id="r1")


def test_the_table_has_a_top_errors_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from opsview.cli import ingest_cmd

    monkeypatch.setattr(ingest_cmd, "ingest_reader", lambda provider: _reader)
    log = tmp_path / "x.log"
    log.write_text("'user_1'\n'user_2'\n[red]'x'[/red]\n", encoding="utf-8")
    out = CliRunner().invoke(ingest_cmd.ingest, ["--provider", "aws", str(log)], terminal_width=160)
    assert out.exit_code == 0, out.output
    assert "top errors" in out.output
    assert "[b]pay[/b]" in out.output  # a name from the input is not rich markup
    assert "KeyError: <str>" in out.output
    assert "↳ [red]'x'[/red]" in out.output
    as_json = CliRunner().invoke(ingest_cmd.ingest, ["--provider", "aws", str(log), "--format", "json"])
    [pay] = json.loads(as_json.output)["functions"]
    assert [(e["signature"], e["count"]) for e in pay["top_errors"]] == [("KeyError: <str>", 2),
                                                                        ("KeyError: [red]<str>[/red]", 1)]
