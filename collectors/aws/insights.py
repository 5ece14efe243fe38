"""Logs Insights queries over many log groups, planned under the row cap and run with a deadline.

Shared by the cold-start read (`coldstarts`) and the error-signature read (`errors`): both send one
`stats ... by bin(...), @log[, fn]` query per at most 50 log groups (StartQuery `logGroupNames`), poll up to
30 queries at once (the account's concurrent-query quota), and fold each complete result.

Logs Insights returns at most `limit` rows (10,000 per GetQueryResults page:
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html), so queries are cut (by log
groups, then by time) until their possible rows stay under the cap; a result that still reaches it is split
and asked again, and where it cannot be split its stretch stays unknown. A query that failed, or was stopped
at the deadline, leaves its stretch unknown too.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from opsview.collectors.aws.logsources import GroupReaders
from opsview.collectors.aws.metrics import Segment
from opsview.schema import to_epoch

log = logging.getLogger(__name__)

GROUPS_PER_QUERY: Final = 50  # StartQuery logGroupNames
QUERIES_IN_FLIGHT: Final = 30
MAX_ROWS: Final = 10_000  # the rows one query returns here (StartQuery `limit`; one GetQueryResults page)

QueryBuilder = Callable[[int, bool], str]
"""(bin seconds, attribute by stream) -> the query text."""


def bin_unit(bin_s: int) -> str:
    """`bin()`'s argument for a bin of `bin_s` seconds (whole minutes or hours)."""
    return f"{bin_s // 3600}h" if bin_s % 3600 == 0 else f"{bin_s // 60}m"


@dataclass(slots=True)
class LogReadResult:
    """What one read of the functions' log groups saw, and which of it is known whole."""

    read: set[str] = field(default_factory=set)
    """Functions whose log group was read: a bin of theirs without an entry had nothing to count..."""
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """...unless it overlaps one of these `[start, end)` stretches, which could not be read completely."""
    method: str = "insights"
    error: str | None = None

    def known(self, function: str, start: int, end: int) -> bool:
        """Whether everything of `function` in `[start, end)` was seen."""
        if function not in self.read:
            return False
        return not any(a < end and start < b for a, b in self.gaps.get(function, ()))

    def mark_gap(self, functions: Iterable[str], start: int, end: int) -> None:
        for name in functions:
            self.gaps.setdefault(name, []).append((start, end))


@dataclass(frozen=True, slots=True)
class QueryUnit:
    """One StartQuery: log groups of one kind over `[start, end)` (epoch seconds), binned by `bin_s`."""

    groups: tuple[str, ...]
    start: int
    end: int
    bin_s: int
    by_stream: bool
    build: QueryBuilder = field(compare=False)
    """Makes the query text: the cold-start or the error query."""

    @property
    def query(self) -> str:
        return self.build(self.bin_s, self.by_stream)

    def split(self) -> list[QueryUnit] | None:
        """Two halves (by time, else by groups), or `None` when it is one group over one bin."""
        bins = (self.end - self.start) // self.bin_s
        if bins > 1:
            mid = self.start + bins // 2 * self.bin_s
            return [QueryUnit(self.groups, self.start, mid, self.bin_s, self.by_stream, self.build),
                    QueryUnit(self.groups, mid, self.end, self.bin_s, self.by_stream, self.build)]
        if len(self.groups) > 1:
            half = len(self.groups) // 2
            return [QueryUnit(self.groups[:half], self.start, self.end, self.bin_s, self.by_stream, self.build),
                    QueryUnit(self.groups[half:], self.start, self.end, self.bin_s, self.by_stream, self.build)]
        return None


def _weight(readers: GroupReaders) -> int:
    """Rows one group can give per bin: one (by `@log`), or one per function writing to it (by stream)."""
    return max(1, len(readers.functions)) if readers.by_stream else 1


