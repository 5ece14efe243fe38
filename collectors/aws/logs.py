"""Parse the platform records AWS Lambda writes into CloudWatch Logs (pure: no I/O, no SDK).

Understands both log formats:

- text: `REPORT RequestId: ... Duration: ... Billed Duration: ... [Init Duration | Restore Duration ...]
  [Status: timeout|error] [Error Type: ...] [XRAY TraceId: ...]`, `INIT_REPORT Init Duration: ... Phase: ...
  Status: error|timeout`, `Task timed out after N seconds`, and the runtimes' unhandled-error markers;
- JSON (`LoggingConfig.LogFormat = JSON`, Telemetry API): `platform.report` / `platform.initReport` records.

Fields are found by name, not position: real exports separate them with tabs, runs of spaces or even a
literal backslash-t (forwarders that double-escape), put `Init Duration` first or last, and prefix the
line with a timestamp, a stream name or a console's local time.

Numbers and times go through `opsview.untrusted`: a record with a duration or memory size no platform
reports (400 digits, NaN, Infinity, negative) is a `MalformedRecord`, and a time that is out of range or
has no zone is unknown (`None`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from opsview.untrusted import MAX_DURATION_MS, BadValue, decimal, json_loads, number, utc_time, whole

REPORT_MARK: Final = "REPORT RequestId:"
INIT_REPORT_MARK: Final = "INIT_REPORT"
TIMEOUT_MARK: Final = "Task timed out after"
# Node.js runtimes log "ERROR\tInvoke Error", Python ones "LAMBDA_WARNING: Unhandled exception" for a failed invoke.
ERROR_MARKS: Final = ("\tInvoke Error", "ERROR Invoke Error", "Unhandled exception")

_FIELD = re.compile(
    r"(Billed Restore Duration|Restore Duration|Init Duration|Billed Duration|Max Memory Used|Memory Size|Duration)"
    r":\s*([0-9]+(?:\.[0-9]+)?)"
)
_STATUS = re.compile(r"Status:\s*([A-Za-z]+)")
_ERROR_TYPE = re.compile(r"Error Type:\s*([A-Za-z0-9_.:-]+)")
_PHASE = re.compile(r"Phase:\s*([A-Za-z]+)")
_REQUEST_ID = re.compile(r"RequestId:\s*([^\s\\]+)")
_TIMEOUT = re.compile(r"Task timed out after\s+([0-9]+(?:\.[0-9]+)?)\s*seconds")
# "2024-05-01T10:00:00.123Z" or "+00:00" offsets; naive local times (console exports) are not trusted.
_ISO = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d)")
_UUIDISH = re.compile(r"\b([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
_LOG_GROUP = re.compile(r"/aws/lambda/([A-Za-z0-9_.-]+)")


@dataclass(frozen=True, slots=True)
class Report:
    """One finished invocation (`REPORT` line or `platform.report` record). `None` = not in the record."""

    request_id: str | None
    duration_ms: float | None
    billed_ms: float | None = None
    memory_size_mb: int | None = None
    max_memory_used_mb: int | None = None
    init_ms: float | None = None
    restore_ms: float | None = None
    billed_restore_ms: float | None = None
    status: str | None = None  # success | error | timeout | ... (None: older records do not say)
    error_type: str | None = None

    @property
    def cold_start(self) -> bool:
        """A new execution environment served this invocation: an init, or a SnapStart restore."""
        return self.init_ms is not None or self.restore_ms is not None

    @property
    def startup_ms(self) -> float | None:
        return self.init_ms if self.init_ms is not None else self.restore_ms

    @property
    def timed_out(self) -> bool:
        return self.status == "timeout"

    @property
    def failed(self) -> bool:
        return self.status is not None and self.status not in ("success", "timeout")


@dataclass(frozen=True, slots=True)
class FailedInit:
    """`INIT_REPORT ... Status: error|timeout` / `platform.initReport` with a failed status."""

    init_ms: float | None
    status: str
    phase: str | None = None
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class Timeout:
    """`Task timed out after N seconds` (older runtimes write it beside a REPORT without a status)."""

    request_id: str | None
    seconds: float | None


@dataclass(frozen=True, slots=True)
class InvokeError:
    """A runtime's unhandled-error line for one request."""

    request_id: str | None


