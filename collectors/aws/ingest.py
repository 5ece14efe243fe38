"""`opsview ingest --provider aws`: exported Lambda logs -> ingest events, in constant memory.

Accepted inputs (detected from the first bytes, never from the file name):

- raw log text, one event per line (console copies, `sam logs`, `aws logs tail`, `--log-type Tail`);
- JSON Lines: Lambda's JSON log format (`platform.report` ...) or one CloudWatch event per line;
- the JSON document printed by `aws logs filter-log-events` / `get-log-events` (`{"events": [...]}`), a bare
  array of events, or a decoded subscription payload (`{"logGroup": ..., "logEvents": [...]}`). Documents
  are read event by event from a bounded buffer, so a multi-gigabyte export never sits in memory.

`lines_skipped` counts platform records (and JSON events) that do not parse; application output around
them is read and ignored.

Raw text is read in chunks of 1 MiB cut at a line end. When no per-minute times are wanted
(`IngestStats.times_needed` is False) and a chunk holds only REPORT records (no timeout, error, INIT_REPORT
or JSON platform lines), its records are summed in bulk (`InvocationBatch`), without a Python step per line;
a chunk with a few such lines is cut around them (`_split`) and the pieces between are summed in bulk.

1. `opsview.collectors.aws.columns.parse_columns` reads every REPORT of the chunk as numpy columns when all are in
   the exact layout Lambda writes (it also finds the other records' marks, in the same pass), if numpy is
   loaded already or the input is 16 MiB or more (`_use_columns`: about where it pays for importing numpy);
2. else one regex `findall` over the chunk gives a row per REPORT (other layouts: an empty row);
3. any other chunk (or one with an empty row) is read line by line.

All three read the same numbers and count the same lines; `tests/unit/aws/test_aws_ingest_bulk.py` runs
every case through each bulk reader and compares it with the line-by-line path.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from opsview.collectors.aws.logs import (
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
    parse_report_text,
    parse_text,
)
from opsview.ingest import IngestStats
from opsview.logevents import FailedInitEvent, InvocationBatch, InvocationEvent, LogEvent
from opsview.schema import from_epoch

if TYPE_CHECKING:
    from opsview.collectors.aws.columns import ReportColumns

log = logging.getLogger(__name__)

_CHUNK = 1 << 16
_PENDING = 64  # REPORTs held back so a `Task timed out` line written just after can still mark them
_EARLY = 1024  # timeouts/errors seen before their REPORT, remembered by request id
_TEXT_CHUNK = 1 << 20  # raw text is handled this many characters at a time (plus the rest of a cut line)


def read(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[LogEvent]:
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
        yield from _text(head, stream, function, fallback, stats, correlate)
        yield from correlate.flush()
        return
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


def _chunks(head: str, stream: TextIO) -> Iterator[str]:
    """`head` + the rest of `stream` in pieces that each end with a newline (one is added at the very end).

    CRLF and lone CR line ends become LF, so every line (and so `lines_read`) is one `\n`."""
    text = head
    while True:
        data = stream.read(_TEXT_CHUNK)
        if not data:
            if text:
                text = _lf(text)
                yield text if text.endswith("\n") else text + "\n"
            return
        # finish the cut line from the stream (its readline knows CR and CRLF) rather than re-slicing the chunk
        text += data if data.endswith("\n") else data + stream.readline()
        text = _lf(text)
        if text.endswith("\n"):
            yield text
            text = ""


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


# Records the bulk path cannot take: they correlate with REPORTs or are not REPORTs at all.
_OTHER_MARKS = (INIT_REPORT_MARK, TIMEOUT_MARK, "Invoke Error", "Unhandled exception", "platform.")
# A REPORT line in the layout Lambda writes, with an optional `Init Duration`; `tail` is what follows
# (empty, an X-Ray suffix, or fields for the general parser). `findall` over a chunk skips the application
# output between REPORTs inside the regex engine. Every marker gives a row: one in another layout gives a
# row of empty strings, and the chunk is then read line by line.
# Possessive repeats (`++`): no field can give characters back to the next one, so the engine keeps no
# backtracking state (~15% faster than plain `+`, same matches).
_REPORT_LINE = re.compile(
    REPORT_MARK + r"(?: ?([^\s\\]++)\s++Duration: ([0-9.]++) ms\s++Billed Duration: ([0-9.]++) ms\s++"
    r"Memory Size: ([0-9]++) MB\s++Max Memory Used: ([0-9]++) MB(?:\s++Init Duration: ([0-9.]++) ms)?([^\n]*+)\n)?"
)


# The numpy reader (`parse_columns`) is used when numpy is loaded already, or once the input is known (file
# size) or seen (stdin) to be this large: it saves ~4.5 ms per MiB, importing numpy costs ~0.14 s CPU and
# ~15 MB (measured: 22 MB 0.26 -> 0.31 s, 110 MB 1.28 -> 0.82 s). From 16 MiB on, so that memory is the same
# for every large input. Pieces shorter than _COLUMNS_TEXT (lines cut out around a timeout...) take the regex.
_COLUMNS_MIN = 16 << 20
_COLUMNS_TEXT = 1 << 14


def _use_columns(input_size: int) -> bool:
    return "numpy" in sys.modules or input_size >= _COLUMNS_MIN


@dataclass(slots=True)
class _Chunk:
    text: str
    # its REPORTs when the bulk path may take it (no other records): as columns (`parse_columns`) when all are
    # in the exact layout, else as regex rows
    rows: list[tuple[str, ...]] | None = None
    columns: ReportColumns | None = None
    lines: int | None = None  # its newlines, when already counted

    @property
    def bulk(self) -> bool:
        return self.rows is not None or self.columns is not None


def _text(
    head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats, correlate: _Correlator
) -> Iterator[LogEvent]:
    bulk = not stats.times_needed
    chunks = _chunks(head, stream)
    pieces: deque[str] = deque()  # the rest of a chunk cut by `_split`, read before the next chunk
    size = _size(stream)
    seen = 0

    def classify(text: str) -> _Chunk:
        if not bulk or (function is None and "/aws/lambda/" in text):
            return _Chunk(text)
        if len(text) >= _COLUMNS_TEXT and _use_columns(max(size, seen)):
            from opsview.collectors.aws.columns import parse_columns  # numpy: only for large inputs

            columns = parse_columns(text, _OTHER_MARKS)  # also None when the text has one of the marks
            if columns is not None:
                return _Chunk(text, columns=columns if len(columns) > _PENDING else None, lines=columns.lines)
        if any(mark in text for mark in _OTHER_MARKS):
            cut = _split(text)
            if len(cut) == 1:
                return _Chunk(text)
            pieces.extendleft(reversed(cut[1:]))
            return classify(cut[0])
        rows = _REPORT_LINE.findall(text)
        return _Chunk(text, rows if len(rows) > _PENDING else None)

    def take() -> _Chunk | None:
        nonlocal seen
        if pieces:
            return classify(pieces.popleft())
        text = next(chunks, None)
        if text is None:
            return None
        seen += len(text)
        return classify(text)

    current = take()
    while current is not None:
        upcoming = take()
        first_line = stats.lines_read + 1
        stats.lines_read += current.text.count("\n") if current.lines is None else current.lines
        if current.bulk:
            # A REPORT stays open for `Task timed out` / error lines until `_PENDING` newer REPORTs arrived;
            # when those are all in the next chunk and it has no such lines (or there is none), nothing can.
            hold = 0 if upcoming is None or upcoming.bulk else _PENDING
            name = function or fallback
            events: list[LogEvent] | None
            if current.columns is not None:
                events = _bulk_columns(current.columns, name, correlate, hold)
            else:
                events = _bulk_reports(current.rows or [], name, correlate, hold)
            if events is not None:
                yield from events
                current = upcoming
                continue
        for name, at, record, account in _chunk_records(current.text, first_line, function, fallback, stats):
            yield from correlate.add(name, at, record, account)
        current = upcoming


def _size(stream: TextIO) -> int:
    """The size of the file behind `stream`, 0 when unknown (a pipe, a StringIO)."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return 0


