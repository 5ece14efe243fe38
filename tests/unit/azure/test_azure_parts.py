"""The Azure collector's pure parts: KQL text, result rows, metric results, config example."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from opsview.collectors.azure.kql import COLUMNS, function_buckets_query
from opsview.collectors.azure.metrics import (
    PLAN_METRICS,
    Plan,
    PlanBook,
    _minutes,
    app_name,
    chunks,
    plan_of,
    query_region,
)
from opsview.collectors.azure.rows import apply_execution_units, function_name, parse_rows, to_samples
from opsview.config import AzureSource
from opsview.config.loader import parse_config

T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[3]


def test_query_is_bounded_and_aggregates_with_sampling_weights() -> None:
    q = function_buckets_query(T0, T0 + timedelta(minutes=5))
    assert "let lo = datetime(2025-03-04T10:00:00Z);" in q
    assert "let hi = datetime(2025-03-04T10:05:00Z);" in q
    assert q.count("TimeGenerated >= lo and TimeGenerated < hi") == 2, "both tables bounded by time"
    assert "percentilesw_array" in q
    assert 'tostring(Properties.Category) startswith "Host."' in q, "host traces tell whether starts can be seen"
    assert "HostTraces" in q
    assert "ItemCount" in q
    assert 'ResultCode == "429"' in q
    with pytest.raises(ValueError, match="timezone-aware"):
        function_buckets_query(datetime(2025, 1, 1), T0)  # noqa: DTZ001 (the point of the test)


def test_function_names_drop_the_host_prefix() -> None:
    assert function_name("Functions.ProcessOrder") == "ProcessOrder"
    assert function_name("ProcessOrder") == "ProcessOrder"


def test_rows_with_kusto_seven_digit_times_and_bad_rows() -> None:
    rows = [
        ["requests", "app", "Functions.F", "2025-03-04T10:00:00.0000000Z", 3, 0, 0, 5.0, 4.0, 9.0, 9.5, 10.0,
         "2025-03-04T10:00:01.1234567Z", "2025-03-04T10:00:02Z", None, None, None],
        ["requests", "", "F", "2025-03-04T10:00:00Z"] + [None] * 13,  # no app
        ["mystery", "app", "F", "2025-03-04T10:00:00Z"] + [None] * 13,
    ]
    requests, starts, bad = parse_rows(list(COLUMNS), rows)
    assert bad == 2
    assert starts == []
    (r,) = requests
    assert (r.app, r.function, r.start, r.invocations) == ("app", "F", T0, 3)
    assert r.first_at == T0 + timedelta(seconds=1, microseconds=123456)


def test_execution_units_become_billed_time_at_observed_memory() -> None:
    rows = [
        ["requests", "app", "A", T0.isoformat(), 10, 0, 0, 100.0, None, None, None, None, None, None, None, None,
         None],
        ["requests", "app", "B", T0.isoformat(), 10, 0, 0, 300.0, None, None, None, None, None, None, None, None,
         None],
    ]
    requests, starts, _ = parse_rows(list(COLUMNS), rows)
    samples = to_samples(requests, starts, subscription_id="s", region_of={}, default_region="r")
    # 4,000 ms of execution at 512 MB = 2,048,000 MB-ms
    billed, memory = apply_execution_units(samples, {("app", T0): 2_048_000.0})
    assert memory == {"app": 512}
    by_name = {s.key.name: s.billed_ms for s in billed}
    assert by_name == {"app/A": pytest.approx(1000.0), "app/B": pytest.approx(3000.0)}


def test_metric_results_are_keyed_by_app_and_flex_counts_add_up() -> None:
    rid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/flex-app"

    def metric(name: str, total: float | None) -> SimpleNamespace:
        point = SimpleNamespace(timestamp=T0, total=total)
        return SimpleNamespace(id=f"{rid}/providers/Microsoft.Insights/metrics/{name}", name=name,
                               timeseries=[SimpleNamespace(data=[point])])

    result = SimpleNamespace(metrics=[metric("OnDemandFunctionExecutionCount", 7.0),
                                      metric("AlwaysReadyFunctionExecutionCount", 3.0),
                                      metric("Http5xx", None)])
    (minute,) = _minutes([result], [rid])
    assert (minute.app, minute.start, minute.executions) == ("flex-app", T0, 10.0)
    assert minute.http_5xx is None, "no value is not zero"
    assert app_name(rid + "/functions/F") == "flex-app"
    assert [len(c) for c in chunks([str(i) for i in range(120)])] == [50, 50, 20]


def test_config_example_documents_every_azure_key_and_parses() -> None:
    text = (REPO / "config.example.toml").read_text()
    start = text.index("# [[sources.azure]]")
    block = []
    for line in text[start:].splitlines():
        if not line.startswith("#"):
            break
        block.append(line[2:] if line.startswith("# ") else line[1:])
    toml = "\n".join(block)
    keys = set(re.findall(r"^(\w+) =", toml, re.MULTILINE))
    assert keys >= set(AzureSource.model_fields) - {"type"}, "every key documented"
    toml = toml.replace('app_insights_resource_id = ""', "")  # one of workspace / resource, not both
    config = parse_config(toml, Path("config.example.toml"))
    (source,) = config.sources.azure
    assert source.region == "westeurope"
    assert source.app_regions == {"billing-func": "eastus"}
    assert source.reread == timedelta(minutes=10)


def test_host_traces_decide_between_zero_and_unknown_cold_starts() -> None:
    def request(app: str) -> list[object]:
        return ["requests", app, "F", T0.isoformat(), 5, 0, 0, 10.0] + [None] * 9

    def host(app: str, starts: int, traces: int | None) -> list[object]:
        return ["host_starts", app, "", T0.isoformat()] + [None] * 10 + [starts, T0.isoformat(), traces]

    rows = [request("logging"), request("filtered"), request("started"), host("logging", 0, 3),
            host("started", 1, None)]  # a start row without the count still proves host logs arrive
    requests, starts, bad = parse_rows(list(COLUMNS), rows)
    assert bad == 0
    samples = to_samples(requests, starts, subscription_id="s", region_of={}, default_region="r")
    assert {s.key.name: s.cold_starts for s in samples} == {"logging/F": 0, "filtered/F": None, "started/F": 1}


def test_metric_definitions_name_the_plan() -> None:
    assert plan_of({"FunctionExecutionCount", "FunctionExecutionUnits", "Requests"}) == Plan.CONSUMPTION
    assert plan_of(set(PLAN_METRICS[Plan.FLEX]) | {"AlwaysReadyUnits"}) == Plan.FLEX
    assert plan_of({"Requests", "Http5xx", "CpuTime"}) == Plan.OTHER, "Premium/Dedicated on Linux: neither set"
    for plan in (Plan.CONSUMPTION, Plan.FLEX):
        other = Plan.FLEX if plan == Plan.CONSUMPTION else Plan.CONSUMPTION
        execution = set(PLAN_METRICS[plan]) - set(PLAN_METRICS[Plan.OTHER])
        assert not execution & set(PLAN_METRICS[other]), "the plans' execution metrics never overlap"


class _Refusing:
    """A metrics client for `query_region` that refuses what the named apps do not define, like the service."""

    def __init__(self, plans: dict[str, Plan]) -> None:
        self.plans = plans
        self.asked: list[tuple[Plan, int]] = []

    def query_resources(self, *, resource_ids: list[str], metric_names: list[str], **_: object) -> list[object]:
        plan = next(p for p, names in PLAN_METRICS.items() if list(names) == metric_names)
        self.asked.append((plan, len(resource_ids)))
        if any(self.plans[rid] != plan for rid in resource_ids):
            error = RuntimeError("(BadRequest) Failed to find metric configuration for provider: Microsoft.Web")
            error.status_code = 400  # type: ignore[attr-defined]
            raise error
        return [SimpleNamespace(metrics=[]) for _ in resource_ids]


def test_plans_are_learned_with_as_few_calls_as_the_fleet_allows() -> None:
    flex = {f"/s/sites/f{i}": Plan.FLEX for i in range(60)}
    client = _Refusing(flex)
    book = PlanBook()
    result = query_region(client, "r", list(flex), T0, T0 + timedelta(minutes=5), book=book, definitions=None)
    assert client.asked == [(Plan.CONSUMPTION, 50), (Plan.FLEX, 50), (Plan.FLEX, 10)], "the guess moves on"
    assert (result.calls, result.error) == (3, None)
    assert book.known == flex

    mixed = {"/s/sites/c1": Plan.CONSUMPTION, "/s/sites/f1": Plan.FLEX}
    client = _Refusing(mixed)
    defined = {rid: set(PLAN_METRICS[plan]) for rid, plan in mixed.items()}
    result = query_region(client, "r", list(mixed), T0, T0 + timedelta(minutes=5), definitions=defined.__getitem__)
    assert client.asked == [(Plan.CONSUMPTION, 2), (Plan.FLEX, 2), (Plan.CONSUMPTION, 1), (Plan.FLEX, 1)]
    assert (result.calls, result.error) == (6, None), "2 refused batches, 2 definitions, 2 batches"

    result = query_region(_Refusing(mixed), "r", list(mixed), T0, T0 + timedelta(minutes=5), definitions=None)
    assert result.error is not None, "without definitions a mixed batch is a health error, not a wrong number"
    assert "Failed to find metric configuration" in result.error
