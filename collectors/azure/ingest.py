"""`opsview ingest --provider azure`: App Insights query output and Functions host logs -> ingest events.

Accepted inputs (detected from the first non-blank character, never from the file name):

- JSON from `az monitor log-analytics query` (a list of row objects), `az monitor app-insights query`
  or a Logs Query REST body (`{"tables": [{"columns": [...], "rows": [[...]]}]}`), a diagnostic-settings
  export (`{"records": [...]}`, also one such object per line), or JSON Lines of row objects. Rows of
  `AppRequests` (`TimeGenerated, AppRoleName, OperationName, Success, ResultCode, DurationMs, ItemCount`)
  and `AppTraces` (`Message, AppRoleInstance`) are read, as are the classic `requests` / `traces`
  namings (`timestamp, cloud_RoleName, operation_Name, success, resultCode, duration, itemCount`,
  `message, cloud_RoleInstance`). A JSON document is loaded whole (query output is capped by the service).
- The text the Functions host prints (`func start`, the portal's log stream, `func azure functionapp
  logstream`): `Executing 'Functions.X' (Reason=..., Id=...)`, `Executed 'Functions.X' (Succeeded|Failed,
  Id=..., Duration=Nms)`, `Timeout value of ... exceeded by function 'Functions.X' (Id: '...')` and
  `Host started (Nms)`. Read line by line, in memory bounded by the invocations still open.

Names: functions are named as the host names them (`Functions.X` -> `X`); rows that carry the app
(`AppRoleName`) give `app/X`, as the collector does. Sampling: a row with `ItemCount = n` stands for n
requests: one event of weight n (memory and time per row, not per request; percentiles weighted). A 429
is a throttle, not an invocation. Row inputs cannot tell timeouts apart (`timeouts` null); host text can.
Memory is never reported by Azure (null).

Error records (`error_rows`, the collector's rule): `AppExceptions` / `exceptions` rows (weight `ItemCount`)
and `AppTraces` / `traces` at severity Error or Critical, as `app/X` (or `app/*` outside a function); in host
text, the host's `Exception while executing function: Functions.X. <message>` lines.

Cold starts: a host start belongs to the app; it is attributed to the first request of that app at or
after it (host text: the next `Executing` line), the collector's rule. A start no request follows is not
counted. Rows: "Host started" and "Host initialized" of one instance within two minutes are one start.

Counting: every JSON row (or text line) is one record read. Skipped = invalid JSON (nesting too deep
included), a table that is not a table, or a request/host line or row lacking a field we need or holding a
number no platform reports (NaN, Infinity, negative, 400 digits: `opsview.untrusted`). Other rows and lines
(other tables, app output) are read and ignored.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from opsview.collectors.azure.error_rows import (
    error_function,
    exception_error,
    exception_sample,
    named,
    trace_is_error,
)
from opsview.collectors.azure.rows import function_name
from opsview.ingest import IngestStats, InputFormat
from opsview.logevents import ColdStartEvent, ErrorEvent, InvocationEvent, LogEvent
from opsview.untrusted import BadValue, decimal, in_range, json_loads, number, utc_time

log = logging.getLogger(__name__)

_MAX_OPEN = 100_000  # Executing lines waiting for their Executed line (older hosts print no Duration)
_SAME_START = timedelta(minutes=2)
_MAX_ITEM_COUNT = 10_000  # a sampled row stands for at most this many requests; more is a broken row

FORMAT = InputFormat(
    "no Azure App Insights rows or Functions host lines found (expected the JSON of `az monitor app-insights query` "
    "or `az monitor log-analytics query` with AppRequests rows, a diagnostic-settings export, or the Functions "
    "host's log text)",
    re.compile(r'"(?:AppRoleName|OperationName|cloud_RoleName|operation_Name|AppRequests)"|Executed \'Functions\.'),
)

_FIELDS = {
    "time": ("TimeGenerated", "timestamp", "time"),
    "app": ("AppRoleName", "cloud_RoleName"),
    "instance": ("AppRoleInstance", "cloud_RoleInstance"),
    "operation": ("OperationName", "operation_Name", "Name", "name"),
    "success": ("Success", "success"),
    "result": ("ResultCode", "resultCode"),
    "duration": ("DurationMs", "duration"),
    "items": ("ItemCount", "itemCount"),
    "message": ("Message", "message"),
    "type": ("Type", "itemType", "$table"),
    "severity": ("SeverityLevel", "severityLevel"),
    "operation_id": ("OperationId", "operation_Id"),
}


def _field(row: Mapping[str, Any], name: str) -> str | int | float | bool | None:
    """The first of the field's columns that holds a scalar. An array or object is no field value: it is
    absent (and never turned into text: `str` of a value nested hundreds deep could exceed the recursion limit)."""
    for column in _FIELDS[name]:
        value = row.get(column)
        if isinstance(value, str | int | float | bool) and value != "":
            return value
    return None


def _parse_time(value: Any) -> datetime | None:
    """Kusto's UTC times (7 fractional digits, maybe no zone); unreadable or out of range: unknown."""
    return utc_time(value, naive_is_utc=True) if isinstance(value, str) else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"true", "1"}:
            return True
        if lowered in {"false", "0"}:
            return False
    if isinstance(value, int | float):
        return bool(value)
    return None


