"""Issue 18: the `metrics` path through the real google-cloud-monitoring client against a local Monitoring fake,
held to the `logs` path over the same synthetic requests (tests/integration/gcp/traffic.py)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import grpc
import pytest
from google.auth.credentials import AnonymousCredentials

from opsview.collectors.base import CollectRequest
from opsview.collectors.gcp.collector import GcpCollector
from opsview.collectors.gcp.metrics_path import METRICS
from opsview.config.sources import GcpSource
from opsview.schema import FunctionKey, Sample

pytestmark = pytest.mark.integration


def _apis(logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], fake: ModuleType,
          traffic: ModuleType, monitoring: ModuleType, projects: dict[str, tuple[list[Any], list[Any]]],
          **monitoring_options: Any) -> tuple[Any, Any]:
    logs = logging_api({p: traffic.log_entries(fake, r, s) for p, (r, s) in projects.items()})
    series: dict[str, list[Any]] = {}
    for reqs, starts in projects.values():
        series.update(monitoring.series_from_traffic(reqs, starts))
    metrics = monitoring_api(series, **monitoring_options)
    return logs, metrics


def _collector(logs: Any, metrics: Any, projects: list[str], mode: str, **extra: Any) -> GcpCollector:
    source = GcpSource(name="g", project_id=projects, mode=mode, api_endpoint=logs.url,
                       monitoring_endpoint=metrics.url, **extra)
    return GcpCollector(source, credentials=AnonymousCredentials(), backoff_s=0.01)


def _request(traffic: ModuleType, minutes: int) -> CollectRequest:
    return CollectRequest(start=traffic.T0, end=traffic.T0 + timedelta(minutes=minutes))


def test_metrics_and_logs_agree_on_counts_exactly_and_percentiles_within_the_bucket_width(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    reqs, starts = gcp_traffic.generate("p", functions=12, per_minute=60, minutes=6)
    logs, metrics = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders,
                          {"p": (reqs, starts)})
    by_logs = _collector(logs, metrics, ["p"], "logs").collect(_request(gcp_traffic, 6))
    metrics_collector = _collector(logs, metrics, ["p"], "metrics")
    by_metrics = metrics_collector.collect(_request(gcp_traffic, 6))
    assert [h.ok for h in by_logs.health + by_metrics.health] == [True, True]
    want = {(s.key, s.start): s for s in by_logs.samples}
    got = {(s.key, s.start): s for s in by_metrics.samples}
    assert set(got) == set(want)
    assert len(want) == 12 * 6
    widths = metrics_collector.last_stats["p"].percentile_widths
    truth: dict[Any, list[float]] = defaultdict(list)  # every invocation's duration, as the logs state it
    for r in reqs:
        if r.status != 429:
            minute = r.at.replace(second=0, microsecond=0)
            truth[(FunctionKey("gcp", r.project, r.region, r.name), minute)].append(
                float(round(r.latency_ms)) if r.gen1 else round(r.latency_ms, 3))
    for values in truth.values():
        values.sort()
    checked = 0
    for slot, w in want.items():
        g: Sample = got[slot]
        gen1 = slot[0].name.startswith("legacy")
        assert (g.invocations, g.errors, g.throttles, g.cold_starts) == (w.invocations, w.errors, w.throttles,
                                                                          w.cold_starts), slot
        assert g.duration_avg_ms == pytest.approx(w.duration_avg_ms, rel=1e-9)
        durations = truth[slot]
        for q, mine, logged, width in zip((0.50, 0.95, 0.99),
                                          (g.duration_p50_ms, g.duration_p95_ms, g.duration_p99_ms),
                                          (w.duration_p50_ms, w.duration_p95_ms, w.duration_p99_ms), widths[slot],
                                          strict=True):
            assert mine is not None
            assert logged is not None
            assert width is not None
            exact = durations[max(1, math.ceil(q * len(durations))) - 1]  # nearest rank, DESIGN.md's definition
            assert abs(mine - exact) <= width + 1e-9, (slot, q, mine, exact, width)
            # the logs path folds the same requests by the same nearest-rank rule (opsview.percentiles)
            assert logged == pytest.approx(exact, abs=1e-6), (slot, q, logged, exact)  # "0.057606s" -> ms in floats
            assert abs(mine - logged) <= width + 1e-9, (slot, q, mine, logged, width)
            checked += 1
        if gen1:
            assert g.cold_starts is None
            assert g.throttles is None
            assert g.concurrency_max is not None
        else:
            assert g.init_avg_ms is not None or g.cold_starts == 0
            assert g.billed_ms is not None
        assert g.duration_max_ms is None  # these distributions carry no range: the max is unknown, not a bound
    assert checked == 3 * 12 * 6


def test_metrics_calls_stay_constant_as_traffic_grows_and_the_health_line_says_so(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    costs = []
    for per_minute in (2, 40):
        projects = {"p": gcp_traffic.generate("p", functions=10, per_minute=per_minute, minutes=5)}
        logs, metrics = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders,
                              projects)
        gcp = _collector(logs, metrics, ["p"], "metrics")
        result = gcp.collect(_request(gcp_traffic, 5))
        stats = gcp.last_stats["p"]
        costs.append((stats.monitoring_calls, stats.calls))
        [health] = result.health
        assert health.ok
        assert health.error is not None
        assert health.error.startswith(f"metrics path: {len(METRICS)} timeSeries.list + 1 entries.list calls, ")
        assert "quota-min" in health.error
    assert costs == [(len(METRICS), 1), (len(METRICS), 1)]


def test_pages_of_points_are_followed(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    projects = {"p": gcp_traffic.generate("p", functions=6, per_minute=10, minutes=5)}
    logs, whole = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders, projects)
    _, paged = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders, projects,
                     max_page_points=7)
    one = _collector(logs, whole, ["p"], "metrics").collect(_request(gcp_traffic, 5))
    paging = _collector(logs, paged, ["p"], "metrics")
    many = paging.collect(_request(gcp_traffic, 5))
    assert paging.last_stats["p"].monitoring_calls > len(METRICS)
    assert sorted(many.samples, key=lambda s: (s.key, s.start)) == sorted(one.samples, key=lambda s: (s.key, s.start))
    tokens = [r.page_token for r in paged.requests if r.page_token]
    assert tokens  # followed nextPageToken


def test_unlabelled_cloud_run_functions_need_services_in_the_metrics_path_too(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    projects = {"p": gcp_traffic.generate("p", functions=6, per_minute=5, minutes=3, unlabelled=1)}
    logs, metrics = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders, projects)
    default = _collector(logs, metrics, ["p"], "metrics").collect(_request(gcp_traffic, 3))
    named = _collector(logs, metrics, ["p"], "metrics", services=["fn-004"]).collect(_request(gcp_traffic, 3))
    assert "fn-004" not in {s.key.name for s in default.samples}
    assert "fn-004" in {s.key.name for s in named.samples}
    assert {s.key.name for s in named.samples} - {s.key.name for s in default.samples} == {"fn-004"}


def test_refused_calls_back_off_and_a_failed_cold_start_read_leaves_cold_starts_unknown(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    projects = {"p": gcp_traffic.generate("p", functions=4, per_minute=5, minutes=3)}
    logs, metrics = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders, projects)
    metrics.fail_next("p", grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE)
    logs.fail_next("p", 403)
    gcp = _collector(logs, metrics, ["p"], "metrics")
    result = gcp.collect(_request(gcp_traffic, 3))
    [health] = result.health
    assert health.ok  # counts and latency landed
    assert gcp.last_stats["p"].retries == 2
    assert "cold starts unknown" in (health.error or "")
    gen2 = [s for s in result.samples if s.key.name.startswith("fn-")]
    assert gen2
    assert all(s.cold_starts is None for s in gen2)
    assert all(s.invocations is not None for s in gen2)


def test_instances_that_started_without_a_start_log_make_cold_starts_unknown_not_zero(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    # system logs (run.googleapis.com/varlog/system) excluded from ingestion: Monitoring still counts the starts
    reqs, starts = gcp_traffic.generate("p", functions=4, per_minute=5, minutes=3)
    logs = logging_api({"p": gcp_traffic.log_entries(entry_builders, reqs, [])})
    metrics = monitoring_api(monitoring_builders.series_from_traffic(reqs, starts))
    result = _collector(logs, metrics, ["p"], "metrics").collect(_request(gcp_traffic, 3))
    gen2 = [s for s in result.samples if s.key.name.startswith("fn-")]
    assert gen2
    assert all(s.cold_starts is None for s in gen2)
    assert "logged no 'Starting new instance' line" in (result.health[0].error or "")


def test_monitoring_quota_is_paced_per_quota_project(
    logging_api: Callable[..., Any], monitoring_api: Callable[..., Any], entry_builders: ModuleType,
    gcp_traffic: ModuleType, monitoring_builders: ModuleType,
) -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    projects = {p: gcp_traffic.generate(p, functions=2, per_minute=2, minutes=2) for p in ("a", "b", "c")}
    logs, metrics = _apis(logging_api, monitoring_api, entry_builders, gcp_traffic, monitoring_builders, projects,
                          quota_per_minute=10, clock=lambda: now[0])
    source = GcpSource(name="g", project_id=list(projects), api_endpoint=logs.url, monitoring_endpoint=metrics.url,
                       monitoring_calls_per_minute=10, quota_project="ops-quota")
    gcp = GcpCollector(source, credentials=AnonymousCredentials(), backoff_s=0.01, sleep=sleep, clock=lambda: now[0])
    result = gcp.collect(_request(gcp_traffic, 2))
    assert [h.ok for h in result.health] == [True, True, True]
    assert metrics.refused == []
    assert set(metrics.quota_projects) == {"ops-quota"}
    assert len(metrics.quota_projects) == 3 * len(METRICS)
    assert now[0] >= 120.0  # 27 calls at 10 a minute: the third window opens after two minutes
