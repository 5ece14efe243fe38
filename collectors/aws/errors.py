"""Error signatures per function and minute from CloudWatch Logs: Logs Insights first, FilterLogEvents as fallback.

Insights: one query per at most 50 log groups (planned, split and stopped as the cold-start queries are:
`opsview.collectors.aws.insights`), counting in the query. It parses each error record's parts with the
regular expressions of `error_lines.PARTS` and groups by them, so a row is one kind of record of one
function in one bin, with its count, its latest message as the sample and its latest time
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Parse.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html: `count(*)`, `max`,
`latest(fieldName)`; https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Filter.html:
`like /regex/`, `ispresent`). `error_lines.decide` names each row; rows of one signature (records that differ
only in what the signature rule replaces, e.g. the number in `Task timed out after 3.00 seconds`) add up.
Grouping by the parts themselves, never by a coarser key, keeps distinct failures apart: the signature is
a function of the parts.

FilterLogEvents (when Insights is denied): the error terms per group, every matching event read and named
here by the same rule; calls grow with the error records.

A function's errors are counted whole for a stretch only when its log group was read completely there
(`LogReadResult.known`); rows of a query cut by the row cap or stopped at the deadline are not used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opsview.collectors.aws.error_lines import (
    ERROR_FIELDS,
    FIELDS,
    FILTER_PATTERN,
    MARKERS,
    PARTS,
    ErrorParts,
    decide,
    extract,
    request_id,
)
from opsview.collectors.aws.insights import (
    LogReadResult,
    QueryUnit,
    bin_start,
    bin_unit,
    group_of,
    plan_queries,
    result_float,
    row_cells,
    run_queries,
)
from opsview.collectors.aws.logsources import GroupReaders, filtered_events
from opsview.collectors.aws.metrics import Segment
from opsview.error_records import ErrorObservation
from opsview.schema import FunctionKey, from_epoch
from opsview.signatures import signature

# a custom group's stream is "YYYY/MM/DD/<function>[<version>]<guid>": the function is read from it
_BY_STREAM: Final = r"| parse @logStream /^\d{4}\/\d{2}\/\d{2}\/(?<fn>[^\[\]\/]+)\[/"


def query(bin_s: int, by_stream: bool) -> str:
    """The error query for default groups (rows by `@log`) or custom groups (also by the stream's function)."""
    lines = [f"filter @message like /{MARKERS}/"]
    lines += [f"| parse @message /{regex}/" for _, regex in PARTS]
    lines.append("| filter " + " or ".join(f"ispresent({name})" for name in ERROR_FIELDS))
    if by_stream:
        lines.append(_BY_STREAM)
    by = ", ".join(["@log", *(["fn"] if by_stream else []), *FIELDS])
    lines.append(f"| stats count(*) as n, max(@timestamp) as last_at, latest(@message) as sample "
                 f"by bin({bin_unit(bin_s)}) as minute, {by}")
    return "\n".join(lines)


@dataclass(slots=True)
class Seen:
    """One signature of one function in one bin: how often, and its latest record."""

    error_type: str | None
    count: int = 0
    sample: str | None = None
    sample_at: int | None = None  # epoch seconds


Found = dict[tuple[str, int, str], Seen]
"""(function name, bin start epoch, signature) -> what was seen."""


@dataclass(slots=True)
class ErrorResult(LogReadResult):
    found: Found = field(default_factory=dict)

    def add(self, name: str, start: int, error_type: str | None, message: str, count: int,
            sample: str | None, at: int | None) -> None:
        sig = signature(error_type, message)
        seen = self.found.get((name, start, sig))
        if seen is None:
            seen = self.found[(name, start, sig)] = Seen(error_type)
        seen.count += count
        if sample is not None and (seen.sample is None or (at or start) >= (seen.sample_at or start)):
            seen.sample, seen.sample_at = sample, at

    def observations(self, keys: Mapping[str, FunctionKey]) -> list[ErrorObservation]:
        out = []
        for (name, start, sig), seen in sorted(self.found.items()):
            key = keys.get(name)
            if key is None or seen.count <= 0:
                continue
            at = seen.sample_at
            out.append(ErrorObservation(
                key=key, minute=from_epoch(start), signature=sig, error_type=seen.error_type, count=seen.count,
                sample=seen.sample, sample_id=request_id(seen.sample) if seen.sample else None,
                sample_at=from_epoch(at) if at is not None and at >= start else None,
            ))
        return out


def _last_at(text: str | None, start: int) -> int | None:
    """`max(@timestamp)` as the service prints a time (`2024-05-01 10:00:01.000`), or epoch milliseconds."""
    if not text:
        return None
    at = bin_start(text)
    if at is None:
        ms = result_float(text)
        at = int(ms // 1000) if ms is not None and ms > 1e11 else None
    return at if at is not None and at >= start else None


def fold_rows(rows: Sequence[Sequence[Mapping[str, str]]], unit: QueryUnit, readers: Mapping[str, GroupReaders],
              result: ErrorResult) -> None:
    for row in rows:
        cells = row_cells(row)
        group = group_of(cells.get("@log") or "", unit)
        name = readers[group].attribute(None, cells.get("fn") or None) if group is not None else None
        start = bin_start(cells.get("minute") or "")
        count = result_float(cells.get("n"))
        if name is None or start is None or count is None or count < 1:
            continue
        decided = decide(ErrorParts(**{f: cells.get(f) or None for f in FIELDS}))
        if decided is None:
            continue
        result.add(name, start, *decided, int(count), cells.get("sample"), _last_at(cells.get("last_at"), start))


def run_insights(
    logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment], *, deadline_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> ErrorResult:
    """The error queries (raises the SDK's error when Insights is denied or down, for the fallback)."""
    result = ErrorResult(method="insights")

    def fold(rows: Sequence[Sequence[Mapping[str, str]]], unit: QueryUnit) -> None:
        fold_rows(rows, unit, readers, result)

    run_queries(logs, plan_queries(readers, segments, query), readers, fold, result, what="errors",
                deadline_s=deadline_s, sleep=sleep, clock=clock)
    return result


def run_filter(logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment]) -> ErrorResult:
    """FilterLogEvents on the error terms, one group at a time, every record named by `error_lines`."""
    result = ErrorResult(method="filter")
    if not segments:
        return result
    for name, at_ms, message in filtered_events(logs, readers, segments[0].start, segments[-1].end, FILTER_PATTERN):
        found = extract(message)
        at = at_ms // 1000
        segment = next((s for s in segments if s.contains(at)), None)
        if found is not None and segment is not None:
            result.add(name, segment.bucket(at), found.error_type, found.message, 1, found.sample, at)
    result.read.update(f for owner in readers.values() for f in owner.functions)
    return result


def covered(result: ErrorResult, names: Sequence[str], start: int, end: int) -> list[tuple[int, int]]:
    """`[start, end)` minus the stretches any of `names` could not be read in (for one function: its own)."""
    holes = sorted((a, b) for name in names for a, b in result.gaps.get(name, ()))
    out = []
    at = start
    for a, b in holes:
        if a > at:
            out.append((at, min(a, end)))
        at = max(at, b)
    if at < end:
        out.append((at, end))
    return [(a, b) for a, b in out if a < b]