# --- rows (JSON) ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Request:
    at: datetime | None
    app: str | None
    function: str
    event: InvocationEvent  # of weight ItemCount


@dataclass(frozen=True, slots=True)
class _HostStart:
    at: datetime | None
    app: str | None
    instance: str | None
    init_ms: float | None


_HOST_STARTED = re.compile(r"^\s*Host started(?:\s*\((?P<ms>\d+(?:\.\d+)?)\s*ms\))?", re.IGNORECASE)
_HOST_INITIALIZED = re.compile(r"^\s*Host initialized", re.IGNORECASE)


def _kind(row: Mapping[str, Any]) -> str | None:
    declared = str(_field(row, "type") or "").lower()
    if declared in {"apprequests", "requests", "request"}:
        return "request"
    if declared in {"apptraces", "traces", "trace"}:
        return "trace"
    if declared in {"appexceptions", "exceptions", "exception"}:
        return "exception"
    if declared:
        return None
    if any(isinstance(row.get(c), str) for c in ("ExceptionType", "ProblemId", "OuterMessage", "problemId")):
        return "exception"
    if _field(row, "duration") is not None and _field(row, "success") is not None:
        return "request"
    if _field(row, "message") is not None:
        return "trace"
    return None


def _error(row: Mapping[str, Any], kind: str, at: datetime | None, app: str | None, stats: IngestStats
           ) -> ErrorEvent | None:
    """An exception row, or a trace at Error or above, as an error record (`error_rows`' rule)."""
    try:
        items = number(_field(row, "items"), "ItemCount", _MAX_ITEM_COUNT)
    except BadValue:
        stats.lines_skipped += 1
        return None
    weight = 1 if items is None else int(items)
    if weight < 1:
        stats.lines_skipped += 1
        return None
    operation = _field(row, "operation")
    request_id = _field(row, "operation_id")
    if kind == "exception":
        error_type, message = exception_error(row)
        sample = exception_sample(row)
    else:
        text = str(_field(row, "message") or "")
        error_type, message = named(None, text)
        sample = text
    return ErrorEvent(function=error_function(app, str(operation) if operation is not None else None), at=at,
                      error_type=error_type, message=message, request_id=str(request_id) if request_id else None,
                      sample=sample, weight=weight)


def _row(row: Any, stats: IngestStats) -> _Request | _HostStart | ErrorEvent | None:
    """One row -> a request, a host start or an error record; None for rows we read and ignore."""
    if not isinstance(row, Mapping):
        stats.lines_skipped += 1
        return None
    kind = _kind(row)
    at = _parse_time(_field(row, "time"))
    app = _field(row, "app")
    app = str(app) if app is not None else None
    if kind == "exception" or (kind == "trace" and trace_is_error(str(_field(row, "message") or ""),
                                                                  _field(row, "severity"))):
        return _error(row, kind, at, app, stats)
    if kind == "trace":
        message = str(_field(row, "message") or "")
        started = _HOST_STARTED.match(message)
        if started is None and not _HOST_INITIALIZED.match(message):
            return None
        ms = started.group("ms") if started else None
        instance = _field(row, "instance")
        try:
            init_ms = decimal(ms, "Host started") if ms else None
        except BadValue:
            stats.lines_skipped += 1
            return None
        return _HostStart(at, app, str(instance) if instance is not None else None, init_ms)
    if kind != "request":
        return None
    operation = _field(row, "operation")
    success = _bool(_field(row, "success"))
    try:
        duration = number(_field(row, "duration"), "DurationMs")
        items = number(_field(row, "items"), "ItemCount", _MAX_ITEM_COUNT)
    except BadValue:
        stats.lines_skipped += 1
        return None
    weight = 1 if items is None else int(items)
    if not operation or success is None or weight < 1:
        stats.lines_skipped += 1
        return None
    name = function_name(str(operation))
    if not name:  # `Functions.` alone names nothing
        stats.lines_skipped += 1
        return None
    full = f"{app}/{name}" if app else name
    throttled = str(_field(row, "result") or "").strip() == "429"
    event = InvocationEvent(function=full, at=at, duration_ms=None if throttled else duration,
                            error=(success is False) and not throttled, throttled=throttled, timeout=None,
                            weight=weight)
    return _Request(at, app, full, event)


