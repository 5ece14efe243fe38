"""The store as OTLP/HTTP metrics: `opsview exporter --otlp URL` and `[export.otlp]`.

Names, units and attributes follow the OpenTelemetry semantic conventions 1.44.0 for FaaS metrics
(https://opentelemetry.io/docs/specs/semconv/faas/faas-metrics/; schema https://opentelemetry.io/schemas/1.44.0,
as shipped in opentelemetry-semantic-conventions 0.66b2). opsview observes many functions from one process: one
resource per cloud account and region (`cloud.provider`, `cloud.account.id`, `cloud.region`, with
`service.name = opsview` and `service.instance.id = provider/account/region`, plus OTEL_RESOURCE_ATTRIBUTES), and
`faas.name` on each data point. Prometheus-style backends name a series by job/instance and its own attributes, so
two regions' functions of the same name never collide there, and one attribute per point keeps the export cheap
(four per point cost 2.5x the encoding time).

Each push covers the whole minutes since the previous one, ending `delay` behind now (the newest minutes are still
being filled). Counts are delta sums over that span, so consecutive pushes add up to exact totals; a push that
fails is not lost: the next one covers its span too. What the clouds hand us are percentiles, not buckets, so the
semconv histograms carry what is known exactly (count, sum from the average, max) in one bucket, and the
percentiles go beside them as `opsview.*` gauges. A measure a provider does not report is absent, never 0.

The data is built with the SDK's own export model (`MetricsData`) and sent by the official OTLP/HTTP exporter:
the SDK's instruments aggregate raw measurements and stamp their own times, while these are finished aggregates
of stated spans.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from opsview import __version__
from opsview.config import Config
from opsview.config.export import OtlpConfig
from opsview.fleet import FunctionStatus, status_of
from opsview.redact import remember_header
from opsview.schema import floor_time, to_epoch, utcnow
from opsview.store import Store

log = logging.getLogger(__name__)

SEMCONV_SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"
MIB = 1024 * 1024  # Lambda's "Max Memory Used" MB are MiB, as its memory size (semconv faas.max_memory)
MAX_CATCH_UP = timedelta(hours=1)  # after a longer outage the oldest minutes are skipped, and said so
DELTA = AggregationTemporality.DELTA


@dataclass(frozen=True, slots=True)
class Instrument:
    name: str
    unit: str
    description: str


# semconv (FaaS metrics) -----------------------------------------------------------------------------------
INVOCATIONS = Instrument("faas.invocations", "{invocation}", "Number of successful invocations.")
ERRORS = Instrument("faas.errors", "{error}", "Number of invocation errors.")
COLDSTARTS = Instrument("faas.coldstarts", "{coldstart}", "Number of invocation cold starts.")
INVOKE_DURATION = Instrument("faas.invoke_duration", "s", "Measures the duration of the function's logic execution.")
INIT_DURATION = Instrument("faas.init_duration", "s",
                           "Measures the duration of the function's initialization, such as a cold start.")
MEM_USAGE = Instrument("faas.mem_usage", "By", "Distribution of max memory usage per invocation.")
# opsview's own -----------------------------------------------------------------------------------------------
THROTTLES = Instrument("opsview.faas.throttles", "{throttle}", "Invocations the platform refused (throttled).")
COST = Instrument("opsview.faas.cost", "USD", "Estimated cost: requests plus billed GB-seconds at configured prices.")
INVOKE_PERCENTILES = tuple(
    (Instrument(f"opsview.faas.invoke_duration.p{p}", "s", f"{p}th percentile of the invocation duration."), attr)
    for p, attr in ((50, "duration_p50_ms"), (95, "duration_p95_ms"), (99, "duration_p99_ms"))
)
INIT_P95 = Instrument("opsview.faas.init_duration.p95", "s", "95th percentile of the cold-start initialisation.")


def metrics_url(endpoint: str) -> str:
    """`http://collector:4318` -> `http://collector:4318/v1/metrics` (an endpoint already naming it stays)."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/metrics") else endpoint + "/v1/metrics"


class OtlpSetupError(Exception):
    """A problem with the OTLP settings, phrased as the one line the user sees."""


