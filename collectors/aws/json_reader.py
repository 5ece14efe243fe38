"""Lambda logs as JSON -> records (AWS ingest): JSON Lines, and streamed JSON documents.

- JSON Lines: Lambda's JSON log format (`platform.report` ...) or one CloudWatch event per line;
- the JSON document printed by `aws logs filter-log-events` / `get-log-events` (`{"events": [...]}`), a bare
  array of events, or a decoded subscription payload (`{"logGroup": ..., "logEvents": [...]}`), read event
  by event from a buffer that holds the current event only. A value cut at the buffer's end is decoded
  again once the buffer has grown by as much as it holds (at least `CHUNK`), so even one 50 MB event costs
  a few decodes, not one per refill: linear in the input.

JSON nesting past the recursion limit and numbers Python cannot hold are undecodable values
(`opsview.untrusted`): counted and skipped, never fatal. Error records (`error_lines`, the collector's rule)
are read from each CloudWatch event's message, or from a JSON log-format record as a whole.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from opsview.collectors.aws.correlator import Item
from opsview.collectors.aws.error_lines import error_event, extract, extract_json
from opsview.collectors.aws.logs import (
    LogRecord,
    MalformedRecord,
    function_from_log_group,
    json_time,
    parse_json,
    parse_text,
)
from opsview.ingest import IngestStats
from opsview.logevents import ErrorEvent
from opsview.untrusted import epoch_time, json_loads, json_raw_decode, utc_time

CHUNK = 1 << 16
_BLANK = re.compile(r"[ \t\r\n]*")


def is_json_object(text: str) -> bool:
    try:
        return isinstance(json_loads(text), dict)
    except json.JSONDecodeError:
        return False


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


def _message_record(message: str) -> LogRecord | None:
    body = message.lstrip()
    if body.startswith("{") and "platform." in body:
        try:
            obj = json_loads(body)
        except json.JSONDecodeError as exc:
            raise MalformedRecord(f"JSON log record does not parse ({exc.msg})") from None
        return parse_json(obj) if isinstance(obj, Mapping) else None
    return parse_text(message)


def _event_item(
    event: Any, function: str | None, group: str | None, fallback: str, stats: IngestStats, account: str | None
) -> Item | None:
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
    at = epoch_time(stamp, per_second=1000)
    event_group = event.get("logGroupName")
    name = function or group or (function_from_log_group(event_group) if isinstance(event_group, str) else None)
    return name or fallback, at, record, account


_EVENT_KEYS = ("logStreamName", "ingestionTime", "eventId", "id")


def _event_error(event: Any, function: str | None, group: str | None, fallback: str, account: str | None,
                 raw: str | None = None) -> ErrorEvent | None:
    """The error record in one event: a CloudWatch event's message, or a JSON log-format record (`raw`: its
    text as read) whose `message` is the application's, its level and error fields around it."""
    if not isinstance(event, Mapping):
        return None
    stamp = event.get("timestamp")
    message = event.get("message")
    wrapped = isinstance(message, str) and (isinstance(stamp, int | float) or any(k in event for k in _EVENT_KEYS))
    found = extract(message) if wrapped and isinstance(message, str) else extract_json(event, raw)
    if found is None:
        return None
    if wrapped:
        at = epoch_time(stamp, per_second=1000)
        event_group = event.get("logGroupName")
        owner = function_from_log_group(event_group) if isinstance(event_group, str) else None
    else:
        when = event.get("timestamp") or event.get("time")
        at = utc_time(when) if isinstance(when, str) else None
        owner = None
    return error_event(found, function or group or owner or fallback, at, account)