_NOT_A_TABLE = object()


def _rows_of(document: Any) -> Iterator[Any]:
    """Row objects out of any of the JSON shapes the az CLI, the REST API and exports print."""
    if isinstance(document, list):
        yield from document
        return
    if not isinstance(document, Mapping):
        yield document
        return
    if "tables" in document and isinstance(document["tables"], list):
        for table in document["tables"]:
            columns = table.get("columns") if isinstance(table, Mapping) else None
            rows = table.get("rows") if isinstance(table, Mapping) else None
            if not isinstance(columns, list) or not isinstance(rows, list | None):
                yield _NOT_A_TABLE  # one record read, and skipped: `_row` takes it for a row that is no object
                continue
            # a column is named by text (a name that is not would make an unhashable or meaningless key)
            names = [n if isinstance(n := c.get("name") if isinstance(c, Mapping) else c, str) else f"#{i}"
                     for i, c in enumerate(columns)]
            table_name = table.get("name") if isinstance(table.get("name"), str) else ""
            for values in rows or []:
                if not isinstance(values, list):
                    yield values
                    continue
                row = dict(zip(names, values, strict=False))
                if table_name and table_name != "PrimaryResult":
                    row.setdefault("$table", table_name)
                yield row
        return
    if "records" in document and isinstance(document["records"], list):
        yield from document["records"]
        return
    if "value" in document and isinstance(document["value"], list):
        yield from document["value"]
        return
    yield document


def _attribute(items: Iterable[_Request | _HostStart | ErrorEvent]) -> Iterator[LogEvent]:
    """Requests as invocations; host starts as cold starts of the app's next request (module docstring)."""
    yield from (i for i in items if isinstance(i, ErrorEvent))
    requests = [i for i in items if isinstance(i, _Request)]
    starts = [i for i in items if isinstance(i, _HostStart)]
    last_by_instance: dict[tuple[str | None, str | None], int] = {}
    kept: list[_HostStart] = []
    for s in sorted(starts, key=lambda s: (s.at is None, s.at or datetime.min.replace(tzinfo=UTC))):
        if s.at is not None and s.instance is not None:
            previous = last_by_instance.get((s.app, s.instance))
            if previous is not None and (first := kept[previous]).at is not None and s.at - first.at <= _SAME_START:
                # "Host initialized" then "Host started": one start, timed by "Host started (Nms)"
                if first.init_ms is None and s.init_ms is not None:
                    kept[previous] = replace(first, init_ms=s.init_ms)
                continue
            last_by_instance[(s.app, s.instance)] = len(kept)
        kept.append(s)
    by_app: dict[str | None, list[_Request]] = {}
    for r in requests:
        if r.at is not None:
            by_app.setdefault(r.app, []).append(r)
    for app_requests in by_app.values():
        app_requests.sort(key=lambda r: r.at or datetime.min.replace(tzinfo=UTC))
    for s in kept:
        if s.at is None:
            continue
        target = next((r for r in by_app.get(s.app, []) if r.at is not None and r.at >= s.at), None)
        if target is not None:
            yield ColdStartEvent(function=target.function, at=target.at, init_ms=s.init_ms)
    for r in requests:
        yield r.event


def _read_json(text: str, stats: IngestStats) -> Iterator[LogEvent]:
    items: list[_Request | _HostStart | ErrorEvent] = []
    try:
        documents: list[Any] = [json_loads(text)]
    except json.JSONDecodeError:
        documents = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                documents.append(json_loads(line))
            except json.JSONDecodeError:
                stats.lines_read += 1
                stats.lines_skipped += 1
    for document in documents:
        for row in _rows_of(document):
            stats.lines_read += 1
            item = _row(row, stats)
            if item is not None:
                items.append(item)
    yield from _attribute(items)


# --- host text ---------------------------------------------------------------------------------------

_STAMP = re.compile(
    r"^\s*\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}(?: [AP]M)?)\]?"
)
_EXECUTING = re.compile(r"Executing '(?P<fn>[^']+)' \((?P<body>[^)]*)\)")
_EXECUTED = re.compile(r"Executed '(?P<fn>[^']+)' \((?P<outcome>Succeeded|Failed)(?P<body>[^)]*)\)")
_TIMEOUT = re.compile(r"Timeout value of \S+ exceeded by function '(?P<fn>[^']+)' \(Id: '(?P<id>[^']+)'\)")
_ID = re.compile(r"\bId=(?P<id>[0-9A-Za-z-]+)")
_DURATION = re.compile(r"\bDuration=(?P<ms>\d+(?:\.\d+)?)\s*ms")
_HOST_STARTED_LINE = re.compile(r"\bHost started \((?P<ms>\d+(?:\.\d+)?)\s*ms\)")
_EXCEPTION_LINE = re.compile(r"Exception while executing function: (?P<fn>[^\s]+?)\.?(?:\s+(?P<rest>.*?))?\s*$")


