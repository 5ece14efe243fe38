"""The GCP collector against a local Cloud Logging REST server, through the real google-cloud-logging client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from opsview.collect import CollectionRunner
from opsview.collectors.base import CollectRequest
from opsview.collectors.gcp.collector import GcpCollector
from opsview.config import Config
from opsview.config.sources import GcpSource
from opsview.schema import EVERY_REGION, Coverage, FunctionKey
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
END = T0 + timedelta(minutes=10)


def ts(minute: int, second: float = 0.0) -> str:
    return (T0 + timedelta(minutes=minute, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mixed_project(fake: ModuleType, project: str = "shop-prod") -> list[dict[str, Any]]:
    g1 = "legacy-contact-form"
    g2 = "storefront-ssr"
    return [
        fake.gen1_line(project, "us-central1", g1, ts(1, 1), "Function execution started"),
        fake.gen1_line(project, "us-central1", g1, ts(1, 2),
                       "Function execution took 120 ms, finished with status code: 200"),
        fake.gen1_line(project, "us-central1", g1, ts(1, 5),
                       "Function execution took 80 ms, finished with status code: 500"),
        fake.gen1_line(project, "us-central1", g1, ts(1, 9),
                       "Function execution took 60003 ms, finished with status: 'timeout'"),
        fake.gen1_line(project, "us-central1", g1, ts(2, 1), "Function execution took 54 ms. Finished with status: ok"),
        fake.gen2_start(project, "us-central1", g2, ts(1, 0), "DEPLOYMENT_ROLLOUT"),
        fake.gen2_start(project, "us-central1", g2, ts(1, 30), "AUTOSCALING"),
        fake.gen2_request(project, "us-central1", g2, ts(1, 31), 200, "0.012s"),
        fake.gen2_request(project, "us-central1", g2, ts(1, 32), 200, "0s"),
        fake.gen2_request(project, "us-central1", g2, ts(1, 33), 503, "1.5s"),
        fake.gen2_request(project, "us-central1", g2, ts(1, 34), 429, "0.001s"),
        fake.gen2_start(project, "us-central1", g2, ts(3, 0), "MIN_INSTANCE"),
    ]


def make_collector(url: str, projects: list[str], **extra: Any) -> GcpCollector:
    extra.setdefault("mode", "logs")
    source = GcpSource(name="gcp-test", project_id=projects, api_endpoint=url, **extra)
    return GcpCollector(source, credentials=AnonymousCredentials(), backoff_s=0.01)


def test_one_refresh_lands_both_generations_in_the_store(
    logging_api: Callable[..., Any], entry_builders: ModuleType, tmp_path: Path
) -> None:
    api = logging_api({"shop-prod": mixed_project(entry_builders)})
    config = Config.model_validate(
        {"sources": {"gcp": [{"name": "gcp", "project_id": "shop-prod", "mode": "logs", "api_endpoint": api.url}]}}
    )
    store = SQLiteStore(tmp_path / "opsview.db")
    try:
        reports = CollectionRunner(config, store).run(now=END, since=timedelta(minutes=10))
        assert [r.errors for r in reports] == [()]
        gen1 = FunctionKey("gcp", "shop-prod", "us-central1", "legacy-contact-form")
        gen2 = FunctionKey("gcp", "shop-prod", "us-central1", "storefront-ssr")
        rows = {(s.key, s.start): s for key in (gen1, gen2) for s in store.series(key, T0, END)}
        g1 = rows[(gen1, T0 + timedelta(minutes=1))]
        assert (g1.invocations, g1.errors, g1.throttles, g1.cold_starts) == (3, 2, None, None)
        assert g1.duration_max_ms == 60003.0
        assert rows[(gen1, T0 + timedelta(minutes=2))].invocations == 1
        g2 = rows[(gen2, T0 + timedelta(minutes=1))]
        # the 429 is a throttle, not an invocation; only the AUTOSCALING start is a cold start
        assert (g2.invocations, g2.errors, g2.throttles, g2.cold_starts) == (3, 1, 1, 1)
        assert g2.duration_max_ms == 1500.0
        assert g2.duration_p50_ms == pytest.approx(12.0)
        infos = {i.key: i for i in store.functions()}
        assert infos[gen1].labels["generation"] == "gen1"
        assert infos[gen2].labels["generation"] == "gen2"
        assert infos[gen2].labels["last_start_deployment_rollout"].startswith("2024-05-06T12:01:00")
        assert "last_start_min_instance" in infos[gen2].labels
        # the project's logs were read whole for the ten minutes, every region: known for its functions' region
        assert store.coverage(T0, END) == {("gcp", "shop-prod", "us-central1"): 600.0}
    finally:
        store.close()


def test_a_window_of_2500_entries_takes_three_calls_with_explicit_time_bounds(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    entries = [
        entry_builders.gen2_request("p1", "europe-west1", f"fn-{i % 7}", ts(i % 10, (i % 600) / 10), 200, "0.020s")
        for i in range(2500)
    ]
    api = logging_api({"p1": entries})
    collector = make_collector(api.url, ["p1"])
    result = collector.collect(CollectRequest(start=T0, end=END))
    assert sum(s.invocations or 0 for s in result.samples) == 2500
    assert len({s.key.name for s in result.samples}) == 7
    stats = collector.last_stats["p1"]
    assert stats.calls == 3  # ceil(2500 / 1000): one wide filter, not one per function
    for body in api.requests:
        assert body["pageSize"] == 1000
        assert 'timestamp>="2024-05-06T12:00:00Z" AND timestamp<"2024-05-06T12:10:00Z"' in body["filter"]
        assert 'resource.type="cloud_function"' in body["filter"]
        assert 'labels."goog-managed-by"="cloudfunctions"' in body["filter"]
    assert [b.get("pageToken") for b in api.requests] == [None, "1000", "2000"]


def test_429_resource_exhausted_is_retried_then_succeeds(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"shop-prod": mixed_project(entry_builders)})
    api.fail_next("shop-prod", 429, 429)
    collector = make_collector(api.url, ["shop-prod"])
    result = collector.collect(CollectRequest(start=T0, end=END))
    assert [h.ok for h in result.health] == [True]
    assert collector.last_stats["shop-prod"].retries == 2
    assert sum(s.invocations or 0 for s in result.samples) == 4 + 3


def test_429_past_the_retry_budget_fails_that_project_only(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"a": mixed_project(entry_builders, "a"), "b": mixed_project(entry_builders, "b")})
    api.fail_next("a", 429, 429, 429)
    collector = make_collector(api.url, ["a", "b", "missing-project"], max_retries=2)
    result = collector.collect(CollectRequest(start=T0, end=END))
    health = {h.scope: h for h in result.health}
    assert not health["a"].ok
    assert "429" in (health["a"].error or "")
    assert not health["missing-project"].ok
    assert "Permission denied" in (health["missing-project"].error or "")
    assert health["b"].ok
    assert health["b"].samples > 0
    assert {s.key.account for s in result.samples} == {"b"}
    assert result.coverage == [Coverage("gcp", "b", EVERY_REGION, T0, END)], "failed projects cover nothing"


def test_malformed_entries_are_skipped_and_counted(logging_api: Callable[..., Any], entry_builders: ModuleType) -> None:
    good = entry_builders.gen2_request("p", "us-central1", "api", ts(2), 200, "0.050s")
    bad_latency = entry_builders.gen2_request("p", "us-central1", "api", ts(2, 1), 200, "fast")
    # (an entry without httpRequest.status is not malformed here: the service's filter never returns it)
    no_reason = entry_builders.gen2_start("p", "us-central1", "api", ts(2, 2), "AUTOSCALING")
    no_reason["textPayload"] = "Starting new instance, somehow"
    bad_time = entry_builders.gen1_line("p", "us-central1", "old", ts(2, 3),
                                        "Function execution took 5 ms, finished with status code: 200")
    bad_time["timestamp"] = "yesterday"
    no_name = entry_builders.gen1_line("p", "us-central1", "old", ts(2, 4),
                                       "Function execution took 5 ms, finished with status code: 200")
    del no_name["resource"]["labels"]["function_name"]
    api = logging_api({"p": [good, bad_latency, no_reason, bad_time, no_name]})
    collector = make_collector(api.url, ["p"])
    result = collector.collect(CollectRequest(start=T0, end=END))
    assert collector.last_stats["p"].malformed == 4
    [health] = result.health
    assert health.ok
    assert health.error is not None
    assert "4 malformed log entries skipped" in health.error
    assert [(s.key.name, s.invocations) for s in result.samples] == [("api", 1)]


def test_incremental_window_starts_before_the_last_stored_bucket(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"shop-prod": mixed_project(entry_builders)})
    collector = make_collector(api.url, ["shop-prod"], overlap="3m")
    asked: list[tuple[str, str | None, str | None]] = []

    def last_bucket(provider: str, account: str | None = None, region: str | None = None) -> datetime | None:
        asked.append((provider, account, region))
        return T0 + timedelta(minutes=7)

    request = CollectRequest(start=T0 - timedelta(hours=1), end=END + timedelta(seconds=30), last_bucket=last_bucket)
    collector.collect(request)
    assert asked == [("gcp", "shop-prod", None)]
    [body] = api.requests
    assert 'timestamp>="2024-05-06T12:04:00Z" AND timestamp<"2024-05-06T12:10:00Z"' in body["filter"]


def test_limiter_holds_a_project_to_its_calls_per_minute(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    entries = [entry_builders.gen2_request("p", "us-central1", "f", ts(i % 10, i % 60), 200, "0.01s")
               for i in range(4500)]
    api = logging_api({"p": entries})
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    source = GcpSource(name="g", project_id="p", mode="logs", api_endpoint=api.url, calls_per_minute=2)
    collector = GcpCollector(source, credentials=AnonymousCredentials(), sleep=sleep, clock=lambda: now[0])
    result = collector.collect(CollectRequest(start=T0, end=END))
    assert result.health[0].ok
    assert collector.last_stats["p"].calls == 5
    # 5 calls at 2 per minute: calls 3 and 5 each wait for the oldest call to leave the window
    assert slept == [60.0, 60.0]


def test_regions_and_globs_narrow_the_filter_and_the_result(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    entries = [
        entry_builders.gen2_request("p", "us-central1", "checkout-api", ts(1), 200, "0.01s"),
        entry_builders.gen2_request("p", "us-central1", "checkout-worker", ts(1), 200, "0.01s"),
        entry_builders.gen2_request("p", "us-central1", "search", ts(1), 200, "0.01s"),
        entry_builders.gen2_request("p", "europe-west1", "checkout-api", ts(1), 200, "0.01s"),
    ]
    api = logging_api({"p": entries})
    collector = make_collector(api.url, ["p"], regions=["us-central1"], include=["checkout-*"],
                               exclude=["*-worker"])
    result = collector.collect(CollectRequest(start=T0, end=END))
    assert {str(s.key) for s in result.samples} == {"gcp/p/us-central1/checkout-api"}
    assert result.coverage == [Coverage("gcp", "p", "us-central1", T0, END)], "only the region read"
    [body] = api.requests
    assert 'resource.labels.location="us-central1"' in body["filter"]
    assert 'resource.labels.service_name=~"^(checkout-.*)$"' in body["filter"]
