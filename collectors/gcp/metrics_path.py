"""Counts and latency of one project from Cloud Monitoring, aggregated on the server per function and minute.

One `projects.timeSeries.list` query per metric type (a filter names exactly one,
https://cloud.google.com/monitoring/api/v3/filters), each aligned to 60 s (`ALIGN_DELTA` for counts and
distributions, `ALIGN_MAX` for gauges) and reduced across revisions, statuses and instances with `REDUCE_SUM`
grouped by the function's resource labels: the answer has one point per function and minute whatever the
traffic, so calls per refresh are `len(METRICS)` per project (plus a page per 100,000 points).
Points are stamped with the end of their minute (`interval.endTime`); a sample starts 60 s earlier.

gen1 (`cloud_function`, https://cloud.google.com/monitoring/api/metrics_gcp#gcp-cloudfunctions):
  `function/execution_count` by `status` (anything but `ok` is an error, as in the logs path),
  `function/execution_times` (ns distribution), `function/user_memory_bytes` (distribution: its `range` max,
  when present, is the memory used), `function/active_instances` (each gen1 instance serves one request at a
  time, so the instances are the concurrency).
gen2 (`cloud_run_revision`, https://cloud.google.com/monitoring/api/metrics_gcp#gcp-run):
  `request_count` by `response_code` (429: throttles, kept out of invocations; 5xx: errors),
  `request_latencies` (ms distribution, 429s left out), `container/startup_latencies` (init time of new instances),
  `container/billable_instance_time` (s: billed time), `container/instance_count` (max instances, a label).
  Which Cloud Run services are functions: `metadata.user_labels."goog-managed-by"="cloudfunctions"` or a
  `services` glob, as in the logs filter.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsview.collectors.gcp.distribution import DistributionSum
from opsview.collectors.gcp.filter import CLOUD_FUNCTIONS, MANAGED_BY, NameRules
from opsview.collectors.gcp.google_apis import MonitoringPages
from opsview.collectors.gcp.quota import CallLimiter, with_backoff
from opsview.collectors.gcp.stats import ProjectStats
from opsview.schema import FunctionKey, from_epoch

PERIOD_S = 60
PAGE_SIZE = 100_000
"""timeSeries.list returns at most 100,000 points a page (pageSize, projects.timeSeries.list REST reference)."""
QUANTILES = (0.50, 0.95, 0.99)
GEN1 = "cloud_function"
GEN2 = "cloud_run_revision"


class Measure(enum.Enum):
    EXECUTIONS = "executions"
    DURATION = "duration"
    MEMORY = "memory"
    INSTANCES = "instances"
    REQUESTS = "requests"
    STARTUP = "startup"
    BILLED = "billed"


@dataclass(frozen=True, slots=True)
class MetricQuery:
    metric_type: str
    resource_type: str
    measure: Measure
    aligner: str
    by: tuple[str, ...] = ()
    """Metric labels kept apart besides the function's own (status, response code)."""
    scale: float = 1.0
    """Multiplier to milliseconds / MiB where the metric's unit differs."""


METRICS: tuple[MetricQuery, ...] = (
    MetricQuery("cloudfunctions.googleapis.com/function/execution_count", GEN1, Measure.EXECUTIONS,
                "ALIGN_DELTA", ("status",)),
    MetricQuery("cloudfunctions.googleapis.com/function/execution_times", GEN1, Measure.DURATION, "ALIGN_DELTA",
                scale=1e-6),  # ns
    MetricQuery("cloudfunctions.googleapis.com/function/user_memory_bytes", GEN1, Measure.MEMORY, "ALIGN_DELTA",
                scale=1 / (1024 * 1024)),  # bytes
    MetricQuery("cloudfunctions.googleapis.com/function/active_instances", GEN1, Measure.INSTANCES, "ALIGN_MAX"),
    MetricQuery("run.googleapis.com/request_count", GEN2, Measure.REQUESTS, "ALIGN_DELTA", ("response_code",)),
    MetricQuery("run.googleapis.com/request_latencies", GEN2, Measure.DURATION, "ALIGN_DELTA",
                ("response_code",)),  # ms; by code so that 429s (throttles, not invocations) stay out
    MetricQuery("run.googleapis.com/container/startup_latencies", GEN2, Measure.STARTUP, "ALIGN_DELTA"),  # ms
    MetricQuery("run.googleapis.com/container/billable_instance_time", GEN2, Measure.BILLED, "ALIGN_DELTA",
                scale=1000.0),  # s
    MetricQuery("run.googleapis.com/container/instance_count", GEN2, Measure.INSTANCES, "ALIGN_MAX"),
)


