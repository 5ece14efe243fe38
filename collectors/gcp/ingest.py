"""`opsview ingest --provider gcp`: LogEntry JSON as `gcloud logging read --format=json` prints it.

Accepts a JSON list of entries (gen1 and gen2 mixed), a single entry, JSON Lines, or an
`entries:list` response (`{"entries": [...]}`). The input is decoded one entry at a time, so
memory follows the largest entry, not the file.

Counting: every JSON value decoded at the top level (or inside `entries`) is one record read.
Skipped = not valid JSON (nesting past the recursion limit included), not an object, or an
execution/request/instance-start entry that lacks a field we need or holds a number or time no platform
writes (`opsview.collectors.gcp.entries`). Entries that are simply other logs (`Function execution
started`, app output) are read and ignored, not skipped. Error records (entries at severity ERROR and above,
gen1 executions that crashed or timed out) become `ErrorEvent`s by the collector's rule (`entries.parse_error`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import TextIO

from opsview.collectors.gcp.entries import (
    ErrorEntry,
    Generation,
    InstanceStart,
    Invocation,
    MalformedEntryError,
    failed_execution,
    parse_entry,
    parse_error,
)
from opsview.ingest import IngestStats, InputFormat
from opsview.logevents import ColdStartEvent, ErrorEvent, InvocationEvent, LogEvent
from opsview.untrusted import json_raw_decode

FORMAT = InputFormat(
    "no Cloud Functions log entries found (expected the LogEntry JSON of `gcloud logging read ... --format=json`: "
    "gen1 execution lines, gen2 request logs)",
    re.compile(r'"logName"\s*:|^logName:\s|"cloud_function"|cloud_run_revision|cloudfunctions\.googleapis\.com',
               re.MULTILINE),
)

_CHUNK = 1 << 20
_MAX_ENTRY = 1 << 20  # Cloud Logging caps an entry at 256 KiB; past this a failing value is garbage
_SEPARATORS = " \t\r\n,[]"
# after garbage, go on at the next line that can start a value (a key or a closing brace cannot)
_NEXT_VALUE = re.compile(r"\n[ \t]*[^ \t\r\n\"}\],:]")
_DECODER = json.JSONDecoder()


def _values(stream: TextIO, stats: IngestStats) -> Iterator[object]:
    """Top-level JSON values of a list, a single value, or JSON Lines; garbage counted and skipped."""
    buf = ""
    pos = 0
    eof = False
    while True:
        n = len(buf)
        while pos < n and buf[pos] in _SEPARATORS:
            pos += 1
        if pos >= n or (not eof and n - pos < 2):
            if eof:
                return
            chunk = stream.read(_CHUNK)
            buf = buf[pos:] + chunk
            pos = 0
            eof = not chunk
            continue
        try:
            value, end = json_raw_decode(_DECODER, buf, pos)
        except json.JSONDecodeError:
            if not eof and len(buf) - pos < _MAX_ENTRY:
                chunk = stream.read(_CHUNK)  # probably cut at the chunk's end: read on, then retry
                buf = buf[pos:] + chunk
                pos = 0
                eof = not chunk
                continue
            stats.lines_read += 1
            stats.lines_skipped += 1
            resync = _NEXT_VALUE.search(buf, pos + 1)
            pos = resync.start() if resync else len(buf)
            continue
        pos = end
        if isinstance(value, Mapping) and "entries" in value and "resource" not in value:
            entries = value["entries"]
            if isinstance(entries, list):
                yield from entries
                continue
        yield value


def read(stream: TextIO, source_name: str, function: str | None, stats: IngestStats) -> Iterator[LogEvent]:
    """`IngestReader` for GCP: Cloud Functions gen1 and gen2 LogEntry JSON."""
    stats.errors_read = True
    for value in _values(stream, stats):
        stats.lines_read += 1
        error: ErrorEntry | None = None
        try:
            event = parse_entry(value, function)
            if event is None:
                error = parse_error(value, function)
            elif type(event) is Invocation and isinstance(value, dict):
                error = failed_execution(event, value)
        except MalformedEntryError:
            stats.lines_skipped += 1
            continue
        if error is not None:
            yield ErrorEvent(function=error.function, at=error.at, error_type=error.error_type, message=error.message,
                             request_id=error.sample_id, sample=error.sample, account=error.project,
                             region=error.region)
        if event is None:
            continue
        converted = to_ingest_event(event)
        if converted is not None:
            yield converted


def to_ingest_event(event: Invocation | InstanceStart) -> LogEvent | None:
    if isinstance(event, InstanceStart):
        if not event.cold_start:
            return None  # a rollout or min-instance start: no request waited on it
        return ColdStartEvent(function=event.function, at=event.at, account=event.project, region=event.region)
    return InvocationEvent(
        function=event.function,
        at=event.at,
        duration_ms=event.duration_ms,
        # gen1 has no cold-start marker (unknown); gen2 logs its instance starts, which arrive as ColdStartEvent:
        # a request is not one, so a gen2 minute without a start has 0 cold starts, as the collector says
        cold_start=None if event.generation is Generation.GEN1 else False,
        error=event.error,
        timeout=event.timeout,
        # gen1 never logs the platform's rejections (unknown, as the collector says); gen2 logs every 429
        throttled=None if event.generation is Generation.GEN1 else event.throttled,
        account=event.project,
        region=event.region,
    )

