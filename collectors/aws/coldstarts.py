"""Cold starts per function-minute from CloudWatch Logs: Logs Insights first, FilterLogEvents as the fallback.

Lambda reports a cold start only in its logs (`Init Duration` / `Restore Duration` in REPORT, or
`initDurationMs` / `restoreDurationMs` in `platform.report`), never as a metric.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from opsview.collectors.aws.logs import MalformedRecord, Report, function_from_log_group, parse_json, parse_text
from opsview.schema import to_epoch

log = logging.getLogger(__name__)

GROUPS_PER_QUERY: Final = 50
QUERIES_IN_FLIGHT: Final = 30
MAX_ROWS: Final = 10_000  # Logs Insights returns at most this many rows per query
FILTER_PATTERN: Final = '?"Init Duration" ?"Restore Duration" ?initDurationMs ?restoreDurationMs'

INSIGHTS_QUERY: Final = r"""filter @message like /REPORT RequestId|platform\.report/
| parse @message /(?:Init Duration: |"initDurationMs":\s*)(?<initms>[0-9.]+)/
| parse @message /(?:Restore Duration: |"restoreDurationMs":\s*)(?<restorems>[0-9.]+)/
| filter ispresent(initms) or ispresent(restorems)
| stats count(*) as cold_starts, avg(coalesce(initms, restorems)) as init_avg,
        pct(coalesce(initms, restorems), 95) as init_p95 by bin(1m) as minute, @log"""


@dataclass(slots=True)
class ColdStats:
    cold_starts: int = 0
    init_avg_ms: float | None = None
    init_p95_ms: float | None = None


ColdBuckets = dict[tuple[str, int], ColdStats]
"""(function name, minute start epoch) -> cold starts in that minute."""


@dataclass(slots=True)
class ColdStartResult:
    buckets: ColdBuckets = field(default_factory=dict)
    groups_read: set[str] = field(default_factory=set)
    """Log groups fully read: a minute of theirs without an entry had no cold start."""
    method: str = "insights"
    error: str | None = None


def _minute(text: str) -> int | None:
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


def fold_insights_rows(rows: Sequence[Sequence[dict[str, str]]], into: ColdBuckets) -> None:
    """`GetQueryResults.results`: each row is a list of {field, value}."""
    for row in rows:
        cells = {c.get("field"): c.get("value") for c in row}
        name = function_from_log_group(cells.get("@log") or "")
        minute = _minute(cells.get("minute") or "")
        count = _float(cells.get("cold_starts"))
        if name is None or minute is None or count is None:
            continue
        into[(name, minute)] = ColdStats(int(count), _float(cells.get("init_avg")), _float(cells.get("init_p95")))


def group_chunks(groups: Sequence[str], minutes: int) -> list[list[str]]:
    """Chunks of log groups small enough that one query's rows (groups x minutes) stay under the row cap."""
    size = max(1, min(GROUPS_PER_QUERY, MAX_ROWS // max(1, minutes)))
    return [list(groups[i : i + size]) for i in range(0, len(groups), size)]


def run_insights(
    logs: Any, groups: Sequence[str], start: datetime, end: datetime, *, deadline_s: float = 60.0,
    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
) -> ColdStartResult:
    """Up to 30 queries in flight, polled with backoff; unfinished queries are stopped at the deadline.

    Raises the SDK's error when StartQuery itself fails (denied, unavailable) so the caller can fall back.
    """
    result = ColdStartResult(method="insights")
    minutes = max(1, (to_epoch(end) - to_epoch(start)) // 60)
    todo = group_chunks(groups, minutes)
    running: dict[str, list[str]] = {}
    give_up = clock() + deadline_s
    delay = 0.25
    while todo or running:
        while todo and len(running) < QUERIES_IN_FLIGHT:
            chunk = todo.pop(0)
            reply = logs.start_query(
                logGroupNames=chunk, startTime=to_epoch(start), endTime=to_epoch(end) - 1,
                queryString=INSIGHTS_QUERY, limit=MAX_ROWS,
            )
            running[reply["queryId"]] = chunk
        for query_id in list(running):
            reply = logs.get_query_results(queryId=query_id)
            status = reply.get("status")
            if status == "Complete":
                fold_insights_rows(reply.get("results", []), result.buckets)
                result.groups_read.update(running.pop(query_id))
            elif status in ("Failed", "Cancelled", "Timeout", "Unknown"):
                running.pop(query_id)
                result.error = f"Logs Insights query {status.lower()}"
        if not running and not todo:
            break
        if clock() >= give_up:
            for query_id in running:
                try:
                    logs.stop_query(queryId=query_id)
                except Exception:  # best effort: the query ends on its own anyway
                    log.debug("stop_query %s failed", query_id, exc_info=True)
            unfinished = len(running) + len(todo)
            result.error = f"Logs Insights: {unfinished} queries unfinished at the {deadline_s:.0f}s deadline"
            break
        sleep(delay)
        delay = min(delay * 2, 2.0)
    return result


def run_filter(logs: Any, groups: Sequence[str], start: datetime, end: datetime) -> ColdStartResult:
    """FilterLogEvents on the cold-start terms, one group at a time (the fallback when Insights is denied)."""
    result = ColdStartResult(method="filter")
    inits: dict[tuple[str, int], list[float]] = {}
    paginator = logs.get_paginator("filter_log_events")
    for group in groups:
        name = function_from_log_group(group)
        if name is None:
            continue
        pages = paginator.paginate(
            logGroupName=group, startTime=to_epoch(start) * 1000, endTime=to_epoch(end) * 1000 - 1,
            filterPattern=FILTER_PATTERN,
        )
        for page in pages:
            for event in page.get("events", []):
                report = _report(str(event.get("message", "")))
                if report is None or not report.cold_start:
                    continue
                minute = int(event["timestamp"]) // 60_000 * 60
                stats = result.buckets.setdefault((name, minute), ColdStats())
                stats.cold_starts += 1
                if report.startup_ms is not None:
                    inits.setdefault((name, minute), []).append(report.startup_ms)
        result.groups_read.add(group)
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
