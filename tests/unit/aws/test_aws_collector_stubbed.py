"""The collector's percentile and Logs Insights paths, which moto cannot answer.

moto computes no percentile statistics and no Logs Insights `stats`, so these tests use
`botocore.stub.Stubber` with responses shaped exactly like the documented GetMetricData,
StartQuery and GetQueryResults replies (the SDK validates every request against its model).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.aws.metrics import METRICS
from opsview.collectors.base import CollectRequest
from opsview.config import AwsSource
from opsview.schema import Coverage

NOW = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)
T0 = datetime(2024, 5, 1, 11, 58, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
REGION = "eu-west-1"


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name=REGION)


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsCollector, dict[str, Stubber]]]:
    collector = AwsCollector(AwsSource(name="prod", regions=[REGION], errors="off"), session_factory=_session,
                             insights_deadline_s=5.0, now=lambda: NOW)
    stubs = {svc: Stubber(collector._client(svc, REGION)) for svc in ("sts", "lambda", "logs", "cloudwatch")}
    for stub in stubs.values():
        stub.activate()
    stubs["sts"].add_response("get_caller_identity", {"Account": "111122223333", "Arn": "arn:aws:iam::1:user/x",
                                                      "UserId": "AID"})
    stubs["lambda"].add_response("list_functions", {"Functions": [
        {"FunctionName": "checkout", "FunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:checkout",
         "Runtime": "python3.12", "MemorySize": 1024, "Timeout": 30},
    ]})
    stubs["logs"].add_response("describe_log_groups", {"logGroups": [{"logGroupName": "/aws/lambda/checkout"}]},
                               {"logGroupIdentifiers": ["/aws/lambda/checkout"]})
    yield collector, stubs
    for stub in stubs.values():
        stub.deactivate()


def _metric_results(values: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [
        {"Id": f"f0_{m.suffix}", "Label": m.metric, "StatusCode": "Complete",
         "Timestamps": [T0, T1][: len(values.get(m.suffix, []))], "Values": values.get(m.suffix, [])}
        for m in METRICS
    ]


def test_percentiles_and_insights_cold_starts(stubbed: tuple[AwsCollector, dict[str, Stubber]]) -> None:
    collector, stubs = stubbed
    page1 = _metric_results({"inv": [40.0, 12.0], "err": [1.0, 0.0], "thr": [0.0, 0.0], "avg": [120.0, 90.0],
                             "p50": [100.0, 80.0]})
    page2 = _metric_results({"p95": [300.0, 200.0], "p99": [900.0], "max": [1500.0, 400.0], "conc": [7.0, 3.0]})
    stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": page1, "NextToken": "page2"})
    stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": page2},
                                     {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY,
                                      "ScanBy": "TimestampAscending", "MaxDatapoints": 100_800, "NextToken": "page2"})
    stubs["logs"].add_response("start_query", {"queryId": "q-1"})
    stubs["logs"].add_response("get_query_results", {"status": "Running", "results": []}, {"queryId": "q-1"})
    stubs["logs"].add_response("get_query_results", {"status": "Complete", "results": [[
        {"field": "minute", "value": "2024-05-01 11:58:00.000"},
        {"field": "@log", "value": "111122223333:/aws/lambda/checkout"},
        {"field": "cold_starts", "value": "3"},
        {"field": "init_avg", "value": "412.5"},
        {"field": "init_p95", "value": "610"},
    ]]}, {"queryId": "q-1"})

    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=2), end=NOW))

    (health,) = result.health
    assert health.ok, health.error
    assert health.scope == "111122223333/eu-west-1"
    first, second = sorted(result.samples, key=lambda s: s.start)
    assert first.key.account == "111122223333"
    assert (first.invocations, first.errors, first.throttles) == (40, 1, 0)
    assert (first.duration_p50_ms, first.duration_p95_ms, first.duration_p99_ms, first.duration_max_ms) == (
        100.0, 300.0, 900.0, 1500.0)
    assert (first.cold_starts, first.init_avg_ms, first.init_p95_ms, first.concurrency_max) == (3, 412.5, 610.0, 7.0)
    # the log group was read and had no cold start in the second minute: 0, not unknown
    assert (second.invocations, second.cold_starts, second.init_avg_ms) == (12, 0, None)
    assert second.duration_p99_ms is None  # no datapoint is no value, never 0
    # every Invocations result came back Complete: the two minutes read are known, a minute without a datapoint
    # among them would be a quiet one
    assert result.coverage == [Coverage("aws", "111122223333", REGION, T0, T0 + timedelta(minutes=2))]
    for stub in stubs.values():
        stub.assert_no_pending_responses()


def test_denied_insights_falls_back_to_filter_log_events(stubbed: tuple[AwsCollector, dict[str, Stubber]]) -> None:
    collector, stubs = stubbed
    stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": _metric_results({"inv": [5.0]})})
    stubs["logs"].add_client_error("start_query", "AccessDeniedException", "not authorized to perform StartQuery")
    stubs["logs"].add_response("filter_log_events", {"events": [
        {"logStreamName": "s", "timestamp": int(T0.timestamp() * 1000) + 500, "eventId": "1",
         "message": "REPORT RequestId: a\tDuration: 5 ms\tBilled Duration: 5 ms\tMemory Size: 1024 MB\t"
                    "Max Memory Used: 80 MB\tInit Duration: 250.00 ms\t\n"},
    ]})
    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=2), end=NOW))
    (health,) = result.health
    assert health.ok
    (sample,) = result.samples
    assert (sample.invocations, sample.cold_starts, sample.init_avg_ms) == (5, 1, 250.0)


def test_throttled_region_is_a_health_entry(stubbed: tuple[AwsCollector, dict[str, Stubber]]) -> None:
    collector, stubs = stubbed
    # Stubber answers before botocore's retry handler, so one error is what the collector finally sees
    stubs["cloudwatch"].add_client_error("get_metric_data", "Throttling", "Rate exceeded", 400)
    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=2), end=NOW))
    (health,) = result.health
    assert not health.ok
    assert "Throttling" in (health.error or "")
    assert [f.key.name for f in result.functions] == ["checkout"]  # discovery still lands
    assert result.coverage == []  # the region's metrics were not read: its minutes stay unknown


@pytest.mark.parametrize(("failed", "covered"), [("inv", False), ("p99", True)])
def test_a_span_whose_invocations_did_not_come_back_whole_is_not_covered(
    stubbed: tuple[AwsCollector, dict[str, Stubber]], failed: str, covered: bool
) -> None:
    """A result ending `InternalError` (or `Forbidden`) lacks datapoints that exist
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html, StatusCode):
    missing Invocations make the span's traffic unknown; a missing p99 only leaves p99 unknown."""
    collector, stubs = stubbed
    results = _metric_results({"inv": [40.0, 12.0], "p99": [900.0, 800.0]})
    for r in results:
        if r["Id"] == f"f0_{failed}":
            r.update(StatusCode="InternalError", Timestamps=[], Values=[])
    stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": results})
    stubs["logs"].add_client_error("start_query", "AccessDeniedException", "not authorized to perform StartQuery")
    stubs["logs"].add_response("filter_log_events", {"events": []})
    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=2), end=NOW))
    (health,) = result.health
    assert not health.ok
    assert "InternalError" in (health.error or "")
    assert bool(result.coverage) is covered