def _names(resource_type: str) -> tuple[str, str]:
    """(name label, region label) of a resource type."""
    return ("function_name", "region") if resource_type == GEN1 else ("service_name", "location")


def build_filter(query: MetricQuery, regions: tuple[str, ...], rules: NameRules) -> str:
    name, region = _names(query.resource_type)
    parts = [f'metric.type="{query.metric_type}"', f'resource.type="{query.resource_type}"']
    if regions:
        parts.append("(" + " OR ".join(f'resource.labels.{region}="{r}"' for r in regions) + ")")
    names = rules.name_pattern(gen2=query.resource_type == GEN2)
    if names:
        parts.append(f'resource.labels.{name}=monitoring.regex.full_match("{names}")')
    if query.resource_type == GEN2 and not rules.all_services:
        label = f'metadata.user_labels."{MANAGED_BY}"="{CLOUD_FUNCTIONS}"'
        services = rules.services_pattern()
        parts.append(f'({label} OR resource.labels.service_name=monitoring.regex.full_match("{services}"))'
                     if services else label)
    return " AND ".join(parts)


def build_request(project: str, query: MetricQuery, start: datetime, end: datetime, filter_: str) -> Any:
    from google.cloud import monitoring_v3

    name, region = _names(query.resource_type)
    return monitoring_v3.ListTimeSeriesRequest(
        name=f"projects/{project}",
        filter=filter_,
        interval=monitoring_v3.TimeInterval(start_time=start, end_time=end),
        aggregation=monitoring_v3.Aggregation(
            alignment_period=timedelta(seconds=PERIOD_S),
            per_series_aligner=getattr(monitoring_v3.Aggregation.Aligner, query.aligner),
            cross_series_reducer=monitoring_v3.Aggregation.Reducer.REDUCE_SUM,
            group_by_fields=[f"resource.label.{name}", f"resource.label.{region}",
                             *(f"metric.label.{label}" for label in query.by)],
        ),
        view=monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
        page_size=PAGE_SIZE,
    )


@dataclass(slots=True)
class MinuteMetrics:
    """What Monitoring said about one function in one minute; None = it said nothing."""

    invocations: int | None = None
    errors: int | None = None
    throttles: int | None = None
    duration: DistributionSum = field(default_factory=DistributionSum)
    startup: DistributionSum = field(default_factory=DistributionSum)
    memory: DistributionSum = field(default_factory=DistributionSum)
    instances_max: float | None = None
    billed_ms: float | None = None


@dataclass(slots=True)
class MetricsResult:
    minutes: dict[tuple[FunctionKey, datetime], MinuteMetrics] = field(default_factory=dict)
    generation: dict[FunctionKey, str] = field(default_factory=dict)
    instances_max: dict[FunctionKey, float] = field(default_factory=dict)


def _number(value: Any) -> float:
    kind = value.WhichOneof("value")
    if kind == "int64_value":
        return float(value.int64_value)
    if kind == "double_value":
        return float(value.double_value)
    return 0.0