def _split(text: str) -> list[str]:
    """`text` cut before and after each line holding another record's mark (a timeout, an error...), so the
    REPORTs between those lines can still be summed in bulk. Each piece is whole lines; joined, they are `text`.
    The usual rule keeps the meaning: the last `_PENDING` REPORTs before a cut go through the correlator."""
    lines: set[tuple[int, int]] = set()
    for mark in _OTHER_MARKS:
        at = text.find(mark)
        while at >= 0:
            end = text.find("\n", at) + 1 or len(text)
            lines.add((text.rfind("\n", 0, at) + 1, end))
            at = text.find(mark, end)
    cut = []
    done = 0
    for start, end in sorted(lines):
        if start > done:
            cut.append(text[done:start])
        cut.append(text[start:end])
        done = end
    if done < len(text):
        cut.append(text[done:])
    return cut


def _needs_parser(tail: str) -> bool:
    return "Duration" in tail or "Status" in tail  # restore, status, repeated fields: the general parser


def _bulk_reports(rows: list[tuple[str, ...]], name: str, correlate: _Correlator, hold: int
                  ) -> list[LogEvent] | None:
    """A clean chunk's REPORTs, summed at once.

    `None` when some REPORT is not in the usual layout (the caller then reads the chunk line by line). The
    last `hold` REPORTs go through the correlator, so a `Task timed out` line in the next chunk still marks
    them, exactly as on the line-by-line path.
    """
    count = len(rows) - hold
    rids, durations, billed, sizes, used, inits, tails = zip(*rows, strict=True)
    if "" in durations:
        return None  # a REPORT in another layout

    def report(i: int) -> Report:
        rid, duration, bill, size, mem, init, tail = rows[i]
        if _needs_parser(tail):
            init_field = f"\tInit Duration: {init} ms" if init else ""
            return parse_report_text(f"{REPORT_MARK} {rid}\tDuration: {duration} ms\tBilled Duration: {bill} ms\t"
                                     f"Memory Size: {size} MB\tMax Memory Used: {mem} MB{init_field}{tail}")
        return Report(rid, float(duration), float(bill), int(size), int(mem), init_ms=float(init) if init else None)

    special = []
    if any(map(_needs_parser, set(tails[:count]))):
        special = [i for i, tail in enumerate(tails[:count]) if tail and _needs_parser(tail)]
    try:  # every number is read before any state changes, so a bad one leaves the chunk to the slow path
        columns = _Columns(durations, billed, used, inits, count)
        reports = {i: report(i) for i in special}
        held = [report(i) for i in range(count, len(rows))]
        last = reports[count - 1].memory_size_mb if count - 1 in reports else int(sizes[count - 1])
    except ValueError:
        return None
    events: list[LogEvent] = list(correlate.flush())  # nothing in this chunk can mark them any more
    flags = correlate.take_early(name, rids[:count]) if correlate.early else {}
    for i in flags.keys() - reports.keys():
        reports[i] = report(i)
    for i in special:
        flags.setdefault(i, (False, False))
    events.append(columns.batch(name, {i: (reports[i], *flags[i]) for i in sorted(reports)}, last))
    for record in held:
        events.extend(correlate.add(name, None, record, None))
    return events