def json_lines(head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats
               ) -> Iterator[Item | ErrorEvent]:
    """One JSON value per line: an event or record, or a whole document on one line (`jq -c`, an SDK dump)."""
    for line in _lines(head, stream):
        if not line.strip():
            continue
        try:
            obj = json_loads(line)
        except json.JSONDecodeError:
            stats.lines_read += 1
            stats.lines_skipped += 1
            continue
        events = _document_events(obj)
        if events is None:
            stats.lines_read += 1
            item = _event_item(obj, function, None, fallback, stats, None)
            if item is not None:
                yield item
            error = _event_error(obj, function, None, fallback, None, line)
            if error is not None:
                yield error
            continue
        assert isinstance(obj, Mapping)
        group = obj.get("logGroup")
        group_name = function_from_log_group(group) if isinstance(group, str) else None
        owner = obj.get("owner")
        account = owner if isinstance(owner, str) else None
        for event in events:  # counted as a document's events are
            stats.lines_read += 1
            item = _event_item(event, function, group_name, fallback, stats, account)
            if item is not None:
                yield item
            error = _event_error(event, function, group_name, fallback, account)
            if error is not None:
                yield error


def _document_events(obj: Any) -> list[Any] | None:
    """The events of a `filter-log-events` / subscription document, `None` for anything else."""
    if not isinstance(obj, Mapping) or isinstance(obj.get("message"), str):
        return None
    for key in JsonDocument.EVENT_KEYS:
        events = obj.get(key)
        if isinstance(events, list):
            return events
    return None


class JsonDocument:
    """A JSON document read value by value from a sliding buffer (only the current event is decoded)."""

    EVENT_KEYS = ("events", "logEvents")

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

    def _fill(self, grow: bool = False) -> bool:
        """Read on; `grow`: the current value is cut, so read as much again as the buffer holds of it (the
        buffer doubles, and a value of n characters is decoded O(log n) times: linear, not quadratic)."""
        if self.eof:
            return False
        chunk = self.stream.read(max(CHUNK, len(self.buf) - self.pos) if grow else CHUNK)
        if not chunk:
            self.eof = True
            return False
        self.buf = self.buf[self.pos :] + chunk
        self.pos = 0
        return True

    def _peek(self) -> str:
        while True:
            n = len(self.buf)
            blank = _BLANK.match(self.buf, self.pos)  # in C: a run of whitespace costs no Python step per char
            self.pos = blank.end() if blank else self.pos
            if self.pos < n:
                return self.buf[self.pos]
            if not self._fill():
                return ""

    def _value(self) -> Any:
        self._peek()
        while True:
            try:
                value, end = json_raw_decode(self.decoder, self.buf, self.pos)
            except json.JSONDecodeError:
                if self._fill(grow=True):
                    continue
                raise
            if end >= len(self.buf) and not self.eof and self._fill(grow=True):
                continue  # a number cut at the buffer's end: decode again with more text
            self.pos = end
            return value

    def _take(self, char: str) -> bool:
        if self._peek() == char:
            self.pos += 1
            return True
        return False

    def records(self) -> Iterator[Item | ErrorEvent]:
        try:
            if self._take("["):
                yield from self._array()
            elif self._take("{"):
                yield from self._object()
        except json.JSONDecodeError as exc:
            # cannot resynchronise inside a broken document: its rest is one record read and skipped; what was
            # read before it is kept
            self.stats.lines_read += 1
            self.stats.lines_skipped += 1
            self.stats.notes.append(f"JSON document stops parsing at char {exc.pos}: {exc.msg}")

    def _object(self) -> Iterator[Item | ErrorEvent]:
        while self._peek() not in ("}", ""):
            key = self._value()
            if not self._take(":"):
                raise json.JSONDecodeError("expected ':'", self.buf, self.pos)
            if key in self.EVENT_KEYS and self._take("["):
                yield from self._array()
            else:
                value = self._value()
                if key == "logGroup" and isinstance(value, str):
                    self.group = function_from_log_group(value)
                elif key == "owner" and isinstance(value, str):
                    self.account = value
            self._take(",")
        self._take("}")

    def _array(self) -> Iterator[Item | ErrorEvent]:
        while self._peek() not in ("]", ""):
            event = self._value()
            self.stats.lines_read += 1
            item = _event_item(event, self.function, self.group, self.fallback, self.stats, self.account)
            if item is not None:
                yield item
            error = _event_error(event, self.function, self.group, self.fallback, self.account)
            if error is not None:
                yield error
            self._take(",")
        self._take("]")

