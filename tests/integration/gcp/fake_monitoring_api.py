"""A local Cloud Monitoring `MetricService.ListTimeSeries` server for the real google-cloud-monitoring client.

gRPC on an insecure local port: google-cloud-monitoring (2.32) ships no REST transport, so the real client talks
to this server through its own gRPC transport and protobuf types. Documented behaviour it implements:
- projects.timeSeries.list (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.timeSeries/list):
  `filter` must name exactly one `metric.type`, plus `resource.type`, `resource.labels.*`, `metric.labels.*`,
  `metadata.user_labels.*` comparisons with AND / OR / NOT and `monitoring.regex.full_match`
  (https://cloud.google.com/monitoring/api/v3/filters, evaluated by `filter_eval`); `interval` [start, end];
  `pageSize` counts points (at most 100,000; `max_page_points` lowers it to test paging) and `nextPageToken`.
- Aggregation (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/projects.alertPolicies#Aggregation):
  `alignmentPeriod` >= 60 s; `ALIGN_DELTA` on DELTA metrics, `ALIGN_MAX` on GAUGE ones; periods end at
  `interval.endTime` and step back by the period; `REDUCE_SUM` over the series of each `groupByFields` group
  (counters add, distributions add bucket by bucket); `REDUCE_PERCENTILE_50/95/99` on distributions give a
  DOUBLE (how Google interpolates is not documented: this fake interpolates within the bucket at nearest rank,
  like opsview, so only the call count and payload of that option are measured here, not its accuracy).
- TimeSeries (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TimeSeries): points in reverse time order;
  only the labels kept by the reduction are returned.
- Quota per caller quota project (`x-goog-user-project`, else the caller's own project): past
  `quota_per_minute`, RESOURCE_EXHAUSTED; queued failures per project (`fail_next`).
Distributions' bucket layouts are the fake's choice (exponential, growth 1.4); opsview reads any documented layout.
"""

from __future__ import annotations

import importlib.util
import math
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.cloud.monitoring_v3.types import metric_service

from opsview.collectors.gcp.distribution import percentiles


def _load(name: str, file: str) -> Any:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(file))
        assert spec
        assert spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


filter_eval = _load("opsview_tests_gcp_filter_eval", "filter_eval.py")
traffic = _load("opsview_tests_gcp_traffic", "traffic.py")

REQUEST_PB = metric_service.ListTimeSeriesRequest.pb()
RESPONSE_PB = metric_service.ListTimeSeriesResponse.pb()
CALLER_PROJECT = "opsview-caller"
MAX_PAGE_POINTS = 100_000


@dataclass(frozen=True)
class Layout:
    """Exponential buckets: bounds scale * growth ** i, i = 0..n (n finite buckets, plus under- and overflow)."""

    n: int
    growth: float
    scale: float

    @property
    def bounds(self) -> list[float]:
        return [self.scale * self.growth**i for i in range(self.n + 1)]

    def index(self, value: float) -> int:
        if value < self.scale:
            return 0
        i = int(math.floor(math.log(value / self.scale, self.growth))) + 1
        bounds = self.bounds
        while i > 1 and value < bounds[i - 1]:  # float rounding at a bound: settle on the bucket's definition
            i -= 1
        while i <= self.n and value >= bounds[i]:
            i += 1
        return min(i, self.n + 1)


MS = Layout(80, 1.4, 1.0)
"""Milliseconds from 1 ms: request_latencies, startup_latencies."""
NS = Layout(80, 1.4, 1e6)
"""Nanoseconds from 1 ms: gen1 execution_times."""
BYTES = Layout(40, 1.4, 1024.0 * 1024)


@dataclass
class Dist:
    layout: Layout
    count: int = 0
    total: float = 0.0
    sumsq: float = 0.0
    counts: list[int] = field(default_factory=list)

    def add_value(self, value: float) -> None:
        if not self.counts:
            self.counts = [0] * (self.layout.n + 2)
        self.count += 1
        self.total += value
        self.sumsq += value * value
        self.counts[self.layout.index(value)] += 1

    def merge(self, other: Dist) -> None:
        if not self.counts:
            self.counts = [0] * (self.layout.n + 2)
        self.count += other.count
        self.total += other.total
        self.sumsq += other.sumsq
        for i, c in enumerate(other.counts):
            self.counts[i] += c