def _fold(result: MetricsResult, project: str, query: MetricQuery, series: Any, rules: NameRules) -> int:
    name_label, region_label = _names(query.resource_type)
    labels = series.resource.labels
    name = labels.get(name_label)
    region = labels.get(region_label)
    if not name or not region or not rules.admits(name, query.resource_type == GEN2):
        return 0
    key = FunctionKey("gcp", project, region, name)
    result.generation.setdefault(key, "gen1" if query.resource_type == GEN1 else "gen2")
    metric_labels = series.metric.labels
    points = 0
    for point in series.points:
        points += 1
        minute = from_epoch(point.interval.end_time.seconds - PERIOD_S)
        slot = result.minutes.get((key, minute))
        if slot is None:
            slot = result.minutes[(key, minute)] = MinuteMetrics()
        value = point.value
        measure = query.measure
        if measure is Measure.EXECUTIONS:
            n = int(_number(value))
            slot.invocations = (slot.invocations or 0) + n
            error = metric_labels.get("status", "ok") != "ok"
            slot.errors = (slot.errors or 0) + (n if error else 0)
        elif measure is Measure.REQUESTS:
            n = int(_number(value))
            code = metric_labels.get("response_code", "")
            throttled = code == "429"
            slot.throttles = (slot.throttles or 0) + (n if throttled else 0)
            slot.invocations = (slot.invocations or 0) + (0 if throttled else n)
            slot.errors = (slot.errors or 0) + (n if code.startswith("5") else 0)
        elif measure is Measure.DURATION:
            if metric_labels.get("response_code") != "429":  # a rejection's latency is not the code's duration
                slot.duration.add(value.distribution_value)
        elif measure is Measure.STARTUP:
            slot.startup.add(value.distribution_value)
        elif measure is Measure.MEMORY:
            slot.memory.add(value.distribution_value)
        elif measure is Measure.BILLED:
            slot.billed_ms = (slot.billed_ms or 0.0) + _number(value) * query.scale
        elif measure is Measure.INSTANCES:
            level = _number(value)
            slot.instances_max = level if slot.instances_max is None else max(slot.instances_max, level)
            result.instances_max[key] = max(result.instances_max.get(key, 0.0), level)
    return points


def read_metrics(
    pages: MonitoringPages,
    project: str,
    start: datetime,
    end: datetime,
    *,
    limiter: CallLimiter,
    stats: ProjectStats,
    regions: tuple[str, ...],
    rules: NameRules,
    retries: int,
    backoff_s: float,
    sleep: Callable[[float], None],
    queries: tuple[MetricQuery, ...] = METRICS,
) -> MetricsResult:
    result = MetricsResult()
    for query in queries:
        filter_ = build_filter(query, regions, rules)
        stats.filters.append(filter_)
        request = build_request(project, query, start, end, filter_)
        for page in _pages(pages, request, limiter=limiter, stats=stats, retries=retries, backoff_s=backoff_s,
                           sleep=sleep):
            for error in page.execution_errors:
                stats.incomplete.append(f"{query.metric_type}: {error.message or 'execution error'}")
                if query.measure in (Measure.EXECUTIONS, Measure.REQUESTS):
                    stats.counts_incomplete = True
            for series in page.time_series:
                stats.series += 1
                stats.points += _fold(result, project, query, series, rules)
    return result


def _pages(pages: MonitoringPages, request: Any, *, limiter: CallLimiter, stats: ProjectStats, retries: int,
           backoff_s: float, sleep: Callable[[float], None]) -> Iterator[Any]:
    while True:

        def fetch() -> Any:
            stats.monitoring_calls += 1  # every attempt is charged, refused ones too
            return pages.page(request)

        def count_retry(_exc: BaseException) -> None:
            stats.retries += 1

        page = with_backoff(fetch, limiter=limiter, retries=retries, base_s=backoff_s, sleep=sleep,
                            on_retry=count_retry)
        yield page
        if not page.next_page_token:
            return
        request.page_token = page.next_page_token
