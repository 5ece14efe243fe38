"""Azure Flex Consumption beside Consumption: each hosting plan's billed-time metrics, never both plans' in one
metrics batch (issue 14, item 6), through the real MetricsClient against the local fake."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from azure_collector_setup import T0
from azure_collector_setup import collector_on as _collector
from azure_collector_setup import request_for as _request
from azure_collector_setup import rid as _rid
from azure_fake_service import FakeAzure, FakeCredential, Reply, logs_body, request_row

pytestmark = pytest.mark.integration

CONSUMPTION_SET = {"FunctionExecutionCount", "FunctionExecutionUnits"}
FLEX_SET = {"OnDemandFunctionExecutionCount", "AlwaysReadyFunctionExecutionCount", "OnDemandFunctionExecutionUnits",
            "AlwaysReadyFunctionExecutionUnits"}


def _billing(fake: FakeAzure) -> None:
    """Every app ran 10 executions of 100 ms at 2048 MB in T0; Flex apps split them on demand / always ready."""

    def value(rid: str, name: str, t: datetime) -> float | None:
        if t != T0:
            return None
        return {"FunctionExecutionCount": 10.0, "FunctionExecutionUnits": 10 * 100.0 * 2048,
                "OnDemandFunctionExecutionCount": 6.0, "OnDemandFunctionExecutionUnits": 6 * 100.0 * 2048,
                "AlwaysReadyFunctionExecutionCount": 4.0, "AlwaysReadyFunctionExecutionUnits": 4 * 100.0 * 2048,
                "Requests": 10.0, "Http5xx": 0.0}.get(name)

    fake.metric_value = value


def _asked(call: object) -> set[str]:
    return set(call.query["metricnames"][0].split(","))  # type: ignore[attr-defined]


def test_flex_and_consumption_apps_each_get_their_plans_metrics_and_billed_time(fake_azure: FakeAzure) -> None:
    apps = ["orders-func", "billing-func", "flex-api", "flex-jobs"]
    fake_azure.app_plans = {"flex-api": "flex", "flex-jobs": "flex"}
    fake_azure.logs_replies = [Reply(200, logs_body([request_row(a, "Run", T0, 10, avg=100.0) for a in apps]))]
    _billing(fake_azure)
    collector, _ = _collector(fake_azure, function_app_ids=[_rid(a) for a in apps])

    result = collector.collect(_request())

    by_scope = {h.scope: h for h in result.health}
    assert by_scope["metrics:westeurope"].ok, by_scope["metrics:westeurope"].error
    for call in fake_azure.metric_calls():
        asked = _asked(call)
        assert not (asked & CONSUMPTION_SET and asked & FLEX_SET), "a batch never mixes the plans' metrics"
    billed = {s.key.name: s.billed_ms for s in result.samples}
    assert billed == {f"{a}/Run": pytest.approx(1000.0) for a in apps}, "10 runs x 100 ms, Flex apps included"
    memory = {i.key.name: i.memory_mb for i in result.functions}
    assert memory["flex-api/Run"] == 2048, "on-demand + always-ready units over execution time"
    assert len(fake_azure.definition_calls()) == 4, "a mixed batch asks each of its apps' metric definitions"

    # the plans are known now: the next refresh sends one batch per plan and nothing else
    fake_azure.seen.clear()
    collector.collect(_request())
    calls = fake_azure.metric_calls()
    assert sorted(len(c.body["resourceids"]) for c in calls) == [2, 2]
    assert fake_azure.definition_calls() == []


def test_a_fleet_of_one_plan_costs_no_definition_calls(fake_azure: FakeAzure) -> None:
    """60 Flex apps: the first batch is refused for Consumption's metrics, asked again with Flex's, and the
    second batch goes straight to Flex: 3 metrics calls, where a Consumption fleet needs 2."""
    apps = [f"flex{i:02d}" for i in range(60)]
    fake_azure.app_plans = dict.fromkeys(apps, "flex")
    fake_azure.logs_replies = [Reply(200, logs_body([request_row(a, "Run", T0, 10, avg=100.0) for a in apps]))]
    _billing(fake_azure)
    collector, _ = _collector(fake_azure, function_app_ids=[_rid(a) for a in apps])

    result = collector.collect(_request())

    assert [len(c.body["resourceids"]) for c in fake_azure.metric_calls()] == [50, 50, 10]
    assert fake_azure.definition_calls() == []
    assert all(s.billed_ms == pytest.approx(1000.0) for s in result.samples)
    assert all(h.ok for h in result.health)


def test_configured_plans_are_asked_directly(fake_azure: FakeAzure) -> None:
    apps = ["orders-func", "flex-api"]
    fake_azure.app_plans = {"flex-api": "flex"}
    fake_azure.logs_replies = [Reply(200, logs_body([request_row(a, "Run", T0, 10, avg=100.0) for a in apps]))]
    _billing(fake_azure)
    collector, _ = _collector(fake_azure, function_app_ids=[_rid(a) for a in apps], app_plans={"flex-*": "flex"})

    result = collector.collect(_request())

    calls = fake_azure.metric_calls()
    assert len(calls) == 2, "one batch per plan, none refused"
    assert {frozenset(_asked(c) & (CONSUMPTION_SET | FLEX_SET)) for c in calls} == {
        frozenset(CONSUMPTION_SET), frozenset(FLEX_SET)}
    assert fake_azure.definition_calls() == []
    assert {s.key.name: s.billed_ms for s in result.samples} == {
        "orders-func/Run": pytest.approx(1000.0), "flex-api/Run": pytest.approx(1000.0)}


def test_an_unknown_metric_is_refused_with_the_services_400(fake_azure: FakeAzure) -> None:
    """The fake itself: naming a metric the resource does not define fails the whole batch."""
    from azure.core.exceptions import HttpResponseError
    from azure.monitor.querymetrics import MetricsClient

    fake_azure.app_plans = {"flex-api": "flex"}
    client = MetricsClient(fake_azure.url, FakeCredential())
    with pytest.raises(HttpResponseError) as refused:
        client.query_resources(resource_ids=[_rid("orders-func"), _rid("flex-api")],
                               metric_namespace="Microsoft.Web/sites", metric_names=["FunctionExecutionUnits"],
                               timespan=(T0, T0 + timedelta(minutes=5)), enforce_https=False)
    assert refused.value.status_code == 400
    assert "Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, metric: " \
           "FunctionExecutionUnits" in str(refused.value)