@dataclass
class RawSeries:
    metric_type: str
    resource_type: str
    resource_labels: dict[str, str]
    metric_labels: dict[str, str]
    user_labels: dict[str, str]
    kind: str  # DELTA | GAUGE
    value_type: str  # INT64 | DOUBLE | DISTRIBUTION
    points: dict[int, Any] = field(default_factory=dict)
    """Minute start (epoch s) -> int | float | Dist: what happened in [m, m + 60)."""

    def resolve(self, path: tuple[str, ...]) -> Any:
        head, rest = path[0], path[1:]
        if head == "metric" and rest == ("type",):
            return self.metric_type
        if head == "resource" and rest == ("type",):
            return self.resource_type
        if len(rest) == 2 and rest[0] in ("labels", "label"):
            source = {"resource": self.resource_labels, "metric": self.metric_labels}.get(head)
            return None if source is None else source.get(rest[1])
        if head == "metadata" and len(rest) == 2 and rest[0] == "user_labels":
            return self.user_labels.get(rest[1])
        return None


def series_from_traffic(reqs: Iterable[Any], starts: Iterable[Any]) -> dict[str, list[RawSeries]]:
    """Per project: the raw series Cloud Monitoring would hold for these requests (one per revision and label)."""
    table: dict[tuple[Any, ...], RawSeries] = {}

    def series(project: str, metric: str, rtype: str, rlabels: dict[str, str], mlabels: dict[str, str],
               user: dict[str, str], kind: str, vtype: str) -> RawSeries:
        key = (project, metric, tuple(sorted(rlabels.items())), tuple(sorted(mlabels.items())))
        s = table.get(key)
        if s is None:
            s = table[key] = RawSeries(metric, rtype, {**rlabels, "project_id": project}, mlabels, user, kind, vtype)
        return s

    def minute(at: Any) -> int:
        return int(at.timestamp()) // 60 * 60

    active: dict[tuple[Any, ...], int] = defaultdict(int)
    for r in reqs:
        m = minute(r.at)
        user = {"goog-managed-by": "cloudfunctions"} if r.labelled else {}
        if r.gen1:
            res = {"function_name": r.name, "region": r.region}
            status = traffic.gen1_status_label(r.status)
            c = series(r.project, "cloudfunctions.googleapis.com/function/execution_count", "cloud_function", res,
                       {"status": status}, {}, "DELTA", "INT64")
            c.points[m] = c.points.get(m, 0) + 1
            d = series(r.project, "cloudfunctions.googleapis.com/function/execution_times", "cloud_function", res,
                       {"status": status}, {}, "DELTA", "DISTRIBUTION")
            d.points.setdefault(m, Dist(NS)).add_value(round(r.latency_ms) * 1e6)  # the log line says whole ms
            mem = series(r.project, "cloudfunctions.googleapis.com/function/user_memory_bytes", "cloud_function",
                         res, {}, {}, "DELTA", "DISTRIBUTION")
            mem.points.setdefault(m, Dist(BYTES)).add_value(64 * 1024 * 1024 + (hash(r.name) % 32) * 1024 * 1024)
            active[(r.project, "gen1", r.region, r.name, m)] += 1
        else:
            res = {"service_name": r.name, "location": r.region, "revision_name": r.revision,
                   "configuration_name": r.name}
            code = str(r.status)
            labels = {"response_code": code, "response_code_class": f"{code[0]}xx"}
            c = series(r.project, "run.googleapis.com/request_count", "cloud_run_revision", res, labels, user,
                       "DELTA", "INT64")
            c.points[m] = c.points.get(m, 0) + 1
            d = series(r.project, "run.googleapis.com/request_latencies", "cloud_run_revision", res, labels, user,
                       "DELTA", "DISTRIBUTION")
            d.points.setdefault(m, Dist(MS)).add_value(round(r.latency_ms, 3))
            b = series(r.project, "run.googleapis.com/container/billable_instance_time", "cloud_run_revision", res,
                       {}, user, "DELTA", "DOUBLE")
            b.points[m] = b.points.get(m, 0.0) + r.latency_ms / 1000
            active[(r.project, "gen2", r.region, r.name, m, r.revision, r.labelled)] += 1
    for s in starts:
        res = {"service_name": s.name, "location": s.region, "revision_name": s.revision, "configuration_name": s.name}
        user = {"goog-managed-by": "cloudfunctions"} if s.labelled else {}
        d = series(s.project, "run.googleapis.com/container/startup_latencies", "cloud_run_revision", res, {}, user,
                   "DELTA", "DISTRIBUTION")
        d.points.setdefault(minute(s.at), Dist(MS)).add_value(s.startup_ms)
    for key, n in active.items():
        project, gen, region, name, m = key[:5]
        if gen == "gen1":
            g = series(project, "cloudfunctions.googleapis.com/function/active_instances", "cloud_function",
                       {"function_name": name, "region": region}, {}, {}, "GAUGE", "INT64")
        else:
            revision, labelled = key[5], key[6]
            g = series(project, "run.googleapis.com/container/instance_count", "cloud_run_revision",
                       {"service_name": name, "location": region, "revision_name": revision,
                        "configuration_name": name}, {"state": "active"},
                       {"goog-managed-by": "cloudfunctions"} if labelled else {}, "GAUGE", "INT64")
        g.points[m] = max(g.points.get(m, 0), math.ceil(n / 30))
    out: dict[str, list[RawSeries]] = defaultdict(list)
    for (project, *_), s in table.items():
        out[project].append(s)
    return dict(out)