def headers_from_env(headers_env: Mapping[str, str], environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Header values from the environment variables `[export.otlp] headers_env` names (never from the file)."""
    out = {}
    for header, variable in headers_env.items():
        value = environ.get(variable)
        if not value:
            raise OtlpSetupError(f"export.otlp.headers_env.{header}: environment variable {variable} is not set")
        out[header] = value
        remember_header(header, value)  # no log line shows it, nor its token after `Bearer `
    return out


class _Metrics:
    """Data points per instrument, in a fixed order."""

    def __init__(self, start_ns: int, end_ns: int) -> None:
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.sums: dict[Instrument, list[NumberDataPoint]] = {}
        self.gauges: dict[Instrument, list[NumberDataPoint]] = {}
        self.histograms: dict[Instrument, list[HistogramDataPoint]] = {}

    def count(self, instrument: Instrument, attributes: dict[str, str], value: int | float | None) -> None:
        if value is not None:
            self.sums.setdefault(instrument, []).append(
                NumberDataPoint(attributes, self.start_ns, self.end_ns, value))

    def gauge(self, instrument: Instrument, attributes: dict[str, str], value: float | None) -> None:
        if value is not None:
            self.gauges.setdefault(instrument, []).append(
                NumberDataPoint(attributes, self.start_ns, self.end_ns, value))

    def histogram(self, instrument: Instrument, attributes: dict[str, str], count: int, total: float | None,
                  most: float | None) -> None:
        # One bucket (no bounds): the clouds report percentiles, not bucket counts. Unknown sum and max stay
        # unset in OTLP (both are optional fields), never 0.
        self.histograms.setdefault(instrument, []).append(HistogramDataPoint(
            attributes, self.start_ns, self.end_ns, count, total, [count], [], None, most))  # type: ignore[arg-type]

    def metrics(self) -> list[Metric]:
        out = [Metric(i.name, i.description, i.unit, Sum(points, DELTA, is_monotonic=True))
               for i, points in self.sums.items()]
        out += [Metric(i.name, i.description, i.unit, Histogram(points, DELTA))
                for i, points in self.histograms.items()]
        out += [Metric(i.name, i.description, i.unit, Gauge(points)) for i, points in self.gauges.items()]
        return out


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


Scope = tuple[str, str, str]  # provider, account, region


def scope_resource(base: Resource, scope: Scope) -> Resource:
    provider, account, region = scope
    return base.merge(Resource({
        "cloud.provider": provider, "cloud.account.id": account, "cloud.region": region,
        "service.instance.id": f"{provider}/{account}/{region}",
    }, SEMCONV_SCHEMA_URL))


def build_metrics(rows: Sequence[FunctionStatus], start: datetime, end: datetime,
                  resource: Callable[[Scope], Resource]) -> MetricsData:
    """The OTLP data of every function with data in [start, end), one resource per account and region."""
    start_ns, end_ns = to_epoch(start) * 1_000_000_000, to_epoch(end) * 1_000_000_000
    scopes: dict[Scope, _Metrics] = {}
    for row in rows:
        m = row.measures
        key = row.key
        out = scopes.get((key.provider, key.account, key.region))
        if out is None:
            out = scopes[(key.provider, key.account, key.region)] = _Metrics(start_ns, end_ns)
        attributes = {"faas.name": key.name}
        invocations, errors = m.invocations, m.errors
        # semconv counts successful invocations in faas.invocations and errors in faas.errors (the clouds' own
        # invocation counts include the errors); without the error count the successful count is unknown.
        if invocations is not None and errors is not None and errors <= invocations:
            out.count(INVOCATIONS, attributes, invocations - errors)
        out.count(ERRORS, attributes, errors)
        out.count(COLDSTARTS, attributes, m.cold_starts)
        out.count(THROTTLES, attributes, m.throttles)
        out.count(COST, attributes, row.cost_usd)
        if invocations is not None and (invocations == 0 or m.duration_avg_ms is not None
                                        or m.duration_max_ms is not None):
            total = 0.0 if invocations == 0 else (None if m.duration_avg_ms is None
                                                  else m.duration_avg_ms / 1000.0 * invocations)
            out.histogram(INVOKE_DURATION, attributes, invocations, total, _seconds(m.duration_max_ms))
        cold, init_avg = m.cold_starts, m.init_avg_ms
        if cold is not None and (cold == 0 or init_avg is not None):
            out.histogram(INIT_DURATION, attributes, cold, 0.0 if init_avg is None else init_avg / 1000.0 * cold, None)
        if invocations and m.memory_used_max_mb is not None:
            out.histogram(MEM_USAGE, attributes, invocations, None, m.memory_used_max_mb * MIB)
        for instrument, attr in INVOKE_PERCENTILES:
            out.gauge(instrument, attributes, _seconds(getattr(m, attr)))
        out.gauge(INIT_P95, attributes, _seconds(m.init_p95_ms))
    instrumentation = InstrumentationScope("opsview", __version__, SEMCONV_SCHEMA_URL)
    return MetricsData([
        ResourceMetrics(resource(scope), [ScopeMetrics(instrumentation, out.metrics(), SEMCONV_SCHEMA_URL)],
                        SEMCONV_SCHEMA_URL)
        for scope, out in sorted(scopes.items())
    ])


def opsview_resource() -> Resource:
    """opsview as the telemetry's producer; OTEL_RESOURCE_ATTRIBUTES adds to it (deployment.environment, ...)."""
    return Resource.create({"service.name": "opsview", "service.version": __version__})


@dataclass(frozen=True, slots=True)
class PushReport:
    start: datetime
    end: datetime
    functions: int
    ok: bool
    skipped: timedelta = timedelta(0)  # minutes older than MAX_CATCH_UP that an outage left unsent


class OtlpPusher:
    """Pushes the store's whole minutes to an OTLP/HTTP endpoint, each minute once (when the pushes succeed)."""

    def __init__(self, store: Store, config: Config, endpoint: str | None = None, *,
                 exporter: MetricExporter | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.settings: OtlpConfig = config.export.otlp
        url = endpoint or self.settings.endpoint
        if url is None and exporter is None:
            raise OtlpSetupError("no OTLP endpoint: pass --otlp URL or set [export.otlp] endpoint")
        self.endpoint = metrics_url(url) if url else ""
        self.exporter = exporter or OTLPMetricExporter(
            endpoint=self.endpoint,
            headers=headers_from_env(self.settings.headers_env) or None,  # None: the SDK reads OTEL_* headers
            timeout=self.settings.timeout.total_seconds(),
        )
        self.clock = clock
        self.base = opsview_resource()
        self.resources: dict[Scope, Resource] = {}
        self.next_start: datetime | None = None  # where the next push begins (None: one interval before its end)
        self.failing = False

    def next_span(self, now: datetime) -> tuple[datetime, datetime, timedelta] | None:
        end = floor_time(now - self.settings.delay, 60)
        start = self.next_start or end - self.settings.interval
        if end <= start:
            return None
        skipped = timedelta(0)
        if end - start > MAX_CATCH_UP:
            skipped = end - MAX_CATCH_UP - start
            start = end - MAX_CATCH_UP
        return start, end, skipped

    def push_once(self) -> PushReport | None:
        """One push of the minutes not pushed yet; None when there are none yet."""
        span = self.next_span(self.clock())
        if span is None:
            return None
        start, end, skipped = span
        if skipped:
            log.warning("OTLP: %s of data older than %s not pushed (the endpoint was unreachable)", skipped,
                        MAX_CATCH_UP)
        pricing = self.config.pricing
        rows = [status_of(row, end - start, pricing) for row in self.store.fleet(start, end) if row.buckets]
        data = build_metrics(rows, start, end, self.resource)
        result = self.exporter.export(data, timeout_millis=self.settings.timeout.total_seconds() * 1000)
        ok = result is MetricExportResult.SUCCESS
        self.failing = not ok
        self.next_start = end if ok else start  # a failed span is pushed again with the next one
        if not ok:
            log.warning("OTLP push of %s..%s to %s failed; the next push covers it again", start.isoformat(),
                        end.isoformat(), self.endpoint or "the exporter")
        return PushReport(start, end, len(rows), ok, skipped)

    def resource(self, scope: Scope) -> Resource:
        cached = self.resources.get(scope)
        if cached is None:
            cached = self.resources[scope] = scope_resource(self.base, scope)
        return cached

    def run(self, stop: threading.Event) -> None:
        """Push every `interval` until `stop` is set; a failing push or store read never ends the loop."""
        interval = self.settings.interval.total_seconds()
        while not stop.is_set():
            try:
                report = self.push_once()
                if report is not None and report.ok:
                    log.info("OTLP: pushed %d functions for %s..%s", report.functions, report.start.isoformat(),
                             report.end.isoformat())
            except Exception:  # noqa: BLE001 - a store hiccup must not stop the exporter; the next push retries
                log.exception("OTLP push failed")
            stop.wait(self._until_next(interval))

    def _until_next(self, interval: float) -> float:
        if self.next_start is None or self.failing:
            return interval
        due = self.next_start + self.settings.interval + self.settings.delay
        return max(1.0, min(interval, (due - self.clock()).total_seconds()))

    def shutdown(self) -> None:
        self.exporter.shutdown()


def describe(report: PushReport) -> dict[str, Any]:
    return {"start": report.start.isoformat(), "end": report.end.isoformat(), "functions": report.functions,
            "ok": report.ok, "skipped_s": int(report.skipped.total_seconds())}