LogRecord = Report | FailedInit | Timeout | InvokeError


class MalformedRecord(ValueError):  # noqa: N818 (reads as what it is)
    """The line is a platform record but its fields cannot be read."""


def _ms(text: str, what: str) -> float:
    """Milliseconds as the regex captured them (digits and a dot): refused past `MAX_DURATION_MS`."""
    try:
        return decimal(text, what)
    except BadValue as exc:
        raise MalformedRecord(str(exc)) from None


def _mb(text: str | float, what: str) -> int:
    try:
        found = whole(text, what)
    except BadValue as exc:
        raise MalformedRecord(str(exc)) from None
    assert found is not None
    return found


# The layout Lambda writes today, read with one match; any other order or spacing takes the general path.
_CANONICAL = re.compile(
    r"REPORT RequestId: ([^\s\\]+)\s+Duration: ([0-9]+(?:\.[0-9]+)?) ms\s+Billed Duration: ([0-9]+(?:\.[0-9]+)?) ms\s+"
    r"Memory Size: ([0-9]+) MB\s+Max Memory Used: ([0-9]+) MB"
)


def parse_report_text(text: str) -> Report:
    """Parse the text after (and including) the `REPORT` marker."""
    fast = _CANONICAL.match(text)
    if fast is not None:
        tail = text[fast.end():]
        plain = "Duration" not in tail and "Status" not in tail
        init = _FIELD.search(tail) if not plain and "Init Duration" in tail and "Restore" not in tail else None
        if plain or (init is not None and "Status" not in tail):
            return Report(fast.group(1), _ms(fast.group(2), "Duration"), _ms(fast.group(3), "Billed Duration"),
                          _mb(fast.group(4), "Memory Size"), _mb(fast.group(5), "Max Memory Used"),
                          init_ms=None if init is None else _ms(init.group(2), "Init Duration"))
    found: dict[str, float] = {}
    for match in _FIELD.finditer(text):
        name = match.group(1)
        if name not in found:
            found[name] = _mb(match.group(2), name) if name.startswith("M") else _ms(match.group(2), name)
    duration = found.get("Duration")
    if duration is None:
        raise MalformedRecord("REPORT line without a Duration")
    req = _REQUEST_ID.search(text)
    status = _STATUS.search(text)
    error_type = _ERROR_TYPE.search(text)
    memory = found.get("Memory Size")
    used = found.get("Max Memory Used")
    return Report(
        request_id=req.group(1) if req else None,
        duration_ms=duration,
        billed_ms=found.get("Billed Duration"),
        memory_size_mb=None if memory is None else int(memory),  # whole already (`_mb`)
        max_memory_used_mb=None if used is None else int(used),
        init_ms=found.get("Init Duration"),
        restore_ms=found.get("Restore Duration"),
        billed_restore_ms=found.get("Billed Restore Duration"),
        status=status.group(1).lower() if status else None,
        error_type=error_type.group(1) if error_type else None,
    )


