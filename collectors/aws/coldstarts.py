"""Cold starts per function and bucket from CloudWatch Logs: Logs Insights first, FilterLogEvents as the fallback.

Lambda reports a cold start only in its logs (`Init Duration` / `Restore Duration` in REPORT, or
`initDurationMs` / `restoreDurationMs` in `platform.report`), never as a metric.

A function's bucket gets 0 cold starts only when its log group was read completely for that bucket. Logs
Insights returns at most `limit` rows (10,000 per GetQueryResults page:
https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html), so queries are cut (by log
groups, then by time) until their possible rows stay under the cap; a result that still reaches it is split
and asked again, and where it cannot be split its stretch stays unknown. A query that failed, or was stopped
at the deadline, leaves its stretch unknown too.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from opsview.collectors.aws.logs import MalformedRecord, Report, parse_json, parse_text
from opsview.collectors.aws.logsources import GroupReaders
from opsview.collectors.aws.metrics import Segment
from opsview.schema import to_epoch

log = logging.getLogger(__name__)

GROUPS_PER_QUERY: Final = 50  # StartQuery logGroupNames
QUERIES_IN_FLIGHT: Final = 30
MAX_ROWS: Final = 10_000  # the rows one query returns here (StartQuery `limit`; one GetQueryResults page)
FILTER_PATTERN: Final = '?"Init Duration" ?"Restore Duration" ?initDurationMs ?restoreDurationMs'

_QUERY: Final = r"""filter @message like /REPORT RequestId|platform\.report/
| parse @message /(?:Init Duration: |"initDurationMs":\s*)(?<initms>[0-9.]+)/
| parse @message /(?:Restore Duration: |"restoreDurationMs":\s*)(?<restorems>[0-9.]+)/
| filter ispresent(initms) or ispresent(restorems)
"""
# a custom group's stream is "YYYY/MM/DD/<function>[<version>]<guid>": the function is read from it
_BY_STREAM: Final = r"""| parse @logStream /^\d{4}\/\d{2}\/\d{2}\/(?<fn>[^\[\]\/]+)\[/
"""
_STATS: Final = """| stats count(*) as cold_starts, avg(coalesce(initms, restorems)) as init_avg,
        pct(coalesce(initms, restorems), 95) as init_p95 by bin({bin}) as minute, @log{by}"""


def insights_query(bin_s: int, by_stream: bool) -> str:
    """The query for default groups (rows by `@log`) or custom groups (rows by `@log` and stream function)."""
    unit = f"{bin_s // 3600}h" if bin_s % 3600 == 0 else f"{bin_s // 60}m"
    return _QUERY + (_BY_STREAM if by_stream else "") + _STATS.format(bin=unit, by=", fn" if by_stream else "")


INSIGHTS_QUERY: Final = insights_query(60, False)


@dataclass(slots=True)
class ColdStats:
    cold_starts: int = 0
    init_avg_ms: float | None = None
    init_p95_ms: float | None = None


ColdBuckets = dict[tuple[str, int], ColdStats]
"""(function name, bin start epoch) -> cold starts in that bin (a minute, or the segment's period)."""


@dataclass(slots=True)
class ColdStartResult:
    buckets: ColdBuckets = field(default_factory=dict)
    read: set[str] = field(default_factory=set)
    """Functions whose log group was read: a bucket of theirs without an entry had no cold start..."""
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """...unless it overlaps one of these `[start, end)` stretches, which could not be read completely."""
    method: str = "insights"
    error: str | None = None

    def known(self, function: str, start: int, end: int) -> bool:
        """Whether every cold start of `function` in `[start, end)` was seen."""
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

    @property
    def query(self) -> str:
        return insights_query(self.bin_s, self.by_stream)

    def split(self) -> list[QueryUnit] | None:
        """Two halves (by time, else by groups), or `None` when it is one group over one bin."""
        bins = (self.end - self.start) // self.bin_s
        if bins > 1:
            mid = self.start + bins // 2 * self.bin_s
            return [QueryUnit(self.groups, self.start, mid, self.bin_s, self.by_stream),
                    QueryUnit(self.groups, mid, self.end, self.bin_s, self.by_stream)]
        if len(self.groups) > 1:
            half = len(self.groups) // 2
            return [QueryUnit(self.groups[:half], self.start, self.end, self.bin_s, self.by_stream),
                    QueryUnit(self.groups[half:], self.start, self.end, self.bin_s, self.by_stream)]
        return None


def _weight(readers: GroupReaders) -> int:
    """Rows one group can give per bin: one (by `@log`), or one per function writing to it (by stream)."""
    return max(1, len(readers.functions)) if readers.by_stream else 1


def plan_queries(readers: Mapping[str, GroupReaders], segments: Sequence[Segment]) -> list[QueryUnit]:
    """Queries whose possible rows (sum of group weights x bins) stay below `MAX_ROWS`, at most 50 groups each."""
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
                        units.append(QueryUnit(tuple(chunk), lo, hi, segment.period, by_stream))
                        chunk, rows = [], 0
                    chunk.append(group)
                    rows += weight
                units.append(QueryUnit(tuple(chunk), lo, hi, segment.period, by_stream))
    return units


def _bin_start(text: str) -> int | None:
    try:
        parsed = datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return to_epoch(parsed)


def _float(text: str | None) -> float | None:
    try:
        return None if text is None or text == "" else float(text)
    except ValueError:
        return None


def _group_of(log_value: str, unit: QueryUnit) -> str | None:
    """`@log` is `account-id:group-name`; match it to one of the unit's groups."""
    name = log_value.split(":", 1)[1] if ":" in log_value else log_value
    return name if name in unit.groups else None


def fold_insights_rows(rows: Sequence[Sequence[Mapping[str, str]]], unit: QueryUnit,
                       readers: Mapping[str, GroupReaders], into: ColdBuckets) -> None:
    """`GetQueryResults.results`: each row is a list of {field, value}."""
    for row in rows:
        cells = {c.get("field"): c.get("value") for c in row}
        group = _group_of(cells.get("@log") or "", unit)
        name = readers[group].attribute(None, cells.get("fn") or None) if group is not None else None
        start = _bin_start(cells.get("minute") or "")
        count = _float(cells.get("cold_starts"))
        if name is None or start is None or count is None:
            continue
        into[(name, start)] = ColdStats(int(count), _float(cells.get("init_avg")), _float(cells.get("init_p95")))


def _functions(unit: QueryUnit, readers: Mapping[str, GroupReaders]) -> set[str]:
    return {name for group in unit.groups for name in readers[group].functions}


def _stop(logs: Any, query_ids: Iterable[str]) -> None:
    for query_id in query_ids:
        try:
            logs.stop_query(queryId=query_id)
        except Exception:  # best effort: a query also ends on its own
            log.debug("stop_query %s failed", query_id, exc_info=True)


def run_insights(
    logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment], *, deadline_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> ColdStartResult:
    """Up to 30 queries in flight, polled with backoff; unfinished queries are stopped at the deadline.

    Raises the SDK's error when StartQuery or GetQueryResults fails (denied, unavailable) so the caller can
    fall back, after stopping every query it had started.
    """
    result = ColdStartResult(method="insights")
    result.read.update(name for r in readers.values() for name in r.functions)
    todo = deque(plan_queries(readers, segments))
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
                        fold_insights_rows(rows, unit, readers, result.buckets)
                        continue
                    halves = unit.split()  # the cap cut it short: its missing rows are not zeros
                    if halves is not None:
                        todo.extendleft(reversed(halves))
                    else:
                        capped += 1
                        result.mark_gap(_functions(unit, readers), unit.start, unit.end)
                elif status in ("Failed", "Cancelled", "Timeout", "Unknown"):
                    unit = running.pop(query_id)
                    failed += 1
                    result.mark_gap(_functions(unit, readers), unit.start, unit.end)
            if not running and not todo:
                break
            if clock() >= give_up:
                _stop(logs, running)
                unfinished = list(running.values()) + list(todo)
                for unit in unfinished:
                    result.mark_gap(_functions(unit, readers), unit.start, unit.end)
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
        result.error = f"Logs Insights: {result.error}; cold starts there left unknown"
    return result


def _join(first: str | None, second: str) -> str:
    return second if first is None else f"{first}, {second}"


def run_filter(logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment]) -> ColdStartResult:
    """FilterLogEvents on the cold-start terms, one group at a time (the fallback when Insights is denied)."""
    result = ColdStartResult(method="filter")
    if not segments:
        return result
    start, end = segments[0].start, segments[-1].end
    inits: dict[tuple[str, int], list[float]] = {}
    paginator = logs.get_paginator("filter_log_events")
    for group, owner in sorted(readers.items()):
        pages = paginator.paginate(
            logGroupName=group, startTime=start * 1000, endTime=end * 1000 - 1, filterPattern=FILTER_PATTERN,
        )
        for page in pages:
            for event in page.get("events", []):
                name = owner.attribute(str(event.get("logStreamName") or ""))
                report = _report(str(event.get("message", "")))
                if name is None or report is None or not report.cold_start:
                    continue
                minute = int(event["timestamp"]) // 60_000 * 60
                stats = result.buckets.setdefault((name, minute), ColdStats())
                stats.cold_starts += 1
                if report.startup_ms is not None:
                    inits.setdefault((name, minute), []).append(report.startup_ms)
        result.read.update(owner.functions)
    for key, values in inits.items():
        values.sort()
        stats = result.buckets[key]
        stats.init_avg_ms = sum(values) / len(values)
        stats.init_p95_ms = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return result


def _report(message: str) -> Report | None:
    try:
        body = message.lstrip()
        if body.startswith("{"):
            obj = json.loads(body)
            record = parse_json(obj) if isinstance(obj, dict) else None
        else:
            record = parse_text(message)
    except (MalformedRecord, ValueError):
        return None
    return record if isinstance(record, Report) else None
