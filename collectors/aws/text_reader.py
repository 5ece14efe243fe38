"""Raw Lambda log text (console copies, `sam logs`, `aws logs tail`) -> records, in chunks (AWS ingest).

Raw text is read in chunks of 1 MiB cut at a line end. When no per-minute times are wanted
(`IngestStats.times_needed` is False) and a chunk holds only REPORT records (no timeout, error, INIT_REPORT
or JSON platform lines), its records are summed in bulk (`opsview.collectors.aws.report_batches`), without a
Python step per line; a chunk with a few such lines is cut around them (`split`) and the pieces between
are summed in bulk.

1. `opsview.collectors.aws.columns.parse_columns` reads every REPORT of the chunk as numpy columns when all are in
   the exact layout Lambda writes (it also finds the other records' marks, in the same pass), if numpy is
   loaded already or the input is 16 MiB or more (`use_columns`: about where it pays for importing numpy);
2. else one regex `findall` over the chunk gives a row per REPORT (other layouts: an empty row);
3. any other chunk (or one with an empty row) is read line by line.

All three read the same numbers and count the same lines; `tests/unit/aws/test_aws_ingest_bulk.py` runs
every case through each bulk reader and compares it with the line-by-line path.

Error records (`opsview.collectors.aws.error_lines`: the collector's rule) are found in every chunk by one
regex search for their marker words, whichever path reads its REPORTs, and become `ErrorEvent`s.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from opsview.collectors.aws import correlator
from opsview.collectors.aws.correlator import Correlator, Item
from opsview.collectors.aws.error_lines import error_event, text_errors
from opsview.collectors.aws.logs import (
    INIT_REPORT_MARK,
    REPORT_MARK,
    TIMEOUT_MARK,
    MalformedRecord,
    function_from_log_group,
    leading_time,
    parse_text,
)
from opsview.collectors.aws.report_batches import OTHER_MARKS, REPORT_LINE, bulk_columns, bulk_reports
from opsview.ingest import IngestStats
from opsview.logevents import LogEvent

if TYPE_CHECKING:
    from opsview.collectors.aws.columns import ReportColumns

log = logging.getLogger(__name__)

TEXT_CHUNK = 1 << 20  # raw text is handled this many characters at a time (plus the rest of a cut line)


def _chunks(head: str, stream: TextIO) -> Iterator[str]:
    """`head` + the rest of `stream` in pieces that each end with a newline (one is added at the very end).

    CRLF and lone CR line ends become LF, so every line (and so `lines_read`) is one `\n`."""
    text = head
    while True:
        data = stream.read(TEXT_CHUNK)
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


# The numpy reader (`parse_columns`) is used when numpy is loaded already, or once the input is known (file
# size) or seen (stdin) to be this large: it saves ~4.5 ms per MiB, importing numpy costs ~0.14 s CPU and
# ~15 MB (measured: 22 MB 0.26 -> 0.31 s, 110 MB 1.28 -> 0.82 s). From 16 MiB on, so that memory is the same
# for every large input. Pieces shorter than COLUMNS_TEXT (lines cut out around a timeout...) take the regex.
COLUMNS_MIN = 16 << 20
COLUMNS_TEXT = 1 << 14


def use_columns(input_size: int) -> bool:
    return "numpy" in sys.modules or input_size >= COLUMNS_MIN


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


def read_text(
    head: str, stream: TextIO, function: str | None, fallback: str, stats: IngestStats, correlate: Correlator
) -> Iterator[LogEvent]:
    bulk = not stats.times_needed
    chunks = _chunks(head, stream)
    pieces: deque[str] = deque()  # the rest of a chunk cut by `split`, read before the next chunk
    size = _size(stream)
    seen = 0

    def classify(text: str) -> _Chunk:
        if not bulk or (function is None and "/aws/lambda/" in text):
            return _Chunk(text)
        if len(text) >= COLUMNS_TEXT and use_columns(max(size, seen)):
            from opsview.collectors.aws.columns import parse_columns  # numpy: only for large inputs

            columns = parse_columns(text, OTHER_MARKS)  # also None when the text has one of the marks
            if columns is not None:
                return _Chunk(text, columns=columns if len(columns) > correlator.PENDING else None, lines=columns.lines)
        if any(mark in text for mark in OTHER_MARKS):
            cut = split(text)
            if len(cut) == 1:
                return _Chunk(text)
            pieces.extendleft(reversed(cut[1:]))
            return classify(cut[0])
        rows = REPORT_LINE.findall(text)
        return _Chunk(text, rows if len(rows) > correlator.PENDING else None)

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
        yield from _errors(current.text, function, fallback)
        upcoming = take()
        first_line = stats.lines_read + 1
        stats.lines_read += current.text.count("\n") if current.lines is None else current.lines
        if current.bulk:
            # A REPORT stays open for `Task timed out` / error lines until `correlator.PENDING` newer REPORTs arrived;
            # when those are all in the next chunk and it has no such lines (or there is none), nothing can.
            hold = 0 if upcoming is None or upcoming.bulk else correlator.PENDING
            name = function or fallback
            events: list[LogEvent] | None
            if current.columns is not None:
                events = bulk_columns(current.columns, name, correlate, hold)
            else:
                events = bulk_reports(current.rows or [], name, correlate, hold)
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


def split(text: str) -> list[str]:
    """`text` cut before and after each line holding another record's mark (a timeout, an error...), so the
    REPORTs between those lines can still be summed in bulk. Each piece is whole lines; joined, they are `text`.
    The usual rule keeps the meaning: the last `correlator.PENDING` REPORTs before a cut go through the correlator."""
    lines: set[tuple[int, int]] = set()
    for mark in OTHER_MARKS:
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


def _chunk_records(
    chunk: str, first_line: int, function: str | None, fallback: str, stats: IngestStats
) -> Iterator[Item]:
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


def _errors(text: str, function: str | None, fallback: str) -> Iterator[LogEvent]:
    for line, marker, found in text_errors(text):
        name = function or _group_in_prefix(line) or fallback
        yield error_event(found, name, leading_time(line, marker))


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

