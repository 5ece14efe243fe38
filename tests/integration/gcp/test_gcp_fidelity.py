"""Issue 14, GCP items 9-12: the collector against a Cloud Logging fake that behaves like the documented service.

- Cloud Run functions created through Cloud Run (or detached, https://cloud.google.com/functions/docs/managing)
  carry no `goog-managed-by=cloudfunctions` label: the fake evaluates the filter, so they are not returned unless
  the source names them (`services`).
- gen2 functions are keyed by their Cloud Run service name, `functionId.lower().replace("_", "-")`.
- entries.list quota (60 calls/min, https://cloud.google.com/logging/quotas) is charged to the caller's quota
  project (https://cloud.google.com/docs/quotas/quota-project), not to the project read: the fake counts per
  quota project and refuses with 429 past it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials

from opsview.collectors.base import CollectRequest
from opsview.collectors.gcp.collector import GcpCollector
from opsview.config.sources import GcpSource

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
END = T0 + timedelta(minutes=10)


def ts(minute: int, second: float = 0.0) -> str:
    return (T0 + timedelta(minutes=minute, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def collector(url: str, projects: list[str], **extra: Any) -> GcpCollector:
    extra.setdefault("mode", "logs")
    source = GcpSource(name="g", project_id=projects, api_endpoint=url, **extra)
    return GcpCollector(source, credentials=AnonymousCredentials(), backoff_s=0.01)


def cloud_run_project(fake: ModuleType) -> list[dict[str, Any]]:
    return [
        fake.gen2_request("p", "us-central1", "checkout", ts(1), 200, "0.010s"),  # via the Cloud Functions API
        fake.gen2_request("p", "us-central1", "resize-images", ts(1), 200, "0.300s", labelled=False),  # Cloud Run
        fake.gen2_request("p", "us-central1", "resize-images", ts(1, 5), 500, "0.100s", labelled=False),
        fake.gen2_start("p", "us-central1", "resize-images", ts(1, 0), "AUTOSCALING", labelled=False),
        fake.gen2_request("p", "us-central1", "web-frontend", ts(1), 200, "0.020s", labelled=False),  # an app
    ]


def test_cloud_run_functions_without_the_label_are_left_out_by_default(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"p": cloud_run_project(entry_builders)})
    result = collector(api.url, ["p"]).collect(CollectRequest(start=T0, end=END))
    assert {s.key.name for s in result.samples} == {"checkout"}


def test_services_globs_bring_in_cloud_run_functions_without_the_label(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"p": cloud_run_project(entry_builders)})
    result = collector(api.url, ["p"], services=["resize-*"]).collect(CollectRequest(start=T0, end=END))
    samples = {s.key.name: s for s in result.samples}
    assert set(samples) == {"checkout", "resize-images"}
    resize = samples["resize-images"]
    assert (resize.invocations, resize.errors, resize.cold_starts) == (2, 1, 1)
    # the filter asks the service for exactly these: labelled functions or the named services
    [body] = api.requests
    assert ('(labels."goog-managed-by"="cloudfunctions" OR resource.labels.service_name=~"^(resize-.*)$")'
            in body["filter"])


def test_services_star_takes_every_cloud_run_service(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"p": cloud_run_project(entry_builders)})
    result = collector(api.url, ["p"], services="*").collect(CollectRequest(start=T0, end=END))
    assert {s.key.name for s in result.samples} == {"checkout", "resize-images", "web-frontend"}
    assert "goog-managed-by" not in api.requests[0]["filter"]


def test_a_glob_in_the_functions_own_spelling_finds_its_gen2_service(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    # `gcloud functions deploy Process_Order --gen2` runs as Cloud Run service `process-order`
    entries = [
        entry_builders.gen2_request("p", "us-central1", "process-order", ts(1), 200, "0.010s"),
        entry_builders.gen2_request("p", "us-central1", "process-order-dlq", ts(1), 200, "0.010s"),
        entry_builders.gen2_request("p", "us-central1", "refund", ts(1), 200, "0.010s"),
        entry_builders.gen1_line("p", "us-central1", "Process_Order_v1", ts(1),
                                 "Function execution took 12 ms, finished with status code: 200"),
    ]
    api = logging_api({"p": entries})
    result = collector(api.url, ["p"], include=["Process_Order*"], exclude=["*_dlq"]).collect(
        CollectRequest(start=T0, end=END)
    )
    # gen2 keyed by the service name, gen1 by its function name; the exclude glob works in both spellings too
    assert {s.key.name for s in result.samples} == {"process-order", "Process_Order_v1"}
    [body] = api.requests
    assert 'resource.labels.service_name=~"^(Process_Order.*|process-order.*)$"' in body["filter"]


def _fake_time() -> tuple[Callable[[], float], Callable[[float], None]]:
    now = [0.0]
    lock = threading.Lock()

    def clock() -> float:
        with lock:
            return now[0]

    def sleep(seconds: float) -> None:
        with lock:
            now[0] += seconds

    return clock, sleep


def _pages_of(fake: ModuleType, project: str, n: int) -> list[dict[str, Any]]:
    return [fake.gen2_request(project, "us-central1", "fn", ts(i % 10, (i % 600) / 10), 200, "0.01s")
            for i in range(n)]


def test_one_identity_reading_four_projects_shares_one_quota(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    # the service's quota, scaled down: 6 calls a minute for the caller's project; 4 projects x 3 pages = 12 calls
    clock, sleep = _fake_time()
    projects = ["a", "b", "c", "d"]
    api = logging_api({p: _pages_of(entry_builders, p, 2500) for p in projects}, quota_per_minute=6, clock=clock)
    source = GcpSource(name="g", project_id=projects, mode="logs", api_endpoint=api.url, calls_per_minute=6)
    gcp = GcpCollector(source, credentials=AnonymousCredentials(), sleep=sleep, clock=clock, backoff_s=0.01)
    result = gcp.collect(CollectRequest(start=T0, end=END))
    assert api.refused == []  # paced per quota project: never refused
    assert [h.ok for h in result.health] == [True] * 4
    assert sum(s.invocations or 0 for s in result.samples) == 4 * 2500
    assert set(api.quota_projects) == {"opsview-caller"}  # charged to the caller, whichever project was read
    # every health line says what the whole refresh needs on that quota: 12 calls at 6/min
    for h in result.health:
        assert h.error is not None
        assert "logs path: 3 entries.list calls = 0.50 quota-min" in h.error
        assert "(refresh: 2.00 of the credentials' project's 6/min)" in h.error


def test_a_configured_quota_project_is_named_on_every_call(
    logging_api: Callable[..., Any], entry_builders: ModuleType
) -> None:
    api = logging_api({"a": _pages_of(entry_builders, "a", 10), "b": _pages_of(entry_builders, "b", 10)})
    result = collector(api.url, ["a", "b"], quota_project="ops-quota").collect(CollectRequest(start=T0, end=END))
    assert [h.ok for h in result.health] == [True, True]
    assert api.quota_projects == ["ops-quota", "ops-quota"]
    assert "ops-quota's 60/min" in (result.health[0].error or "")