def _line_time(line: str) -> datetime | None:
    match = _STAMP.match(line)
    if match is None:
        return None
    ts = match.group("ts")
    if "/" in ts:  # Core Tools' `[5/1/2024 10:00:00 AM]`, taken as UTC
        for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"):
            try:
                return in_range(datetime.strptime(ts, fmt).replace(tzinfo=UTC))
            except ValueError:
                continue
        return None
    return _parse_time(ts)


def _read_text(lines: Iterable[str], stats: IngestStats) -> Iterator[LogEvent]:
    open_runs: OrderedDict[str, datetime | None] = OrderedDict()
    timed_out: set[str] = set()
    pending_start: tuple[datetime | None, float | None] | None = None
    for line in lines:
        stats.lines_read += 1
        if "Exception while executing function:" in line:
            failed = _EXCEPTION_LINE.search(line)
            if failed is not None:
                error_type, message = named(None, failed.group("rest") or failed.group(0))
                yield ErrorEvent(function=function_name(failed.group("fn")), at=_line_time(line), error_type=error_type,
                                 message=message, sample=line.strip())
            continue
        if "Host started" in line:
            started = _HOST_STARTED_LINE.search(line)
            if started is None:
                stats.lines_skipped += 1
                continue
            try:
                pending_start = (_line_time(line), decimal(started.group("ms"), "Host started"))
            except BadValue:
                stats.lines_skipped += 1
            continue
        if "Executing '" in line:
            match = _EXECUTING.search(line)
            if match is None:
                stats.lines_skipped += 1
                continue
            at = _line_time(line)
            run = _ID.search(match.group("body"))
            if run is not None:
                open_runs[run.group("id")] = at
                if len(open_runs) > _MAX_OPEN:
                    open_runs.popitem(last=False)
            if pending_start is not None:
                yield ColdStartEvent(function=function_name(match.group("fn")), at=at or pending_start[0],
                                     init_ms=pending_start[1])
                pending_start = None
            continue
        if "Timeout value of" in line:
            timeout = _TIMEOUT.search(line)
            if timeout is None:
                stats.lines_skipped += 1
                continue
            timed_out.add(timeout.group("id"))
            continue
        if "Executed '" in line:
            match = _EXECUTED.search(line)
            if match is None:
                stats.lines_skipped += 1
                continue
            at = _line_time(line)
            body = match.group("body")
            run = _ID.search(body)
            run_id = run.group("id") if run else None
            began = open_runs.pop(run_id, None) if run_id else None
            duration_match = _DURATION.search(body)
            duration: float | None
            if duration_match is not None:
                try:
                    duration = decimal(duration_match.group("ms"), "Duration")
                except BadValue:
                    stats.lines_skipped += 1
                    continue
            elif began is not None and at is not None:
                duration = (at - began).total_seconds() * 1000.0  # older hosts print no Duration
                if duration < 0:  # the lines' clocks disagree: no duration rather than a negative one
                    duration = None
            else:
                duration = None
            is_timeout = run_id is not None and run_id in timed_out
            if is_timeout and run_id is not None:
                timed_out.discard(run_id)
            yield InvocationEvent(function=function_name(match.group("fn")), at=at, duration_ms=duration,
                                  error=match.group("outcome") == "Failed", timeout=is_timeout)


# --- entry point ---------------------------------------------------------------------------------------


def read(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[LogEvent]:
    """The `IngestReader` for Azure: JSON rows or host text, detected from the first non-blank character."""
    stats.errors_read = True
    first = ""
    buffered: list[str] = []
    for line in stream:
        buffered.append(line)
        if line.strip():
            first = line.strip()
            break
    # `[2024-05-01T10:00:00Z] Executing ...` (func start) also opens with a bracket: JSON follows `[` with
    # an object, an array, a string or the end of the line, never a digit
    if first.startswith("{") or (first.startswith("[") and first[1:].lstrip()[:1] in {"", "{", "[", '"', "]"}):
        text = "".join(buffered) + stream.read()
        yield from _read_json(text, stats)
        return

    def lines() -> Iterator[str]:
        yield from buffered
        yield from stream

    yield from _read_text(lines(), stats)
