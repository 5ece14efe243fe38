"""Cloud Logging `LogEntry` records (REST/JSON shape) -> typed GCP function events.

Pure: no SDK, no I/O. Shared by the live collector (`opsview.collectors.gcp.collector`) and the offline reader
(`opsview.collectors.gcp.ingest`), so both read the same lines the same way.

What counts:
- gen1 (`resource.type="cloud_function"`): the execution line, in either wording
  `Function execution took 12 ms, finished with status code: 200`,
  `Function execution took 60003 ms, finished with status: 'timeout'`,
  `Function execution took 54 ms. Finished with status: timeout`. Other lines are not invocations.
- gen2 (`resource.type="cloud_run_revision"`): request logs (`httpRequest.status`, `.latency`) and the
  system line `Starting new instance. Reason: <REASON> - ...`.

Error records (`parse_error`, the one reading for `collect` and `ingest`): an entry of a function at
`severity` ERROR or above (gen1 stdout/stderr, gen2 stdout/stderr and Cloud Run's system log) that is not a
request log (those are invocations: a 5xx request log is at ERROR too), and a gen1 execution line whose
status word is not ok (`finished with status: 'crash'`). The error's type comes from its text when the text
carries one (`opsview.signatures.split_error`); gen1 entries carry the execution id (`labels.execution_id`),
gen2 the trace. Severity order: https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#logseverity.

An entry is *ignored* (`None`) when it is simply not one of those lines, and *malformed*
(`MalformedEntryError`) when it is one of them but a field we need is missing or unreadable: numbers
and times go through `opsview.untrusted` (a latency of `1e400s`, NaN or a negative one, a 400-digit
"took N ms", a timestamp out of range, are malformed).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple

from opsview.signatures import split_error
from opsview.untrusted import EARLIEST, LATEST, MAX_DURATION_MS, BadValue, decimal, number, utc_time

GEN1_RESOURCE: Final = "cloud_function"
GEN2_RESOURCE: Final = "cloud_run_revision"
AUTOSCALING: Final = "AUTOSCALING"
"""The one instance-start reason that is a cold start caused by traffic."""


class Generation(enum.StrEnum):
    GEN1 = "gen1"
    GEN2 = "gen2"


class MalformedEntryError(ValueError):
    """A relevant entry that lacks (or garbles) a field we need; counted and skipped."""


class Invocation(NamedTuple):
    """One finished request/execution. `timeout` is None when the log cannot tell (gen2).

    NamedTuples, not frozen dataclasses: one is built per log entry, and a tuple is built ~3x faster.
    """

    project: str
    region: str
    function: str
    generation: Generation
    at: datetime
    duration_ms: float | None
    status: str
    """HTTP status code as text (`"200"`) or the gen1 status word (`"ok"`, `"crash"`, ...)."""
    error: bool
    timeout: bool | None
    throttled: bool
    """Rejected by the platform (429 / "no available instance"): not an invocation of the code."""
    revision: str | None = None
    """gen2: the Cloud Run revision that served it (`resource.labels.revision_name`)."""


class InstanceStart(NamedTuple):
    """gen2 `Starting new instance. Reason: ...`; only `AUTOSCALING` is a cold start of traffic."""

    project: str
    region: str
    function: str
    at: datetime
    reason: str
    revision: str | None = None

    @property
    def cold_start(self) -> bool:
        return self.reason == AUTOSCALING


class ErrorEntry(NamedTuple):
    """One error record of a function (see the module docstring)."""

    project: str
    region: str
    function: str
    generation: Generation
    at: datetime
    error_type: str | None
    message: str
    sample: str
    sample_id: str | None
    revision: str | None = None


GcpEvent = Invocation | InstanceStart | ErrorEntry
ERROR_SEVERITIES: Final = frozenset({"ERROR", "CRITICAL", "ALERT", "EMERGENCY"})
"""`severity>=ERROR` (LogSeverity 500 and up)."""

_GEN1_LINE = re.compile(
    r"(?:Function execution took (?P<ms>\d+(?:\.\d+)?) ms[,.]?\s*)?"
    r"[Ff]inished with status(?P<code_word> code)?:\s*'?(?P<status>[^'\n]*?)'?\s*$"
)
_START_LINE = re.compile(r"Starting new instance\. Reason: (?P<reason>[A-Z_]+)")
_NO_INSTANCE = "no available instance"
_OK_WORDS: Final = frozenset({"ok", "success"})
_STATUS_TEXT: Final = {code: str(code) for code in range(100, 600)}

# Timestamps of one window repeat their second many times: parse each second once.
_SECONDS: dict[str, datetime] = {}
_SECONDS_LIMIT: Final = 200_000


def parse_timestamp(text: str) -> datetime:
    """RFC 3339 (nanoseconds allowed) -> tz-aware UTC, truncated to the second (buckets are minutes)."""
    key = text[:19]
    tail = text[19:]
    if tail.endswith("Z") or tail.endswith("+00:00"):
        cached = _SECONDS.get(key)
        if cached is not None:
            return cached
        try:
            value = datetime(
                int(key[0:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]), int(key[14:16]), int(key[17:19]),
                tzinfo=UTC,
            )
        except (ValueError, IndexError):
            raise MalformedEntryError(f"unreadable timestamp {text[:40]!r}") from None
        if key[4] != "-" or key[10] not in "Tt " or not EARLIEST <= value < LATEST:
            raise MalformedEntryError(f"unreadable timestamp {text[:40]!r}")
        if len(_SECONDS) >= _SECONDS_LIMIT:
            _SECONDS.clear()
        _SECONDS[key] = value
        return value
    # an offset other than UTC: rare, take the slow, general path
    parsed = utc_time(text)
    if parsed is None:
        raise MalformedEntryError(f"unreadable, zoneless or out-of-range timestamp {text[:40]!r}")
    return parsed.replace(microsecond=0)


def parse_latency_ms(value: object) -> float | None:
    """`httpRequest.latency` (`"0.012s"`, `"0s"`, or the `{seconds, nanos}` form) -> ms; absent -> None."""
    if value is None:
        return None
    limit = _MAX_LATENCY_S
    try:
        if type(value) is str:
            if not value.endswith("s"):
                raise BadValue("no unit")
            seconds = float(value[:-1])  # `untrusted.decimal`, inlined: this runs once per request log
            if not 0.0 <= seconds <= limit:  # NaN fails too
                raise BadValue("out of range")
        elif isinstance(value, Mapping):  # google.protobuf.Duration's fields; int64 seconds may come as text
            seconds = (number(value.get("seconds", 0), "latency.seconds", limit) or 0.0) + (
                number(value.get("nanos", 0), "latency.nanos", 1e9) or 0.0) / 1e9
        else:
            raise BadValue("neither text nor an object")
    except ValueError:  # BadValue, or float() of text that is no number
        shown = value[:40] if isinstance(value, str) else type(value).__name__  # no repr of nested input
        raise MalformedEntryError(f"unreadable httpRequest.latency {shown!r}") from None
    return seconds * 1000.0


_MAX_LATENCY_S: Final = MAX_DURATION_MS / 1000.0


def _text(entry: Mapping[str, Any]) -> str | None:
    text = entry.get("textPayload")
    if isinstance(text, str):
        return text
    payload = entry.get("jsonPayload")
    if isinstance(payload, dict):
        message = payload.get("message") or payload.get("textPayload")
        if isinstance(message, str):
            return message
    return None


def _when(entry: Mapping[str, Any]) -> datetime:
    # `timestamp` is when it happened; `receiveTimestamp` (seconds later) is all some exports keep
    stamp = entry.get("timestamp") or entry.get("receiveTimestamp")
    if not isinstance(stamp, str):
        raise MalformedEntryError("no timestamp or receiveTimestamp")
    return parse_timestamp(stamp)


def _project(entry: Mapping[str, Any], labels: Mapping[str, Any]) -> str:
    project = labels.get("project_id")
    if isinstance(project, str) and project:
        return project
    log_name = entry.get("logName")
    if isinstance(log_name, str) and log_name.startswith("projects/") and log_name.split("/", 2)[1]:
        return log_name.split("/", 2)[1]
    raise MalformedEntryError("no resource.labels.project_id")


def _label(labels: Mapping[str, Any], name: str, fallback: str | None = None) -> str:
    value = labels.get(name)
    if isinstance(value, str) and value:
        return value
    if fallback:
        return fallback
    raise MalformedEntryError(f"no resource.labels.{name}")


def parse_entry(entry: object, function: str | None = None) -> Invocation | InstanceStart | None:
    """One LogEntry dict (as JSON decodes it) -> an event, `None` when the entry is not one we count.

    `function` names the function when the entry's resource labels do not (ingest `--function`).
    Raises `MalformedEntryError` for a relevant entry we cannot read.
    """
    if not isinstance(entry, dict):
        raise MalformedEntryError(f"a LogEntry is a JSON object, got {type(entry).__name__}")
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return None
    kind = resource.get("type")
    if kind == GEN1_RESOURCE:
        return _gen1(entry, resource, function)
    if kind == GEN2_RESOURCE:
        return _gen2(entry, resource, function)
    return None


def _resource_labels(resource: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = resource.get("labels")
    return labels if isinstance(labels, dict) else {}


def _gen1(entry: Mapping[str, Any], resource: Mapping[str, Any], function: str | None) -> Invocation | None:
    text = _text(entry)
    if text is None or "inished with status" not in text:
        return None
    match = _GEN1_LINE.search(text)
    if match is None:
        raise MalformedEntryError(f"unreadable gen1 execution line {text[:80]!r}")
    labels = _resource_labels(resource)
    status = match["status"].strip()
    ms = match["ms"]
    if match["code_word"]:
        try:
            code = int(status)
        except ValueError:
            raise MalformedEntryError(f"unreadable gen1 status code {status!r}") from None
        error, timeout = code >= 500, False
    else:
        status = status.lower()
        if not status:
            raise MalformedEntryError("gen1 execution line without a status")
        error, timeout = status not in _OK_WORDS, status == "timeout"
    # gen1 never logs the platform's own rejections (throttled=False); a 429 in this line is the code's reply
    return Invocation(
        _project(entry, labels), _label(labels, "region"), _label(labels, "function_name", function),
        Generation.GEN1, _when(entry), _took_ms(ms) if ms is not None else None, status, error, timeout, False,
    )


def _took_ms(text: str) -> float:
    try:
        return decimal(text, "Function execution took")
    except BadValue as exc:
        raise MalformedEntryError(str(exc)) from None


def _gen2(entry: Mapping[str, Any], resource: Mapping[str, Any], function: str | None
          ) -> Invocation | InstanceStart | None:
    http = entry.get("httpRequest")
    if isinstance(http, dict):
        labels = _resource_labels(resource)
        raw_status = http.get("status")
        if type(raw_status) is int:  # the common case first: this runs once per request log
            code = raw_status
        elif isinstance(raw_status, str):
            try:
                code = int(raw_status)
            except ValueError:
                raise MalformedEntryError(f"unreadable httpRequest.status {raw_status!r}") from None
        else:
            raise MalformedEntryError("request log without httpRequest.status")
        text = _text(entry)
        throttled = code == 429 or (text is not None and _NO_INSTANCE in text)
        return Invocation(  # positional: keywords cost a measurable share per entry here
            _project(entry, labels), _label(labels, "location"), _label(labels, "service_name", function),
            Generation.GEN2, _when(entry), parse_latency_ms(http.get("latency")), _STATUS_TEXT.get(code) or str(code),
            code >= 500 and not throttled, None, throttled, labels.get("revision_name"),
        )
    text = _text(entry)
    if text is None or not text.startswith("Starting new instance"):
        return None
    match = _START_LINE.match(text)
    if match is None:
        raise MalformedEntryError(f"unreadable instance start line {text[:80]!r}")
    labels = _resource_labels(resource)
    return InstanceStart(
        project=_project(entry, labels),
        region=_label(labels, "location"),
        function=_label(labels, "service_name", function),
        at=_when(entry),
        reason=match["reason"],
        revision=_revision(labels),
    )


def _revision(labels: Mapping[str, Any]) -> str | None:
    value = labels.get("revision_name")
    return value if isinstance(value, str) and value else None


def failed_execution(event: Invocation, entry: Mapping[str, Any]) -> ErrorEntry | None:
    """A gen1 execution line whose status word is not ok, as an error record (a status *code* is a reply)."""
    if event.generation is not Generation.GEN1 or not event.error or event.status.isdigit():
        return None
    text = _text(entry) or ""
    return ErrorEntry(event.project, event.region, event.function, Generation.GEN1, event.at, None,
                      f"finished with status: {event.status}", text, _execution_id(entry))


def _execution_id(entry: Mapping[str, Any]) -> str | None:
    labels = entry.get("labels")
    value = labels.get("execution_id") if isinstance(labels, dict) else None
    if isinstance(value, str) and value:
        return value
    trace = entry.get("trace")
    return trace if isinstance(trace, str) and trace else None


def parse_error(entry: object, function: str | None = None) -> ErrorEntry | None:
    """An entry at severity ERROR or above of a function, not a request log, as an error record; `None` for
    any other entry. Raises `MalformedEntryError` for such an entry we cannot read (no time, no name)."""
    if not isinstance(entry, dict) or entry.get("severity") not in ERROR_SEVERITIES:
        return None
    resource = entry.get("resource")
    if not isinstance(resource, dict) or isinstance(entry.get("httpRequest"), dict):
        return None
    kind = resource.get("type")
    if kind not in (GEN1_RESOURCE, GEN2_RESOURCE):
        return None
    text = _error_text(entry)
    if text is None:
        return None
    labels = _resource_labels(resource)
    if kind == GEN1_RESOURCE:
        where, name, generation, revision = "region", "function_name", Generation.GEN1, None
    else:
        where, name, generation, revision = "location", "service_name", Generation.GEN2, _revision(labels)
    error_type, message = split_error(text)
    return ErrorEntry(_project(entry, labels), _label(labels, where), _label(labels, name, function), generation,
                      _when(entry), error_type, message, text, _execution_id(entry), revision)


def _error_text(entry: Mapping[str, Any]) -> str | None:
    """The text of an error entry: `textPayload`, or a structured log's `message` (Error Reporting's
    `stack_trace` too, when there is no message)."""
    text = _text(entry)
    if text:
        return text
    payload = entry.get("jsonPayload")
    if isinstance(payload, dict):
        for field in ("stack_trace", "error", "msg"):
            value = payload.get(field)
            if isinstance(value, str) and value.strip():
                return value
    return None
