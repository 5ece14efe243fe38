"""The traffic axis of bench/gcp.py: one refresh of 300 functions by the `metrics` and the `logs` path at
1k, 10k and 100k requests a minute, against the local Cloud Logging and Cloud Monitoring fakes fed from the
same synthetic requests (tests/integration/gcp/traffic.py). Also measures the two ways of getting percentiles
from Monitoring: distributions summed on the server (one query per metric, bucket width known) against the
server's REDUCE_PERCENTILE_50/95/99 (one query per percentile).

    .venv/bin/python bench/gcp_traffic.py              # alone; bench/gcp.py runs it too
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from fakes import load as load_fake  # bench/fakes.py: the test suite's cloud fakes
from google.auth.credentials import AnonymousCredentials

from opsview.collectors.base import CollectRequest
from opsview.collectors.gcp.collector import GcpCollector
from opsview.collectors.gcp.filter import NameRules
from opsview.collectors.gcp.google_apis import Identity, MonitoringPages
from opsview.collectors.gcp.metrics_path import METRICS, Measure, build_filter, build_request
from opsview.config.sources import GcpSource

PROJECT = "bench-project"
_TESTS = Path(__file__).resolve().parents[1] / "tests" / "integration" / "gcp"


def _collect(mode: str, logs_url: str, metrics_url: str, traffic: ModuleType, window_min: int) -> dict[str, Any]:
    source = GcpSource(name="bench", project_id=PROJECT, mode=mode, api_endpoint=logs_url,
                       monitoring_endpoint=metrics_url, calls_per_minute=6000, monitoring_calls_per_minute=100_000)
    # a first refresh warms the local fakes (they evaluate each filter once over all entries): not ours to time
    GcpCollector(source, credentials=AnonymousCredentials()).collect(
        CollectRequest(start=traffic.T0, end=traffic.T0 + timedelta(minutes=window_min)))
    collector = GcpCollector(source, credentials=AnonymousCredentials())
    began = time.perf_counter()
    result = collector.collect(CollectRequest(start=traffic.T0, end=traffic.T0 + timedelta(minutes=window_min)))
    wall = time.perf_counter() - began
    assert all(h.ok for h in result.health), result.health
    stats = collector.last_stats[PROJECT]
    logging_qmin = stats.calls / 60  # Cloud Logging: 60 entries.list calls a minute per quota project
    monitoring_qmin = stats.monitoring_calls / 300  # opsview's default Monitoring cap, per quota project
    return {
        "calls": stats.calls + stats.monitoring_calls,
        "entries_list_calls": stats.calls,
        "time_series_list_calls": stats.monitoring_calls,
        "logging_quota_minutes": round(logging_qmin, 3),
        "monitoring_quota_minutes": round(monitoring_qmin, 3),
        "entries_read": stats.entries,
        "points_read": stats.points,
        "invocations": sum(s.invocations or 0 for s in result.samples),
        "wall_s": round(wall, 2),
    }


def percentile_choice(metrics_url: str, traffic: ModuleType, reqs: list[Any], window_min: int,
                      fake: Any) -> dict[str, Any]:
    """Distributions (1 query per latency metric) vs REDUCE_PERCENTILE_50/95/99 (3 queries), same window."""
    from google.cloud import monitoring_v3

    pages = MonitoringPages(Identity(AnonymousCredentials(), "", False), metrics_url)
    start, end = traffic.T0, traffic.T0 + timedelta(minutes=window_min)
    rules = NameRules()
    latency = [q for q in METRICS if q.measure is Measure.DURATION]
    out: dict[str, Any] = {}
    for way in ("distribution", "server_percentile"):
        before_bytes, calls = fake.response_bytes, 0
        for query in latency:
            reducers = ["REDUCE_SUM"] if way == "distribution" else [
                "REDUCE_PERCENTILE_50", "REDUCE_PERCENTILE_95", "REDUCE_PERCENTILE_99"]
            for reducer in reducers:
                filter_ = build_filter(query, (), rules)
                if way == "server_percentile" and query.by:  # 429s cannot be left out by grouping here
                    filter_ += ' AND metric.labels.response_code!="429"'
                request = build_request(PROJECT, query, start, end, filter_)
                request.aggregation.cross_series_reducer = getattr(monitoring_v3.Aggregation.Reducer, reducer)
                if way == "server_percentile":
                    del request.aggregation.group_by_fields[2:]
                token = "x"
                while token:
                    page = pages.page(request)
                    calls += 1
                    token = page.next_page_token
                    request.page_token = token
        out[way] = {"calls": calls, "response_bytes": fake.response_bytes - before_bytes}
    out["chosen"] = "distribution"
    out["why"] = ("one query per latency metric instead of three, the mean and count in the same answer, and the "
                  "width of the bucket each percentile came from, so its error is known; the server's percentile "
                  "reducer states neither its method nor its error")
    return out


def run(functions: int = 300, per_minute_totals: tuple[int, ...] = (1_000, 10_000, 100_000),
        window_min: int = 5) -> dict[str, Any]:
    fake_logging = load_fake("bench_fake_logging_api", "gcp/fake_logging_api.py")
    traffic = load_fake("opsview_tests_gcp_traffic", "gcp/traffic.py")
    fake_monitoring = load_fake("opsview_tests_gcp_fake_monitoring_api", "gcp/fake_monitoring_api.py")
    axis = []
    choice = None
    for total in per_minute_totals:
        reqs, starts = traffic.generate(PROJECT, functions, total / functions, window_min)
        logs = fake_logging.FakeLoggingApi({PROJECT: traffic.log_entries(fake_logging, reqs, starts)},
                                           quota_per_minute=None).start()
        metrics = fake_monitoring.FakeMonitoringApi(fake_monitoring.series_from_traffic(reqs, starts)).start()
        try:
            by_metrics = _collect("metrics", logs.url, metrics.url, traffic, window_min)
            by_logs = _collect("logs", logs.url, metrics.url, traffic, window_min)
            if total == 10_000:
                choice = percentile_choice(metrics.url, traffic, reqs, window_min, metrics)
        finally:
            logs.stop()
            metrics.stop()
        axis.append({
            "requests_per_min": total,
            "requests": len(reqs),
            "metrics": by_metrics,
            "logs": by_logs,
            "calls_ratio_logs_to_metrics": round(by_logs["calls"] / by_metrics["calls"], 1),
        })
    metrics_calls = [a["metrics"]["calls"] for a in axis]
    top = axis[-1]
    return {
        "functions": functions,
        "window_min": window_min,
        "axis": axis,
        "percentiles": choice,
        "goal": {
            "metrics_calls_constant": len(set(metrics_calls)) == 1,
            "metrics_calls_at_top_max": 20,
            "metrics_calls_at_top_ok": top["metrics"]["calls"] <= 20,
            "logs_calls_at_top": top["logs"]["calls"],
            "logs_keeps_up_at_top": math.ceil(top["logs"]["entries_list_calls"] / 60) <= window_min,
        },
    }


def per_minute(reqs: list[Any]) -> dict[int, int]:
    out: dict[int, int] = defaultdict(int)
    for r in reqs:
        out[int(r.at.timestamp()) // 60] += 1
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
