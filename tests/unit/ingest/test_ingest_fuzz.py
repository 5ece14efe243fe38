"""Fuzzing the three `opsview ingest` readers: generated records with hostile numbers, times, nesting and text.

For every generated input, whatever it holds:
- no exception escapes the reader or the accumulator;
- every record is accounted for: each generated record names its own function, so it either shows up as
  that function (counted) or in `lines_skipped` (never lost, never both);
- the summary is strict JSON (`allow_nan=False`), every number in it and in the minute samples finite, and
  every integer within the store's 64-bit columns;
- the bulk path (no `--store`) and the per-minute path give the same summary.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsview.collectors.aws.ingest import read as read_aws
from opsview.collectors.azure.ingest import read as read_azure
from opsview.collectors.gcp.ingest import read as read_gcp
from opsview.ingest import Ingest, IngestResult, IngestStats
from opsview.logevents import LogEvent

Reader = Callable[[TextIO, str, str | None, IngestStats], Iterator[LogEvent]]
FUZZ = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIGINT = 2**63 - 1
MARKS = ("REPORT", "INIT_", "Task timed", "platform.", "Invoke Error", "Unhandled exception", "Execut", "Host ",
         "Timeout value")

# Numbers as they may be written in a log: fine ones, and every kind that broke a reader once.
number_text = st.one_of(
    st.sampled_from(["0", "1", "12.5", "2599.4", "0.001", "900000", "NaN", "Infinity", "-Infinity", "1e400",
                     "-1e400", "-1", "-0.0", "1" * 400, "9" * 20, "9" * 15, "1e-400", "1e308", "10000000000.5",
                     "1.2.3", "", "0x10", "1_000"]),
    st.floats().map(repr),
    st.integers(-(10**30), 10**30).map(str),
)
# in JSON text: its own NaN/Infinity literals (Python's json reads them), never Python's `inf`/`nan` spelling
json_number = number_text.filter(
    lambda t: t not in ("", "1.2.3", "0x10", "1_000") and t.strip("-") not in ("inf", "nan"))
time_text = st.one_of(
    st.sampled_from(["2024-05-01T10:00:00.000Z", "2024-05-01T10:00:00.123456789Z", "2024-05-01T10:00:00+14:00",
                     "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00Z",
                     "1969-12-31T23:59:59Z", "2024-13-45T99:99:99Z", "2024-05-01T10:00:00", "", "yesterday"]),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
)
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
app_line = text.filter(lambda t: not any(m in t for m in MARKS) and "/aws/lambda/" not in t)
# A record wrapped 5,000 levels deep cannot be decoded (past the recursion limit): it must be skipped. (A record
# wrapped a few levels deep decodes to an object that is no record: read and ignored, as other output is.)
deep = st.sampled_from([0, 0, 5000])


def nested(depth: int, inner: str) -> str:
    return '{"a":' * depth + inner + "}" * depth


def run(reader: Reader, data: str, function: str | None = None, *, minutes: bool) -> IngestResult:
    acc = Ingest("fuzz", None, minutes=minutes)
    acc.add_all(reader(io.StringIO(data, newline=""), "fuzz.log", function, acc.stats))
    return acc.result()


def assert_sound(reader: Reader, data: str, records: int | None, function: str | None = None) -> IngestResult:
    result = run(reader, data, function, minutes=True)
    summary = json.dumps(result.to_json(), allow_nan=False)  # raises on NaN/Infinity
    numbers = _numbers(json.loads(summary))
    assert all(math.isfinite(n) and abs(n) <= BIGINT for n in numbers)
    for sample in result.samples:
        values = [getattr(sample, f) for f in ("invocations", "errors", "duration_avg_ms", "duration_p50_ms",
                                               "duration_p95_ms", "duration_p99_ms", "duration_max_ms",
                                               "memory_used_max_mb", "billed_ms")]
        assert all(v is None or (math.isfinite(v) and abs(v) <= BIGINT) for v in values), sample
    for info in result.infos:
        assert info.memory_mb is None or 0 <= info.memory_mb <= BIGINT
    stats = result.stats
    assert 0 <= stats.lines_skipped <= stats.lines_read
    if records is not None:
        counted = len(result.functions) if function is None else sum(
            f.measures.invocations or 0 for f in result.functions)
        assert counted + stats.lines_skipped == records, (counted, stats.lines_skipped, records)
    bulk = run(reader, data, function, minutes=False).to_json()
    assert bulk == result.to_json(), "the bulk path and the per-minute path disagree"
    return result


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return [value] if isinstance(value, int | float) and not isinstance(value, bool) else []


# --- AWS ------------------------------------------------------------------------------------------------


@st.composite
def aws_report_line(draw: st.DrawFn, i: int) -> str:
    duration, billed, size, used = (draw(number_text) for _ in range(4))
    init = draw(st.one_of(st.just(""), number_text.map(lambda n: f"\tInit Duration: {n} ms")))
    sep = draw(st.sampled_from(["\t", " ", "\\t"]))
    return (f"{draw(time_text)} /aws/lambda/fn-{i}\tREPORT RequestId: {draw(st.uuids())}{sep}Duration: {duration} ms"
            f"{sep}Billed Duration: {billed} ms{sep}Memory Size: {size} MB{sep}Max Memory Used: {used} MB{init}")


@given(st.data(), st.integers(1, 12), st.sampled_from(["\n", "\r\n", "\r"]))
@FUZZ
def test_aws_text_every_report_is_counted_or_skipped(data: st.DataObject, n: int, newline: str) -> None:
    lines = []
    for i in range(n):
        lines += data.draw(st.lists(app_line, max_size=2))
        lines.append(data.draw(aws_report_line(i)))
    assert_sound(read_aws, newline.join(lines) + newline, n)


@given(st.data(), st.integers(1, 40))
@FUZZ
def test_aws_text_bulk_path_counts_every_report(data: st.DataObject, n: int) -> None:
    """One function (`--function`): the bulk readers take the chunk; hostile numbers leave it to the lines."""
    lines = [data.draw(aws_report_line(i)).split("\t", 1)[1] for i in range(n)]
    assert_sound(read_aws, "\n".join(lines) + "\n", n, function="fn")


@st.composite
def aws_event(draw: st.DrawFn, i: int) -> str:
    """One CloudWatch event (raw JSON text, so NaN / 1e400 / 400 digits are written as such)."""
    if draw(st.booleans()):
        metrics = ", ".join(f'"{k}": {draw(json_number)}' for k in
                            ("durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB", "initDurationMs"))
        record = ('{"type": "platform.report", "time": ' + json.dumps(draw(time_text)) + ', "record": '
                  '{"requestId": "r' + str(i) + '", "metrics": {' + metrics + "}}}")
        message = json.dumps(nested(draw(deep), record))
    else:
        message = json.dumps(draw(aws_report_line(i)).split("\t", 1)[1])
    return ('{"timestamp": ' + draw(json_number) + ', "logGroupName": "/aws/lambda/fn-' + str(i) + '", "message": '
            + message + "}")


@given(st.data(), st.integers(1, 10), st.booleans())
@FUZZ
def test_aws_json_every_event_is_counted_or_skipped(data: st.DataObject, n: int, lines: bool) -> None:
    events = [data.draw(aws_event(i)) for i in range(n)]
    document = "\n".join(events) + "\n" if lines else '{"events": [\n' + ",\n".join(events) + "\n]}"
    assert_sound(read_aws, document, n)


# --- Azure ----------------------------------------------------------------------------------------------


@st.composite
def azure_row(draw: st.DrawFn, i: int, depth: st.SearchStrategy[int]) -> str:
    fields = {
        "TimeGenerated": json.dumps(draw(time_text)),
        "AppRoleName": json.dumps(draw(text)),
        "OperationName": json.dumps(f"Functions.fn{i}"),
        "Success": draw(st.sampled_from(["true", "false", '"True"', '"0"', "1", "null", '"maybe"'])),
        "ResultCode": draw(st.sampled_from(['"200"', '"500"', '"429"', "429", "null"])),
        "DurationMs": draw(st.one_of(json_number, json_number.map(json.dumps))),
        "Type": '"AppRequests"',
    }
    if draw(st.booleans()):
        fields["ItemCount"] = draw(json_number)
    return nested(draw(depth), "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")


@given(st.data(), st.integers(1, 10), st.sampled_from(["list", "lines", "tables"]))
@FUZZ
def test_azure_rows_every_row_is_counted_or_skipped(data: st.DataObject, n: int, shape: str) -> None:
    # one JSON document that cannot be decoded is one skipped record: nest rows only one per line
    rows = [data.draw(azure_row(i, deep if shape == "lines" else st.just(0))) for i in range(n)]
    if shape == "list":
        document = "[" + ", ".join(rows) + "]"
    elif shape == "lines":
        document = "\n".join(rows) + "\n"
    else:  # a Logs Query REST body: rows as arrays under named columns
        decoded = []
        for row in rows:
            try:
                decoded.append(json.loads(row))
            except (ValueError, RecursionError):
                decoded.append(None)
        rows_json = [json.dumps(list(r.values())) if isinstance(r, dict) and "Type" in r else "5" for r in decoded]
        columns = json.dumps([{"name": c} for c in ("TimeGenerated", "AppRoleName", "OperationName", "Success",
                                                    "ResultCode", "DurationMs", "Type", "ItemCount")])
        document = ('{"tables": [{"name": "PrimaryResult", "columns": ' + columns + ', "rows": ['
                    + ", ".join(rows_json) + "]}]}")
    assert_sound(read_azure, document, n)


@given(st.data(), st.integers(1, 10))
@FUZZ
def test_azure_host_text_every_executed_line_is_counted_or_skipped(data: st.DataObject, n: int) -> None:
    lines = []
    for i in range(n):
        # output whose first line opens like JSON makes the file JSON (the reader's documented detection)
        lines += data.draw(st.lists(app_line.filter(lambda t: not t.strip().startswith(("{", "["))), max_size=2))
        stamp = data.draw(st.sampled_from(["2024-05-01T10:00:00Z", "0001-01-01T00:00:00+14:00", "1/1/0001 12:00:00 AM",
                                           "5/1/2024 10:00:00 AM", "[2024-05-01T10:00:00.1234567Z]"]))
        outcome = data.draw(st.sampled_from(["Succeeded", "Failed"]))
        lines.append(f"{stamp} Executed 'Functions.fn{i}' ({outcome}, Id={data.draw(st.uuids())}, "
                     f"Duration={data.draw(number_text)}ms)")
    result = assert_sound(read_azure, "\n".join(lines) + "\n", None)
    assert len(result.functions) + result.stats.lines_skipped == n


# --- GCP ------------------------------------------------------------------------------------------------


@st.composite
def gcp_entry(draw: st.DrawFn, i: int, depth: st.SearchStrategy[int]) -> str:
    stamp = json.dumps(draw(time_text))
    if draw(st.booleans()):
        resource = '{"type": "cloud_function", "labels": {"function_name": "fn' + str(i) + '", "region": "r", ' \
                   '"project_id": "p"}}'
        took = draw(number_text)
        payload = json.dumps(f"Function execution took {took} ms, finished with status: 'ok'")
        body = '"resource": ' + resource + ', "timestamp": ' + stamp + ', "textPayload": ' + payload
    else:
        resource = '{"type": "cloud_run_revision", "labels": {"service_name": "fn' + str(i) + '", "location": "r", ' \
                   '"project_id": "p"}}'
        latency = draw(st.one_of(
            number_text.map(lambda n: json.dumps(n + "s")),
            st.tuples(json_number, json_number).map(lambda sn: '{"seconds": ' + sn[0] + ', "nanos": ' + sn[1] + "}"),
        ))
        status = draw(st.sampled_from(["200", "503", "429", '"200"', '"abc"', "9" * 40]))
        body = ('"resource": ' + resource + ', "timestamp": ' + stamp + ', "httpRequest": {"status": ' + status
                + ', "latency": ' + latency + "}")
    return nested(draw(depth), "{" + body + "}")


@given(st.data(), st.integers(1, 10), st.sampled_from(["list", "lines", "entries"]))
@FUZZ
def test_gcp_every_entry_is_counted_or_skipped(data: st.DataObject, n: int, shape: str) -> None:
    # the reader goes on after an undecodable value at the next line: nest entries only one per line
    entries = [data.draw(gcp_entry(i, st.just(0) if shape == "entries" else deep)) for i in range(n)]
    if shape == "list":
        document = "[\n" + ",\n".join(entries) + "\n]"
    elif shape == "lines":
        document = "\n".join(entries) + "\n"
    else:
        document = '{"entries": [' + ", ".join(entries) + "]}"
    assert_sound(read_gcp, document, n)


# --- anything at all ------------------------------------------------------------------------------------

garbage = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300).map(lambda b: b.decode("utf-8", errors="replace")),
    st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                 lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=20).map(lambda v: json.dumps(v)),
    st.tuples(st.sampled_from("[{"), st.integers(1, 3000)).map(lambda c: c[0] * c[1]),
)


@given(garbage, st.sampled_from([read_aws, read_azure, read_gcp]))
@settings(max_examples=150, deadline=None)
def test_any_text_at_all_is_read_without_an_exception(data: str, reader: Reader) -> None:
    assert_sound(reader, data, None)