def test_list_functions_follows_next_marker() -> None:
    """Two ListFunctions pages joined by NextMarker (moto answers in one page, so this is stubbed)."""
    collector = AwsCollector(AwsSource(name="p", regions=[REGION], cold_starts="off", errors="off"),
                             session_factory=_session)
    lam = Stubber(collector._client("lambda", REGION))
    with lam:
        def fn(name: str) -> dict[str, Any]:
            return {"FunctionName": name, "FunctionArn": f"arn:aws:lambda:{REGION}:1:function:{name}", "Timeout": 3}

        lam.add_response("list_functions", {"Functions": [fn("a"), fn("b")], "NextMarker": "m1"}, {})
        lam.add_response("list_functions", {"Functions": [fn("c")]}, {"Marker": "m1"})
        cache = collector._discover("111122223333", REGION)
        lam.assert_no_pending_responses()
    assert [f.key.name for f in cache.functions] == ["a", "b", "c"]


def test_a_result_at_the_row_cap_that_cannot_be_split_leaves_cold_starts_unknown() -> None:
    """One shared log group, one minute, and 10,000 rows back (the most one query returns: StartQuery
    `limit`, https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html): the
    rows that did not fit may be ours, so our function's cold starts there are unknown, not 0."""
    collector = AwsCollector(AwsSource(name="prod", regions=[REGION], errors="off"), session_factory=_session,
                             insights_deadline_s=5.0, now=lambda: NOW)
    stubs = {svc: Stubber(collector._client(svc, REGION)) for svc in ("sts", "lambda", "logs", "cloudwatch")}
    for stub in stubs.values():
        stub.activate()
    stubs["sts"].add_response("get_caller_identity", {"Account": "111122223333", "Arn": "arn:aws:iam::1:user/x",
                                                      "UserId": "AID"})
    stubs["lambda"].add_response("list_functions", {"Functions": [
        {"FunctionName": "checkout", "FunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:checkout",
         "Timeout": 30, "LoggingConfig": {"LogFormat": "Text", "LogGroup": "crowd"}},
    ]})
    stubs["logs"].add_response("describe_log_groups", {"logGroups": [{"logGroupName": "crowd"}]},
                               {"logGroupIdentifiers": ["crowd"]})
    stubs["cloudwatch"].add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "f0_inv", "StatusCode": "Complete", "Timestamps": [T1], "Values": [5.0]}]})
    stubs["logs"].add_response("start_query", {"queryId": "q-1"})
    others = [[{"field": "minute", "value": "2024-05-01 11:59:00.000"}, {"field": "@log", "value": "1:crowd"},
               {"field": "fn", "value": f"other{i}"}, {"field": "cold_starts", "value": "1"}] for i in range(10_000)]
    stubs["logs"].add_response("get_query_results", {"status": "Complete", "results": others}, {"queryId": "q-1"})

    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=1), end=NOW))

    (sample,) = result.samples
    assert (sample.invocations, sample.cold_starts) == (5, None)
    (health,) = result.health
    assert not health.ok
    assert "10,000-row cap" in (health.error or "")
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()
