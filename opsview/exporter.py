"""The store in the Prometheus text format: `opsview exporter` and the web app's `/metrics`.

A custom collector reads the store at scrape time (the latest window of every function),
so Prometheus and Grafana users get the common schema without a second pipeline. A measure
a provider does not report is left out of the scrape, never exported as 0.

Prometheus' conventions (https://prometheus.io/docs/practices/naming/, checked by `promtool check metrics`):
base units (seconds, bytes), and a `quantile` label only on a summary. Durations are a summary of the
window's percentiles (a summary's quantiles are over a sliding window, as these are) without `_count`/`_sum`:
those would have to be counters since start, and the store holds windows. The maximum is a gauge of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.registry import Collector

from opsview.alert_records import AlertState
from opsview.config import Config
from opsview.fleet import fleet_status
from opsview.schema import Measures, utcnow
from opsview.store import Store

LABELS = ["provider", "account", "region", "function"]
COUNTS = ("invocations", "errors", "throttles", "cold_starts")
DURATION_QUANTILES = (("0.5", "duration_p50_ms"), ("0.95", "duration_p95_ms"), ("0.99", "duration_p99_ms"))
INIT_QUANTILES = (("0.95", "init_p95_ms"),)
MB = 1024 * 1024  # Lambda's "Max Memory Used" is in MB as Lambda counts them: MiB


class StoreCollector(Collector):
    def __init__(self, store: Store, config: Config, window: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.config = config
        self.window = window
        self.clock = clock

    def describe(self) -> Iterable[Any]:
        return []  # reading the store at registration time would slow start-up for nothing

    def collect(self) -> Iterator[Metric]:
        span = f"over the last {int(self.window.total_seconds())}s"
        counts = {
            name: GaugeMetricFamily(f"opsview_{name}", f"{name.replace('_', ' ').capitalize()} {span}", labels=LABELS)
            for name in COUNTS
        }
        duration = _quantiles("opsview_duration_seconds", f"Invocation duration percentiles {span}")
        duration_max = GaugeMetricFamily("opsview_duration_max_seconds", f"Longest invocation {span}", labels=LABELS)
        init = _quantiles("opsview_init_duration_seconds", f"Cold-start initialisation percentiles {span}")
        memory = GaugeMetricFamily("opsview_memory_used_max_bytes", f"Most memory one invocation used {span}",
                                   labels=LABELS)
        cost = GaugeMetricFamily("opsview_cost_usd", f"Estimated cost in USD {span}", labels=LABELS)
        for row in fleet_status(self.store, self.config.pricing, self.window, self.clock()):
            labels = [row.key.provider, row.key.account, row.key.region, row.key.name]
            m = row.measures
            for name, family in counts.items():
                value = getattr(m, name)
                if value is not None:
                    family.add_metric(labels, float(value))
            _add_quantiles(duration, labels, m, DURATION_QUANTILES)
            _add_quantiles(init, labels, m, INIT_QUANTILES)
            if m.duration_max_ms is not None:
                duration_max.add_metric(labels, m.duration_max_ms / 1000.0)
            if m.memory_used_max_mb is not None:
                memory.add_metric(labels, m.memory_used_max_mb * MB)
            if row.cost_usd is not None:
                cost.add_metric(labels, row.cost_usd)
        yield from counts.values()
        yield from (duration, duration_max, init, memory, cost)

        firing = GaugeMetricFamily(
            "opsview_alert_firing", "1 while an alert rule fires for a function", labels=[*LABELS, "rule", "severity"]
        )
        for alert in self.store.alert_records({AlertState.FIRING}):
            key = alert.key
            firing.add_metric([key.provider, key.account, key.region, key.name, alert.rule, alert.severity], 1.0)
        yield firing

        up = GaugeMetricFamily(
            "opsview_collector_up", "1 if the source's last collection succeeded",
            labels=["source", "provider", "scope"],
        )
        for health in self.store.latest_health():
            up.add_metric([health.source, health.provider, health.scope], 1.0 if health.ok else 0.0)
        yield up


def _quantiles(name: str, documentation: str) -> SummaryMetricFamily:
    return SummaryMetricFamily(name, documentation, labels=LABELS)


def _add_quantiles(family: SummaryMetricFamily, labels: list[str], measures: Measures,
                   quantiles: tuple[tuple[str, str], ...]) -> None:
    names = [*LABELS, "quantile"]
    for quantile, attr in quantiles:
        value = getattr(measures, attr)
        if value is not None:
            family.add_sample(family.name, dict(zip(names, [*labels, quantile], strict=True)), value / 1000.0)


def registry_for(store: Store, config: Config, window: timedelta,
                 clock: Callable[[], datetime] = utcnow) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store, config, window, clock))
    return registry


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_wsgi_app(store: Store, config: Config, window: timedelta,
                     clock: Callable[[], datetime] = utcnow) -> WsgiApp:
    """`/metrics` (Prometheus text format) and `/healthz`; anything else is 404."""
    metrics: WsgiApp = make_wsgi_app(registry_for(store, config, window, clock))

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: try /metrics\n"]

    return app
