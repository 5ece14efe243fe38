"""`opsview ingest --provider aws`: exported Lambda logs -> ingest events, in constant memory.

Accepted inputs (detected from the first bytes, never from the file name):

- raw log text, one event per line (console copies, `sam logs`, `aws logs tail`, `--log-type Tail`);
- JSON Lines: Lambda's JSON log format (`platform.report` ...) or one CloudWatch event per line;
- the JSON document printed by `aws logs filter-log-events` / `get-log-events` (`{"events": [...]}`), a bare
  array of events, or a decoded subscription payload (`{"logGroup": ..., "logEvents": [...]}`). Documents
  are read event by event from a bounded buffer, so a multi-gigabyte export never sits in memory.

`lines_skipped` counts platform records (and JSON events) that do not parse; application output around
them is read and ignored.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from collectors.aws_logs import (
    INIT_REPORT_MARK,
    REPORT_MARK,
    TIMEOUT_MARK,
    FailedInit,
    LogRecord,
    MalformedRecord,
    Report,
    Timeout,
    function_from_log_group,
    json_time,
    leading_time,
    parse_json,
    parse_text,
)
from opsview.ingest import FailedInitEvent, IngestEvent, IngestStats, InvocationEvent
from opsview.schema import from_epoch

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_PENDING = 64  # REPORTs held back so a `Task timed out` line written just after can still mark them
_EARLY = 1024  # timeouts/errors seen before their REPORT, remembered by request id


def read(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[IngestEvent]:
    """The `IngestReader` for AWS (see `opsview.ingest`)."""
    fallback = source_name.split(".", 1)[0] or source_name
    head = stream.read(_CHUNK)
    start = head.lstrip()[:1]
    correlate = _Correlator()
    if start in ("{", "["):
        first_line = head.split("\n", 1)[0]
        if start == "{" and _is_json_object(first_line):
            records = _json_lines(head, stream, function, fallback, stats)
        else:
            records = _JsonDocument(head, stream, function, fallback, stats).records()
    else:
        records = _text_lines(head, stream, function, fallback, stats)
    for name, at, record, account in records:
        yield from correlate.add(name, at, record, account)
    yield from correlate.flush()


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except json.JSONDecodeError:
        return False


_Item = tuple[str, "datetime | None", LogRecord, "str | None"]


def _lines(head: str, stream: TextIO) -> Iterator[str]:
    """Lines of `head` + the rest of `stream`, with the partial last line of `head` joined correctly."""
    parts = head.split("\n")
    tail = parts.pop()
    yield from parts
    for line in stream:
        if tail:
            line, tail = tail + line, ""
        yield line.rstrip("\n")
    if tail:
        yield tail


def _text_lines(head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats) -> Iterator[_Item]:
    read = stats.lines_read
    for line in _lines(head, stream):
        read += 1
        # cheap substring tests first: most lines are application output
        if not ("REPORT" in line or "INIT_" in line or "Task timed" in line or "platform." in line
                or "Invoke Error" in line or "Unhandled exception" in line):
            continue
        stats.lines_read = read
        try:
            record = parse_text(line)
        except MalformedRecord as exc:
            stats.lines_skipped += 1
            log.debug("line %d skipped: %s", stats.lines_read, exc)
            continue
        if record is None:
            continue
        name = function or _group_in_prefix(line) or fallback
        at = leading_time(line, _marker_at(line))
        yield name, at, record, None
    stats.lines_read = read


def _marker_at(line: str) -> int:
    for mark in (REPORT_MARK, INIT_REPORT_MARK, TIMEOUT_MARK):
        at = line.find(mark)
        if at >= 0:
            return at
    return min(len(line), 64)


def _group_in_prefix(line: str) -> str | None:
    at = line.find("/aws/lambda/")
    if at < 0 or at > _marker_at(line):
        return None
    return function_from_log_group(line[at:])


def _message_record(message: str) -> LogRecord | None:
    body = message.lstrip()
    if body.startswith("{") and "platform." in body:
        try:
            obj = json.loads(body)
        except json.JSONDecodeError as exc:
            raise MalformedRecord(f"JSON log record does not parse ({exc.msg})") from None
        return parse_json(obj) if isinstance(obj, Mapping) else None
    return parse_text(message)


def _event_item(
    event: Any, function: str | None, group: str | None, fallback: str, stats: IngestStats, account: str | None
) -> _Item | None:
    """One CloudWatch Logs event (`timestamp`, `message`, maybe `logGroupName`/`logStreamName`)."""
    if not isinstance(event, Mapping):
        stats.lines_skipped += 1
        return None
    if isinstance(event.get("type"), str) and "record" in event:  # a JSON log-format record itself
        try:
            record = parse_json(event)
        except MalformedRecord:
            stats.lines_skipped += 1
            return None
        return None if record is None else (function or group or fallback, json_time(event), record, account)
    message = event.get("message")
    if not isinstance(message, str):
        stats.lines_skipped += 1
        return None
    try:
        record = _message_record(message)
    except MalformedRecord:
        stats.lines_skipped += 1
        return None
    if record is None:
        return None
    stamp = event.get("timestamp")
    at = from_epoch(stamp / 1000.0) if isinstance(stamp, int | float) and not isinstance(stamp, bool) else None
    event_group = event.get("logGroupName")
    name = function or group or (function_from_log_group(event_group) if isinstance(event_group, str) else None)
    return name or fallback, at, record, account


def _json_lines(head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats) -> Iterator[_Item]:
    for line in _lines(head, stream):
        if not line.strip():
            continue
        stats.lines_read += 1
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            stats.lines_skipped += 1
            continue
        item = _event_item(obj, function, None, fallback, stats, None)
        if item is not None:
            yield item


class _JsonDocument:
    """A JSON document read value by value from a sliding buffer (only the current event is decoded)."""

    _EVENT_KEYS = ("events", "logEvents")

    def __init__(self, head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats) -> None:
        self.buf = head
        self.pos = 0
        self.stream = stream
        self.eof = False
        self.decoder = json.JSONDecoder()
        self.function = function
        self.fallback = fallback
        self.stats = stats
        self.group: str | None = None
        self.account: str | None = None

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            n = len(self.buf)
            while self.pos < n and self.buf[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < n:
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if self._fill():
                    continue
                raise
            if end >= len(self.buf) and not self.eof and self._fill():
                continue  # a number cut at the buffer's end: decode again with more text
            self.pos = end
            return value

    def _take(self, char: str) -> bool:
        if self._peek() == char:
            self.pos += 1
            return True
        return False

    def records(self) -> Iterator[_Item]:
        try:
            if self._take("["):
                yield from self._array()
            elif self._take("{"):
                yield from self._object()
        except json.JSONDecodeError as exc:
            # cannot resynchronise inside a broken document: count it and keep what was read
            self.stats.lines_skipped += 1
            log.warning("JSON document stops parsing at char %d: %s", exc.pos, exc.msg)

    def _object(self) -> Iterator[_Item]:
        while self._peek() not in ("}", ""):
            key = self._value()
            if not self._take(":"):
                raise json.JSONDecodeError("expected ':'", self.buf, self.pos)
            if key in self._EVENT_KEYS and self._take("["):
                yield from self._array()
            else:
                value = self._value()
                if key == "logGroup" and isinstance(value, str):
                    self.group = function_from_log_group(value)
                elif key == "owner" and isinstance(value, str):
                    self.account = value
            self._take(",")
        self._take("}")

    def _array(self) -> Iterator[_Item]:
        while self._peek() not in ("]", ""):
            event = self._value()
            self.stats.lines_read += 1
            item = _event_item(event, self.function, self.group, self.fallback, self.stats, self.account)
            if item is not None:
                yield item
            self._take(",")
        self._take("]")


@dataclass(slots=True)
class _Pending:
    name: str
    at: datetime | None
    report: Report
    account: str | None
    timeout: bool = False
    error: bool = False


class _Correlator:
    """Joins `Task timed out` / unhandled-error lines to their REPORT within a small window (bounded memory)."""

    def __init__(self) -> None:
        self.pending: OrderedDict[tuple[str, str | None], _Pending] = OrderedDict()
        self.early: OrderedDict[tuple[str, str | None], tuple[bool, bool]] = OrderedDict()
        self._anonymous = 0

    def add(self, name: str, at: datetime | None, record: LogRecord, account: str | None) -> Iterator[IngestEvent]:
        if isinstance(record, Report):
            rid = record.request_id
            if rid is None or (name, rid) in self.pending:
                self._anonymous += 1  # keep every REPORT, even with a missing or repeated id
                rid = f"#{self._anonymous}"
            item = _Pending(name, at, record, account)
            for key in ((name, rid), (name, None)):
                flags = self.early.pop(key, None)
                if flags:
                    item.timeout |= flags[0]
                    item.error |= flags[1]
            self.pending[(name, rid)] = item
            while len(self.pending) > _PENDING:
                yield _invocation(self.pending.popitem(last=False)[1])
        elif isinstance(record, FailedInit):
            yield FailedInitEvent(name, at, record.init_ms)
        else:
            self._flag(name, record.request_id, isinstance(record, Timeout))

    def _flag(self, name: str, rid: str | None, timeout: bool) -> None:
        # without a request id the line belongs to the next REPORT: runtimes write it before END/REPORT
        target = self.pending.get((name, rid)) if rid else None
        if target is not None:
            target.timeout |= timeout
            target.error |= not timeout
            return
        old = self.early.get((name, rid), (False, False))
        self.early[(name, rid)] = (old[0] or timeout, old[1] or not timeout)
        while len(self.early) > _EARLY:
            self.early.popitem(last=False)

    def flush(self) -> Iterator[IngestEvent]:
        while self.pending:
            yield _invocation(self.pending.popitem(last=False)[1])


def _invocation(p: _Pending) -> InvocationEvent:
    r = p.report
    timeout = r.timed_out or p.timeout
    return InvocationEvent(
        function=p.name,
        at=p.at,
        duration_ms=r.duration_ms,
        billed_ms=r.billed_ms,
        memory_size_mb=r.memory_size_mb,
        memory_used_mb=r.max_memory_used_mb,
        init_ms=r.startup_ms,
        cold_start=r.cold_start,
        error=r.failed or p.error or timeout,
        timeout=timeout,
        account=p.account,
    )