def plan_queries(readers: Mapping[str, GroupReaders], segments: Sequence[Segment],
                 build: QueryBuilder) -> list[QueryUnit]:
    """Queries whose possible rows (sum of group weights x bins) stay below `MAX_ROWS`, at most 50 groups each.

    For a query grouped by more than the bin and the function (error signatures), the weights count one row
    per function and bin: the common case (most minutes have no error, or one kind of error). A result
    that reaches the cap anyway is split and asked again (`run_queries`)."""
    units: list[QueryUnit] = []
    for segment in segments:
        for by_stream in (False, True):
            groups = sorted(g for g, r in readers.items() if r.by_stream == by_stream)
            if not groups:
                continue
            heaviest = max(_weight(readers[g]) for g in groups)
            span_bins = max(1, (MAX_ROWS - 1) // heaviest)
            for lo in range(segment.start, segment.end, span_bins * segment.period):
                hi = min(segment.end, lo + span_bins * segment.period)
                bins = (hi - lo) // segment.period
                chunk: list[str] = []
                rows = 0
                for group in groups:
                    weight = _weight(readers[group]) * bins
                    if chunk and (len(chunk) == GROUPS_PER_QUERY or rows + weight > MAX_ROWS - 1):
                        units.append(QueryUnit(tuple(chunk), lo, hi, segment.period, by_stream, build))
                        chunk, rows = [], 0
                    chunk.append(group)
                    rows += weight
                units.append(QueryUnit(tuple(chunk), lo, hi, segment.period, by_stream, build))
    return units


def bin_start(text: str) -> int | None:
    """A bin's (or @timestamp's) value in a result row: `2024-05-01 10:00:00.000`, as epoch seconds."""
    try:
        parsed = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return to_epoch(parsed)


def result_float(text: str | None) -> float | None:
    try:
        return None if text is None or text == "" else float(text)
    except ValueError:
        return None


def group_of(log_value: str, unit: QueryUnit) -> str | None:
    """`@log` is `account-id:group-name`; match it to one of the unit's groups."""
    name = log_value.split(":", 1)[1] if ":" in log_value else log_value
    return name if name in unit.groups else None


def row_cells(row: Sequence[Mapping[str, str]]) -> dict[str | None, str | None]:
    """A `GetQueryResults.results` row (a list of {field, value}) as a mapping."""
    return {c.get("field"): c.get("value") for c in row}


def unit_functions(unit: QueryUnit, readers: Mapping[str, GroupReaders]) -> set[str]:
    return {name for group in unit.groups for name in readers[group].functions}


def _stop(logs: Any, query_ids: Iterable[str]) -> None:
    for query_id in query_ids:
        try:
            logs.stop_query(queryId=query_id)
        except Exception:  # best effort: a query also ends on its own
            log.debug("stop_query %s failed", query_id, exc_info=True)


Fold = Callable[[Sequence[Sequence[Mapping[str, str]]], QueryUnit], None]
"""Takes one complete (uncapped) result of a unit."""


def run_queries(
    logs: Any, units: Iterable[QueryUnit], readers: Mapping[str, GroupReaders], fold: Fold, result: LogReadResult,
    *, what: str, deadline_s: float = 60.0, sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Up to 30 queries in flight, polled with backoff; unfinished queries are stopped at the deadline.

    Stretches not read whole are marked in `result.gaps`, and `result.error` says why ("... `what` there
    left unknown"). Raises the SDK's error when StartQuery or GetQueryResults fails (denied, unavailable) so
    the caller can fall back, after stopping every query it had started.
    """
    result.read.update(name for r in readers.values() for name in r.functions)
    todo = deque(units)
    running: dict[str, QueryUnit] = {}
    give_up = clock() + deadline_s
    delay = 0.25
    capped = failed = 0
    try:
        while todo or running:
            while todo and len(running) < QUERIES_IN_FLIGHT:
                unit = todo.popleft()
                reply = logs.start_query(
                    logGroupNames=list(unit.groups), startTime=unit.start, endTime=unit.end - 1,
                    queryString=unit.query, limit=MAX_ROWS,
                )
                running[reply["queryId"]] = unit
            for query_id in list(running):
                reply = logs.get_query_results(queryId=query_id)
                status = reply.get("status")
                if status == "Complete":
                    unit = running.pop(query_id)
                    rows = reply.get("results", [])
                    if len(rows) < MAX_ROWS and not reply.get("nextToken"):
                        fold(rows, unit)
                        continue
                    halves = unit.split()  # the cap cut it short: its missing rows are not zeros
                    if halves is not None:
                        todo.extendleft(reversed(halves))
                    else:
                        capped += 1
                        result.mark_gap(unit_functions(unit, readers), unit.start, unit.end)
                elif status in ("Failed", "Cancelled", "Timeout", "Unknown"):
                    unit = running.pop(query_id)
                    failed += 1
                    result.mark_gap(unit_functions(unit, readers), unit.start, unit.end)
            if not running and not todo:
                break
            if clock() >= give_up:
                _stop(logs, running)
                unfinished = list(running.values()) + list(todo)
                for unit in unfinished:
                    result.mark_gap(unit_functions(unit, readers), unit.start, unit.end)
                result.error = _join(result.error, f"{len(unfinished)} queries unfinished at the "
                                                   f"{deadline_s:.0f}s deadline")
                running.clear()
                break
            sleep(delay)
            delay = min(delay * 2, 2.0)
    except BaseException:
        _stop(logs, running)  # a failed start or poll leaves none of ours running (30 may run per account)
        raise
    if capped:
        result.error = _join(result.error, f"{capped} queries still at the {MAX_ROWS:,}-row cap")
    if failed:
        result.error = _join(result.error, f"{failed} queries failed")
    if result.error:
        result.error = f"Logs Insights: {result.error}; {what} there left unknown"


def _join(first: str | None, second: str) -> str:
    return second if first is None else f"{first}, {second}"