def parse_text(line: str) -> LogRecord | None:
    """One text log event (may carry a prefix, may span lines). `None` for anything but a platform record.

    Raises `MalformedRecord` when the line is a platform record whose fields do not parse.
    """
    at = line.find(REPORT_MARK)
    if at >= 0:
        return parse_report_text(line[at:])
    at = line.find(INIT_REPORT_MARK)
    if at >= 0:
        rest = line[at:]
        status = _STATUS.search(rest)
        init = _FIELD.search(rest)
        if init is None and status is None:
            raise MalformedRecord("INIT_REPORT line without Init Duration or Status")
        state = status.group(1).lower() if status else "success"
        if state == "success":
            return None  # a successful init is reported by the REPORT that follows
        phase = _PHASE.search(rest)
        error_type = _ERROR_TYPE.search(rest)
        return FailedInit(
            init_ms=_ms(init.group(2), "Init Duration") if init and init.group(1) == "Init Duration" else None,
            status=state,
            phase=phase.group(1).lower() if phase else None,
            error_type=error_type.group(1) if error_type else None,
        )
    if TIMEOUT_MARK in line:
        match = _TIMEOUT.search(line)
        req = _UUIDISH.search(line)
        return Timeout(req.group(1) if req else None,
                       _ms(match.group(1), "Task timed out after") if match else None)
    for mark in ERROR_MARKS:
        if mark in line:
            req = _UUIDISH.search(line)
            return InvokeError(req.group(1) if req else None)
    if "platform.report" in line or "platform.initReport" in line:
        start = line.find("{")
        if start < 0:
            raise MalformedRecord("platform record without a JSON object")
        try:
            obj = json_loads(line[start:])
        except json.JSONDecodeError as exc:
            raise MalformedRecord(f"platform record is not valid JSON ({exc.msg})") from None
        return parse_json(obj) if isinstance(obj, Mapping) else None
    return None


def _opt_float(value: Any, what: str, limit: float = MAX_DURATION_MS) -> float | None:
    """A JSON number field: absent or not a number is `None`; a number out of range is a `MalformedRecord`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return number(value, what, limit)
    except BadValue as exc:
        raise MalformedRecord(str(exc)) from None


def _opt_int(value: Any, what: str) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return _mb(value, what)


def parse_json(obj: Mapping[str, Any]) -> LogRecord | None:
    """A JSON log-format / Telemetry API record. `None` for other record types."""
    kind = obj.get("type")
    if kind not in ("platform.report", "platform.initReport"):
        return None
    record = obj.get("record")
    if not isinstance(record, Mapping):
        raise MalformedRecord(f"{kind} without a record object")
    metrics = record.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    status = record.get("status")
    status = status.lower() if isinstance(status, str) else None
    error_type = record.get("errorType")
    error_type = error_type if isinstance(error_type, str) else None
    if kind == "platform.initReport":
        if status in (None, "success"):
            return None
        phase = record.get("phase")
        return FailedInit(
            init_ms=_opt_float(metrics.get("durationMs"), "durationMs"), status=status,
            phase=phase if isinstance(phase, str) else None, error_type=error_type,
        )
    duration = _opt_float(metrics.get("durationMs"), "durationMs")
    if duration is None:
        raise MalformedRecord("platform.report without metrics.durationMs")
    request_id = record.get("requestId")
    return Report(
        request_id=request_id if isinstance(request_id, str) else None,
        duration_ms=duration,
        billed_ms=_opt_float(metrics.get("billedDurationMs"), "billedDurationMs"),
        memory_size_mb=_opt_int(metrics.get("memorySizeMB"), "memorySizeMB"),
        max_memory_used_mb=_opt_int(metrics.get("maxMemoryUsedMB"), "maxMemoryUsedMB"),
        init_ms=_opt_float(metrics.get("initDurationMs"), "initDurationMs"),
        restore_ms=_opt_float(metrics.get("restoreDurationMs"), "restoreDurationMs"),
        billed_restore_ms=_opt_float(metrics.get("billedRestoreDurationMs"), "billedRestoreDurationMs"),
        status=status,
        error_type=error_type,
    )


def json_time(obj: Mapping[str, Any]) -> datetime | None:
    value = obj.get("time")
    return parse_iso(value) if isinstance(value, str) else None


def parse_iso(text: str) -> datetime | None:
    """A tz-aware ISO-8601 time in UTC; naive (zone unknown), malformed or out-of-range times give `None`."""
    return utc_time(text)


def leading_time(line: str, before: int) -> datetime | None:
    """The first tz-aware ISO time in `line[:before]` (a line prefix), else `None`."""
    match = _ISO.search(line, 0, before)
    if match is None:
        return None
    return parse_iso(match.group(1) + match.group(2))


def function_from_log_group(text: str) -> str | None:
    """`/aws/lambda/<name>` (also inside an Insights `@log` value `account:/aws/lambda/name`)."""
    match = _LOG_GROUP.search(text)
    return match.group(1) if match else None