def _bulk_columns(columns: ReportColumns, name: str, correlate: _Correlator, hold: int) -> list[LogEvent]:
    """`_bulk_reports` for a chunk whose REPORTs are all in the exact layout (no status or restore; a suffix
    only if the parser ignores it too)."""
    count = len(columns) - hold
    inits = columns.inits(count)

    def report(i: int) -> Report:
        init_ms = float(columns.init_ms[i])
        return Report(columns.request_id(i), float(columns.durations_ms[i]), float(columns.billed_ms[i]),
                      int(columns.memory_size_mb[i]), int(columns.max_memory_used_mb[i]),
                      init_ms=None if math.isnan(init_ms) else init_ms)

    held = [report(i) for i in range(count, len(columns))]
    events: list[LogEvent] = list(correlate.flush())  # nothing in this chunk can mark them any more
    errors = timeouts = 0
    if correlate.early:
        # these REPORTs carry no status, so an earlier line's flags are all that can mark them
        flags = correlate.take_early(name, [columns.request_id(i) for i in range(count)])
        for timed_out, failed in flags.values():
            timeouts += timed_out
            errors += failed or timed_out
    events.append(InvocationBatch(
        function=name, invocations=count, durations_ms=columns.durations_ms[:count], errors=errors, timeouts=timeouts,
        cold_starts=len(inits), init_ms=inits, billed_ms=math.fsum(columns.billed_ms[:count].tolist()),
        memory_size_mb=int(columns.memory_size_mb[count - 1]),
        memory_used_max_mb=int(columns.max_memory_used_mb[:count].max()),
    ))
    for record in held:
        events.extend(correlate.add(name, None, record, None))
    return events


