"""Cold starts per function and bucket from CloudWatch Logs: Logs Insights first, FilterLogEvents as the fallback.

Lambda reports a cold start only in its logs (`Init Duration` / `Restore Duration` in REPORT, or
`initDurationMs` / `restoreDurationMs` in `platform.report`), never as a metric.

A function's bucket gets 0 cold starts only when its log group was read completely for that bucket: the
queries are planned under Logs Insights' row cap, split when a result reaches it, and stopped at a deadline
(`opsview.collectors.aws.insights`); a stretch not read whole stays unknown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from opsview.collectors.aws.insights import (
    GROUPS_PER_QUERY,
    MAX_ROWS,
    QUERIES_IN_FLIGHT,
    LogReadResult,
    QueryUnit,
    bin_start,
    bin_unit,
    group_of,
    result_float,
    row_cells,
    run_queries,
)
from opsview.collectors.aws.insights import plan_queries as _plan
from opsview.collectors.aws.logs import MalformedRecord, Report, parse_json, parse_text
from opsview.collectors.aws.logsources import GroupReaders, filtered_events
from opsview.collectors.aws.metrics import Segment

__all__ = ["GROUPS_PER_QUERY", "MAX_ROWS", "QUERIES_IN_FLIGHT", "QueryUnit"]

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
    return _QUERY + (_BY_STREAM if by_stream else "") + _STATS.format(bin=bin_unit(bin_s),
                                                                      by=", fn" if by_stream else "")


INSIGHTS_QUERY: Final = insights_query(60, False)


@dataclass(slots=True)
class ColdStats:
    cold_starts: int = 0
    init_avg_ms: float | None = None
    init_p95_ms: float | None = None


ColdBuckets = dict[tuple[str, int], ColdStats]
"""(function name, bin start epoch) -> cold starts in that bin (a minute, or the segment's period)."""


@dataclass(slots=True)
class ColdStartResult(LogReadResult):
    buckets: ColdBuckets = field(default_factory=dict)


def plan_queries(readers: Mapping[str, GroupReaders], segments: Sequence[Segment]) -> list[QueryUnit]:
    """The cold-start queries: possible rows (sum of group weights x bins) below `MAX_ROWS`, 50 groups each."""
    return _plan(readers, segments, insights_query)


def fold_insights_rows(rows: Sequence[Sequence[Mapping[str, str]]], unit: QueryUnit,
                       readers: Mapping[str, GroupReaders], into: ColdBuckets) -> None:
    """`GetQueryResults.results`: each row is a list of {field, value}."""
    for row in rows:
        cells = row_cells(row)
        group = group_of(cells.get("@log") or "", unit)
        name = readers[group].attribute(None, cells.get("fn") or None) if group is not None else None
        start = bin_start(cells.get("minute") or "")
        count = result_float(cells.get("cold_starts"))
        if name is None or start is None or count is None:
            continue
        into[(name, start)] = ColdStats(int(count), result_float(cells.get("init_avg")),
                                        result_float(cells.get("init_p95")))


def run_insights(
    logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment], *, deadline_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> ColdStartResult:
    """The cold-start queries, run by `insights.run_queries` (raises the SDK's error for a fallback)."""
    result = ColdStartResult(method="insights")

    def fold(rows: Sequence[Sequence[Mapping[str, str]]], unit: QueryUnit) -> None:
        fold_insights_rows(rows, unit, readers, result.buckets)

    run_queries(logs, plan_queries(readers, segments), readers, fold, result, what="cold starts",
                deadline_s=deadline_s, sleep=sleep, clock=clock)
    return result


def run_filter(logs: Any, readers: Mapping[str, GroupReaders], segments: Sequence[Segment]) -> ColdStartResult:
    """FilterLogEvents on the cold-start terms, one group at a time (the fallback when Insights is denied)."""
    result = ColdStartResult(method="filter")
    if not segments:
        return result
    inits: dict[tuple[str, int], list[float]] = {}
    for name, at_ms, message in filtered_events(logs, readers, segments[0].start, segments[-1].end, FILTER_PATTERN):
        report = _report(message)
        if report is None or not report.cold_start:
            continue
        minute = at_ms // 60_000 * 60
        stats = result.buckets.setdefault((name, minute), ColdStats())
        stats.cold_starts += 1
        if report.startup_ms is not None:
            inits.setdefault((name, minute), []).append(report.startup_ms)
    result.read.update(f for owner in readers.values() for f in owner.functions)
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