_PERCENTILE = {"REDUCE_PERCENTILE_50": 0.50, "REDUCE_PERCENTILE_95": 0.95, "REDUCE_PERCENTILE_99": 0.99}


class FakeMonitoringApi:
    def __init__(
        self,
        series: dict[str, list[RawSeries]],
        *,
        latency_s: float = 0.0,
        quota_per_minute: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        caller_project: str = CALLER_PROJECT,
        max_page_points: int = MAX_PAGE_POINTS,
    ) -> None:
        self.series = series
        self.latency_s = latency_s
        self.quota_per_minute = quota_per_minute
        self.clock = clock
        self.caller_project = caller_project
        self.max_page_points = max_page_points
        self.requests: list[Any] = []
        self.quota_projects: list[str] = []
        self.refused: list[str] = []
        self.response_bytes = 0
        self.failures: dict[str, deque[grpc.StatusCode]] = {}
        # metric type -> message of an `executionErrors` entry its answers carry: "Query execution errors that may
        # have caused the time series data returned to be incomplete"; the data that is available is still returned
        # (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/ListTimeSeriesResponse)
        self.execution_errors: dict[str, str] = {}
        self._charged: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._server: grpc.Server | None = None
        self._port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def fail_next(self, project: str, *codes: grpc.StatusCode) -> None:
        self.failures.setdefault(project, deque()).extend(codes)

    def start(self) -> FakeMonitoringApi:
        handler = grpc.method_handlers_generic_handler("google.monitoring.v3.MetricService", {
            "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                self._list, request_deserializer=REQUEST_PB.FromString,
                response_serializer=RESPONSE_PB.SerializeToString),
        })
        self._server = grpc.server(ThreadPoolExecutor(max_workers=4))
        self._server.add_generic_rpc_handlers((handler,))
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None)

    # --- one call ------------------------------------------------------------------------------

    def _charge(self, quota_project: str) -> bool:
        with self._lock:
            self.quota_projects.append(quota_project)
            if self.quota_per_minute is None:
                return True
            now = self.clock()
            stamps = self._charged.setdefault(quota_project, deque())
            while stamps and now - stamps[0] >= 60.0:
                stamps.popleft()
            if len(stamps) >= self.quota_per_minute:
                self.refused.append(quota_project)
                return False
            stamps.append(now)
            return True

    def _list(self, request: Any, context: grpc.ServicerContext) -> Any:
        if self.latency_s:
            time.sleep(self.latency_s)
        with self._lock:
            self.requests.append(request)
        metadata = dict(context.invocation_metadata())
        quota_project = str(metadata.get("x-goog-user-project") or self.caller_project)
        if not self._charge(quota_project):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"Quota exceeded for quota metric 'Time series queries' of service "
                          f"'monitoring.googleapis.com' for consumer 'project:{quota_project}'")
        project = request.name.removeprefix("projects/")
        with self._lock:
            queued = self.failures.get(project)
            code = queued.popleft() if queued else None
        if code is not None:
            context.abort(code, f"injected {code.name}")
        if project not in self.series:
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"Permission monitoring.timeSeries.list denied on {project}")
        try:
            tree = filter_eval.parse(request.filter)
        except filter_eval.FilterError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unparseable filter: {exc}")
        types = {c.value for c in filter_eval.comparisons(tree) if c.path == ("metric", "type") and c.op == "="}
        if len(types) != 1:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "A filter must specify exactly one metric type")
        agg = request.aggregation
        period = agg.alignment_period.seconds
        if agg.per_series_aligner and period < 60:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "alignmentPeriod must be at least 60 seconds")
        start, end = request.interval.start_time.seconds, request.interval.end_time.seconds
        chosen = [s for s in self.series[project] if filter_eval.evaluate(tree, s.resolve)]
        out = self._aggregate(chosen, agg, start, end, period or 60)
        response = self._page(out, request)
        (metric_type,) = types
        if metric_type in self.execution_errors:
            response.execution_errors.add(code=grpc.StatusCode.UNAVAILABLE.value[0],
                                          message=self.execution_errors[metric_type])
        with self._lock:
            self.response_bytes += response.ByteSize()
        return response

    def _aggregate(self, chosen: list[RawSeries], agg: Any, start: int, end: int, period: int) -> list[Any]:
        """(header, [(period end, value)]) per output series."""
        aligner = REQUEST_PB.DESCRIPTOR.fields_by_name["aggregation"].message_type.fields_by_name[
            "per_series_aligner"].enum_type.values_by_number[agg.per_series_aligner].name
        reducer = REQUEST_PB.DESCRIPTOR.fields_by_name["aggregation"].message_type.fields_by_name[
            "cross_series_reducer"].enum_type.values_by_number[agg.cross_series_reducer].name
        ends = []
        e = end
        while e - period >= start:
            ends.append(e)  # newest first: points come in reverse time order
            e -= period
        aligned: list[tuple[RawSeries, dict[int, Any]]] = []
        for s in chosen:
            values: dict[int, Any] = {}
            for e in ends:
                inside = [v for m, v in s.points.items() if e - period <= m and m + 60 <= e]
                if not inside:
                    continue
                if aligner == "ALIGN_MAX":
                    values[e] = max(inside)
                elif s.value_type == "DISTRIBUTION":
                    merged = Dist(inside[0].layout)
                    for v in inside:
                        merged.merge(v)
                    values[e] = merged
                else:
                    values[e] = sum(inside)
            if values:
                aligned.append((s, values))
        if reducer in ("REDUCE_NONE", ""):
            return [((s.resource_type, s.resource_labels, s.metric_type, s.metric_labels), v) for s, v in aligned]
        fields = list(agg.group_by_fields)
        groups: dict[tuple[Any, ...], list[tuple[RawSeries, dict[int, Any]]]] = defaultdict(list)
        for s, v in aligned:
            groups[tuple(s.resolve(tuple(f.replace('"', "").split("."))) for f in fields)].append((s, v))
        out = []
        for key, members in groups.items():
            first = members[0][0]
            rlabels = {f.split(".")[-1]: k for f, k in zip(fields, key, strict=True)
                       if f.startswith("resource.") and k is not None}
            mlabels = {f.split(".")[-1]: k for f, k in zip(fields, key, strict=True)
                       if f.startswith("metric.") and k is not None}
            values: dict[int, Any] = {}
            for e in ends:
                here = [v[e] for _, v in members if e in v]
                if not here:
                    continue
                if isinstance(here[0], Dist):
                    merged = Dist(here[0].layout)
                    for d in here:
                        merged.merge(d)
                    if reducer in _PERCENTILE:
                        [p] = percentiles(merged.layout.bounds, merged.counts, (_PERCENTILE[reducer],))
                        values[e] = float("nan") if p is None else p.value
                    else:
                        values[e] = merged
                else:
                    values[e] = sum(here)
            out.append(((first.resource_type, rlabels, first.metric_type, mlabels), values))
        return out

    def _page(self, out: list[Any], request: Any) -> Any:
        size = min(request.page_size or MAX_PAGE_POINTS, MAX_PAGE_POINTS, self.max_page_points)
        flat = [(i, e) for i, (_, values) in enumerate(out) for e in sorted(values, reverse=True)]
        offset = int(request.page_token or 0)
        chunk = flat[offset:offset + size]
        response = RESPONSE_PB()
        current = None
        current_index = -1
        for i, e in chunk:
            (rtype, rlabels, mtype, mlabels), values = out[i]
            if i != current_index:
                current = response.time_series.add()
                current_index = i
                current.resource.type = rtype
                current.resource.labels.update(rlabels)
                current.metric.type = mtype
                current.metric.labels.update(mlabels)
            assert current is not None
            point = current.points.add()
            point.interval.start_time.seconds = e - 60
            point.interval.end_time.seconds = e
            value = values[e]
            if isinstance(value, Dist):
                current.value_type = 5  # DISTRIBUTION
                dist = point.value.distribution_value
                dist.count = value.count
                dist.mean = value.total / value.count if value.count else 0.0
                if value.count:
                    dist.sum_of_squared_deviation = max(0.0, value.sumsq - value.total**2 / value.count)
                exp = dist.bucket_options.exponential_buckets
                exp.num_finite_buckets = value.layout.n
                exp.growth_factor = value.layout.growth
                exp.scale = value.layout.scale
                last = max((j for j, c in enumerate(value.counts) if c), default=-1)
                dist.bucket_counts.extend(value.counts[:last + 1])  # trailing zeros may be left out
            elif isinstance(value, float):
                point.value.double_value = value
            else:
                point.value.int64_value = int(value)
        if offset + size < len(flat):
            response.next_page_token = str(offset + size)
        return response