class _Columns:
    """The numbers of a chunk's first `count` REPORTs, converted in C (`map`), not one by one."""

    def __init__(self, durations: Sequence[str], billed: Sequence[str], used: Sequence[str],
                 inits: Sequence[str], count: int) -> None:
        self.durations = list(map(float, durations[:count]))
        self.billed_column = billed[:count]
        self.billed = math.fsum(map(float, self.billed_column))
        self.used = list(map(int, set(used[:count])))
        self.used_column = used[:count]
        self.inits = list(map(float, filter(None, inits[:count])))
        self.init_column = inits[:count]

    def batch(self, name: str, special: dict[int, tuple[Report, bool, bool]], memory_size_mb: int | None
              ) -> InvocationBatch:
        """`special`: REPORTs read one by one (restore, status, or marked by an earlier timeout/error line),
        with their (timeout, error) flags; they replace their row in the columns."""
        durations, billed_sum, used, inits = self.durations, self.billed, self.used, self.inits
        if special:
            keep = [i for i in range(len(durations)) if i not in special]
            durations = [durations[i] for i in keep]
            billed_sum = math.fsum(float(self.billed_column[i]) for i in keep)
            # the max may come from a special row: it is added back below from its report
            used = list(map(int, {self.used_column[i] for i in keep}))
            inits = [float(self.init_column[i]) for i in keep if self.init_column[i]]
        cold = len(inits)
        errors = timeouts = 0
        has_billed = len(self.durations) > len(special)
        used_max = max(used, default=None)
        for report, timed_out, failed in special.values():
            if report.duration_ms is not None:
                durations.append(report.duration_ms)
            timeout = report.timed_out or timed_out
            timeouts += timeout
            errors += report.failed or failed or timeout
            if report.cold_start:
                cold += 1
                if report.startup_ms is not None:
                    inits.append(report.startup_ms)
            if report.billed_ms is not None:
                billed_sum += report.billed_ms
                has_billed = True
            if report.max_memory_used_mb is not None:
                used_max = max(used_max or 0, report.max_memory_used_mb)
        return InvocationBatch(
            function=name, invocations=len(self.durations), durations_ms=durations, errors=errors,
            timeouts=timeouts, cold_starts=cold, init_ms=inits, billed_ms=billed_sum if has_billed else None,
            memory_size_mb=memory_size_mb, memory_used_max_mb=used_max,
        )


def _chunk_records(
    chunk: str, first_line: int, function: str | None, fallback: str, stats: IngestStats
) -> Iterator[_Item]:
    for number, line in enumerate(chunk.split("\n")[:-1], first_line):
        # cheap substring tests first: most lines are application output
        if not ("REPORT" in line or "INIT_" in line or "Task timed" in line or "platform." in line
                or "Invoke Error" in line or "Unhandled exception" in line):
            continue
        try:
            record = parse_text(line)
        except MalformedRecord as exc:
            stats.lines_skipped += 1
            log.debug("line %d skipped: %s", number, exc)
            continue
        if record is None:
            continue
        name = function or _group_in_prefix(line) or fallback
        at = leading_time(line, _marker_at(line))
        yield name, at, record, None


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

    def add(self, name: str, at: datetime | None, record: LogRecord, account: str | None) -> Iterator[LogEvent]:
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

    def take_early(self, name: str, request_ids: Sequence[str]) -> dict[int, tuple[bool, bool]]:
        """(timeout, error) flags remembered for these REPORTs (by index), consumed as `add` would."""
        found: dict[int, tuple[bool, bool]] = {}
        for i, rid in enumerate(request_ids):
            if not self.early:
                break
            timeout = error = False
            for key in ((name, rid), (name, None)):
                flags = self.early.pop(key, None)
                if flags:
                    timeout |= flags[0]
                    error |= flags[1]
            if timeout or error:
                found[i] = (timeout, error)
        return found

    def flush(self) -> Iterator[LogEvent]:
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
