"""The Azure collector against a local server speaking the Logs Query and metrics batch REST shapes,
through the real LogsQueryClient and MetricsClient."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from azure_collector_setup import SUB, T0, WS
from azure_collector_setup import collector_on as _collector
from azure_collector_setup import request_for as _request
from azure_collector_setup import rid as _rid
from azure_fake_service import (
    FakeAzure,
    Reply,
    host_row,
    logs_body,
    request_row,
    start_row,
)

from opsview.collect import CollectionRunner
from opsview.collectors.base import CollectRequest
from opsview.console_links import console_links
from opsview.schema import Coverage, FunctionKey
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration


def test_one_query_gives_per_function_samples_with_azure_keys(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([
        request_row("orders-func", "Functions.ProcessOrder", T0, 120, errors=3, throttles=2),
        request_row("orders-func", "GetOrder", T0, 40),
        request_row("orders-func", "GetOrder", T0 + timedelta(minutes=1), 35, avg=None, p50=None, p95=None,
                    p99=None, dmax=None),
        host_row("orders-func", T0 + timedelta(minutes=3), 2),  # the host logs, and logged no start
    ]))]
    collector, cred = _collector(fake_azure)

    result = collector.collect(_request())

    assert len(fake_azure.logs()) == 1, "one KQL query per workspace and refresh, not one per function"
    seen = fake_azure.logs()[0]
    assert seen.path == f"/v1/workspaces/{WS}/query"
    assert seen.authorization == "Bearer fake-token"
    assert seen.body["timespan"].startswith("2025-03-04T10:00:00")
    assert "bin(TimeGenerated, 60s)" in seen.body["query"]
    key = FunctionKey("azure", SUB, "westeurope", "orders-func/ProcessOrder")
    sample = next(s for s in result.samples if s.key == key)
    assert (sample.invocations, sample.errors, sample.throttles, sample.period_s) == (120, 3, 2, 60)
    assert (sample.duration_p50_ms, sample.duration_p95_ms, sample.duration_p99_ms) == (90.0, 200.0, 300.0)
    assert (sample.concurrency_max, sample.init_avg_ms) == (None, None), "Azure reports neither"
    assert sample.cold_starts == 0, "traces were read and held no host start"
    empty = [s for s in result.samples if s.start == T0 + timedelta(minutes=1)]
    assert empty[0].duration_avg_ms is None, "missing durations stay None, never 0"
    assert {i.key.name for i in result.functions} == {"orders-func/ProcessOrder", "orders-func/GetOrder"}
    assert [(h.scope, h.ok, h.samples) for h in result.health] == [(f"logs:{WS}", True, 3)]
    # the query answered whole: the five minutes are known (a function without a row in one had no request)
    assert result.coverage == [Coverage("azure", SUB, "westeurope", T0, T0 + timedelta(minutes=5))]


def test_cold_starts_go_to_the_first_function_served_after_the_host_started(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([
        # host starts at :30; GetOrder's requests all came before, ProcessOrder serves first after
        start_row("orders-func", T0, 2, at_s=30),
        request_row("orders-func", "GetOrder", T0, 10, first_s=1, last_s=20),
        request_row("orders-func", "ProcessOrder", T0, 5, first_s=31, last_s=50),
        request_row("orders-func", "CancelOrder", T0, 5, first_s=40, last_s=55),
        # a host that starts at :58 serves its first request in the next minute
        start_row("billing-func", T0, 1, at_s=58),
        request_row("billing-func", "Charge", T0 + timedelta(minutes=1), 4, first_s=2),
        # an app that started and served nothing: no request paid for it
        start_row("idle-func", T0, 1),
    ]))]
    collector, _ = _collector(fake_azure)

    samples = {(s.key.name, s.start): s for s in collector.collect(_request()).samples}

    assert samples[("orders-func/ProcessOrder", T0)].cold_starts == 2
    assert samples[("orders-func/GetOrder", T0)].cold_starts == 0
    assert samples[("orders-func/CancelOrder", T0)].cold_starts == 0
    assert samples[("billing-func/Charge", T0 + timedelta(minutes=1))].cold_starts == 1
    assert sum(s.cold_starts or 0 for s in samples.values()) == 3, "each host start counted once"


def test_a_partial_result_that_shorter_ranges_cannot_cure_is_left_out_not_half_counted(fake_azure: FakeAzure) -> None:
    """A partial failure that is not a limit (here a workspace that did not answer) gives rows that look
    complete but are not: nothing of that range is stored, and the health entry says which minutes."""
    fake_azure.logs_replies = [Reply(200, logs_body(
        [request_row("orders-func", "GetOrder", T0, 7)],
        error={"code": "PartialError", "message": "There were some errors when processing your query.",
               "details": [{"code": "InsufficientAccessError", "message": "The query was only partially "
                            "executed: one or more workspaces could not be accessed"}]},
    ))]
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request())

    assert result.samples == [], "no half-counted minute is kept"
    assert len(fake_azure.logs()) == 1, "a cause that a shorter range cannot cure is not split"
    (health,) = result.health
    assert not health.ok
    assert health.error is not None
    assert "5 minute(s) left out" in health.error
    assert "could not be accessed" in health.error
    assert result.coverage == [], "minutes left out are unknown, not quiet"


def test_a_memory_limit_is_split_down_to_one_minute_and_that_minute_left_out(fake_azure: FakeAzure) -> None:
    low_memory = {"code": "PartialError", "message": "There were some errors when processing your query.",
                  "details": [{"code": "EngineError", "message": "Something went wrong",
                               "innererror": {"code": "-2133196798", "message": "Query execution lacks memory "
                                              "resources to complete (80DA0007): E_LOW_MEMORY_CONDITION"}}]}

    def reply(body: dict[str, object]) -> Reply:
        query = str(body["query"])
        if f"let lo = datetime({T0:%Y-%m-%dT%H:%M:%S}Z);" in query:  # every range that holds 10:00 fails
            return Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 7)], error=low_memory))
        minute = T0 + timedelta(minutes=1)
        return Reply(200, logs_body([request_row("orders-func", "GetOrder", minute, 5),
                                     host_row("orders-func", minute, 1)]))

    fake_azure.logs_reply_fn = reply
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request(minutes=2))

    assert [(s.start, s.invocations) for s in result.samples] == [(T0 + timedelta(minutes=1), 5)]
    assert len(fake_azure.logs()) == 3, "[10:00, 10:02) then each minute"
    (health,) = result.health
    assert not health.ok
    assert health.error is not None
    assert "1 minute(s) left out" in health.error
    assert "E_LOW_MEMORY_CONDITION" in health.error
    # 10:00 stayed partial and is left out; 10:01 was read whole
    minute = T0 + timedelta(minutes=1)
    assert result.coverage == [Coverage("azure", SUB, "westeurope", minute, minute + timedelta(minutes=1))]


def test_failure_is_a_health_entry_not_an_exception(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(400, {"error": {
        "code": "BadArgumentError", "message": "The request had some invalid properties",
        "innererror": {"code": "SemanticError", "message": "'AppRequests' could not be resolved"}}})]
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request())

    assert result.samples == []
    (health,) = result.health
    assert not health.ok
    assert health.error is not None
    assert "invalid properties" in health.error
    assert "fake-token" not in health.error, "credentials never reach health text"
    assert result.coverage == [], "a failed query covers nothing"


def test_throttled_429_is_retried_and_then_succeeds(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [
        Reply(429, {"error": {"code": "TooManyRequests", "message": "throttled"}}, {"Retry-After": "0"}),
        Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 9)])),
    ]
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request())

    assert len(fake_azure.logs()) == 2
    assert [s.invocations for s in result.samples] == [9]
    assert all(h.ok for h in result.health)


def test_throttled_past_retries_reports_unhealthy(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [
        Reply(429, {"error": {"code": "TooManyRequests", "message": "throttled"}}, {"Retry-After": "0"}),
    ]
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request())

    assert result.samples == []
    assert not result.health[0].ok
    assert result.health[0].error


def test_empty_tables_mean_no_samples_and_healthy(fake_azure: FakeAzure) -> None:
    collector, _ = _collector(fake_azure)
    result = collector.collect(_request())
    assert result.samples == []
    assert result.functions == []
    assert result.health[0].ok


def test_app_insights_resource_scope_uses_resource_query(fake_azure: FakeAzure) -> None:
    component = f"/subscriptions/{SUB}/resourceGroups/rg/providers/microsoft.insights/components/ai-orders"
    fake_azure.logs_replies = [Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 3)]))]
    collector, _ = _collector(fake_azure, workspace_id=None, app_insights_resource_id=component)

    result = collector.collect(_request())

    assert fake_azure.logs()[0].path == f"/v1{component}/query"
    assert result.samples[0].invocations == 3
    # the console's Application Insights failures link needs the component, which an app's id does not name
    (info,) = result.functions
    assert info.labels["app_insights"] == component
    links = {link.id: link.url for link in console_links(info, T0, T0 + timedelta(hours=1)).links}
    assert "FailuresV2Blade" in links["failures"]
    assert "ai-orders" in links["failures"]


def test_metrics_are_batched_50_apps_per_call_and_fill_billed_time(fake_azure: FakeAzure) -> None:
    apps = [f"app{i:03d}" for i in range(120)]
    fake_azure.logs_replies = [Reply(200, logs_body(
        [request_row(app, "Run", T0, 10, avg=100.0) for app in apps]
    ))]

    def value(rid: str, name: str, t: datetime) -> float | None:
        if t != T0:
            return None
        return {"FunctionExecutionCount": 10.0, "FunctionExecutionUnits": 10 * 100.0 * 256}.get(name)

    fake_azure.metric_value = value
    collector, cred = _collector(fake_azure, function_app_ids=[_rid(a) for a in apps])

    result = collector.collect(_request())

    calls = fake_azure.metric_calls()
    assert len(calls) == 3, "120 apps = 3 getBatch calls of at most 50"
    assert all(c.path == f"/subscriptions/{SUB}/metrics:getBatch" for c in calls)
    assert calls[0].query["metricnamespace"] == ["Microsoft.Web/sites"]
    assert "FunctionExecutionUnits" in calls[0].query["metricnames"][0]
    assert sum(len(c.body["resourceids"]) for c in calls) == 120
    assert "https://metrics.monitor.azure.com/.default" in cred.scopes
    sample = next(s for s in result.samples if s.key.name == "app007/Run")
    assert sample.billed_ms == pytest.approx(1000.0), "10 runs x 100 ms at the observed 256 MB"
    info = next(i for i in result.functions if i.key.name == "app007/Run")
    assert info.memory_mb == 256
    assert info.resource_id == _rid("app007") + "/functions/Run"
    metrics_health = [h for h in result.health if h.scope == "metrics:westeurope"]
    assert metrics_health
    assert metrics_health[0].ok
    assert metrics_health[0].functions == 120


def test_metrics_failure_does_not_sink_the_logs(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([request_row("app1", "Run", T0, 10)]))]
    fake_azure.metrics_status = 503
    collector, _ = _collector(fake_azure, function_app_ids=[_rid("app1")])

    result = collector.collect(_request())

    assert [s.invocations for s in result.samples] == [10]
    assert result.samples[0].billed_ms is None, "no execution units, no billed time"
    by_scope = {h.scope: h for h in result.health}
    assert by_scope[f"logs:{WS}"].ok
    assert not by_scope["metrics:westeurope"].ok
    # App Insights is the traffic read: its span is known whatever the platform metrics did
    assert result.coverage == [Coverage("azure", SUB, "westeurope", T0, T0 + timedelta(minutes=5))]


@pytest.mark.parametrize("status", [200, 503])
def test_without_logs_the_platform_metrics_decide_what_was_read(fake_azure: FakeAzure, status: int) -> None:
    fake_azure.metrics_status = status
    collector, _ = _collector(fake_azure, workspace_id=None, function_app_ids=[_rid("app1")])

    result = collector.collect(_request())

    expected = [Coverage("azure", SUB, "westeurope", T0, T0 + timedelta(minutes=5))] if status == 200 else []
    assert result.coverage == expected


def test_apps_app_insights_says_nothing_about_still_show_as_app_totals(fake_azure: FakeAzure) -> None:
    """`quiet-func` has no App Insights rows (not wired, or sampled away): its platform counts become one row."""
    fake_azure.logs_replies = [Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 10)]))]

    def value(rid: str, name: str, t: datetime) -> float | None:
        if t != T0:
            return None
        return {"FunctionExecutionCount": 40.0, "Http5xx": 3.0, "Requests": 40.0}.get(name)

    fake_azure.metric_value = value
    collector, _ = _collector(fake_azure, function_app_ids=[_rid("orders-func"), _rid("quiet-func")])

    result = collector.collect(_request())

    by_name = {s.key.name: s for s in result.samples}
    assert set(by_name) == {"orders-func/GetOrder", "quiet-func/*"}, "an app App Insights covers is not doubled"
    total = by_name["quiet-func/*"]
    assert (total.invocations, total.errors) == (40, 3)
    assert (total.duration_p99_ms, total.cold_starts) == (None, None), "the platform does not report them"
    info = next(i for i in result.functions if i.key.name == "quiet-func/*")
    assert info.resource_id == _rid("quiet-func")


def test_app_globs_and_function_excludes_filter_the_data(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([
        request_row("orders-func", "GetOrder", T0, 1),
        request_row("orders-func", "Health", T0, 1),
        request_row("legacy-func", "Run", T0, 1),
    ]))]
    collector, _ = _collector(fake_azure, apps=["orders-*"], exclude=["*/Health"])
    names = {s.key.name for s in collector.collect(_request()).samples}
    assert names == {"orders-func/GetOrder"}


def test_runner_writes_azure_samples_into_sqlite(fake_azure: FakeAzure, tmp_path: Path) -> None:
    from opsview.config import Config

    fake_azure.logs_replies = [Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 11, errors=1),
                                                     host_row("orders-func", T0, 1)]))]
    collector, _ = _collector(fake_azure)
    config = Config.model_validate({})
    store = SQLiteStore(tmp_path / "az.db")
    try:
        runner = CollectionRunner(config, store, [collector.source])
        runner._collectors[collector.name] = collector
        (report,) = runner.run(now=T0 + timedelta(minutes=5), since=timedelta(minutes=5))
        assert report.ok
        assert report.samples == 1
        key = FunctionKey("azure", SUB, "westeurope", "orders-func/GetOrder")
        (stored,) = store.series(key, T0, T0 + timedelta(minutes=5))
        assert (stored.invocations, stored.errors, stored.cold_starts) == (11, 1, 0)
        # the second refresh starts from the stored bucket minus `reread`, not from --since
        runner.run(now=T0 + timedelta(minutes=30), since=timedelta(hours=6))
        assert fake_azure.logs()[-1].body["timespan"].startswith("2025-03-04T09:50:00")
    finally:
        store.close()


# --- cold starts need host traces (issue 14, item 7) -------------------------------------------------------

def test_apps_without_host_traces_have_unknown_cold_starts(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([
        request_row("orders-func", "GetOrder", T0, 10),
        host_row("orders-func", T0 + timedelta(minutes=2), 3),  # the host logs: no start in the window is 0
        request_row("quiet-func", "Run", T0, 10),  # host.json filters Host.*: no trace at all
        request_row("quiet-func", "Run", T0 + timedelta(minutes=1), 4),
    ]))]
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request())

    cold = {(s.key.name, s.start): s.cold_starts for s in result.samples}
    assert cold[("orders-func/GetOrder", T0)] == 0
    assert cold[("quiet-func/Run", T0)] is None, "a start could not have been seen: unknown, not 0"
    assert cold[("quiet-func/Run", T0 + timedelta(minutes=1))] is None
    (health,) = result.health
    assert health.ok, "the query itself went fine"
    assert health.error is not None
    assert "cold starts unknown for 1 app(s)" in health.error
    assert "quiet-func" in health.error


def test_a_warm_idle_host_keeps_countable_cold_starts_across_refreshes(fake_azure: FakeAzure) -> None:
    """A host that logged traces in an earlier refresh still logs its starts: a later window in which the warm
    host wrote nothing reads 0 cold starts, not unknown. An app never seen logging host traces stays unknown."""
    fake_azure.logs_replies = [
        Reply(200, logs_body([request_row("orders-func", "GetOrder", T0, 10),
                              host_row("orders-func", T0 + timedelta(minutes=1), 3)])),
        Reply(200, logs_body([request_row("orders-func", "GetOrder", T0 + timedelta(minutes=30), 7),
                              request_row("quiet-func", "Run", T0 + timedelta(minutes=30), 4)])),
    ]
    collector, _ = _collector(fake_azure)
    collector.collect(_request())

    later = collector.collect(CollectRequest(start=T0 + timedelta(minutes=30), end=T0 + timedelta(minutes=35)))

    cold = {s.key.name: s.cold_starts for s in later.samples}
    assert cold["orders-func/GetOrder"] == 0, "its host logs reach the workspace: no start seen is 0"
    assert cold["quiet-func/Run"] is None
    (health,) = later.health
    assert health.error is not None
    assert "cold starts unknown for 1 app(s)" in health.error
    assert "orders-func" not in health.error


# --- partial results are split, not kept (issue 14, item 8) ------------------------------------------------

def test_a_truncated_first_run_is_split_until_every_row_is_read(fake_azure: FakeAzure) -> None:
    """The query API stops at 500,000 rows (here scaled down to 60 with the data): the collector keeps no
    truncated result and queries smaller ranges until each one is complete."""
    apps = [f"app{i:02d}" for i in range(20)]
    minutes = [T0 + timedelta(minutes=m) for m in range(10)]
    fake_azure.log_rows = [request_row(a, "Run", t, 10 + m) for m, t in enumerate(minutes) for a in apps]
    fake_azure.log_rows += [host_row(a, T0, 1) for a in apps]
    fake_azure.max_rows = 60
    collector, _ = _collector(fake_azure)

    result = collector.collect(_request(minutes=10))

    assert len(result.samples) == 200, "every (app, minute) read once"
    assert sum(s.invocations or 0 for s in result.samples) == 20 * sum(10 + m for m in range(10))
    assert len({(s.key, s.start) for s in result.samples}) == 200, "no bucket read twice"
    assert all(s.cold_starts == 0 for s in result.samples)
    (health,) = result.health
    assert health.ok, health.error
    queries = fake_azure.logs()
    assert 1 < len(queries) <= 15, "halving converges: [10] -> [5, 5] -> [2, 3] ..."
