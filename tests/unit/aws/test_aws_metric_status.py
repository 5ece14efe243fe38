"""GetMetricData results that are not `Complete` reach the region's health entry.

Each `MetricDataResult` carries a `StatusCode` (`Complete | InternalError | PartialData | Forbidden`) and
`Messages` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html);
the response may carry its own `Messages` (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html).
moto always answers `Complete`, so these replies go through `botocore.stub.Stubber`, which checks each
request and reply against the SDK's model.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.aws.metrics import METRICS
from opsview.collectors.base import CollectRequest
from opsview.config import AwsSource
from opsview.schema import floor_time, utcnow

REGION = "eu-west-1"
NOW = floor_time(utcnow(), 60) + timedelta(seconds=30)
T0 = NOW - timedelta(minutes=2, seconds=30)


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", region_name=REGION)


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsCollector, Stubber]]:
    collector = AwsCollector(AwsSource(name="prod", regions=[REGION], cold_starts="off", errors="off"),
                             session_factory=_session)
    stubs = {svc: Stubber(collector._client(svc, REGION)) for svc in ("sts", "lambda", "cloudwatch")}
    for stub in stubs.values():
        stub.activate()
    stubs["sts"].add_response("get_caller_identity", {"Account": "111122223333", "Arn": "arn:aws:iam::1:user/x",
                                                      "UserId": "AID"})
    stubs["lambda"].add_response("list_functions", {"Functions": [
        {"FunctionName": "checkout", "FunctionArn": "arn:aws:lambda:eu-west-1:111122223333:function:checkout",
         "Runtime": "python3.12", "MemorySize": 1024, "Timeout": 30},
    ]})
    yield collector, stubs["cloudwatch"]
    for stub in stubs.values():
        stub.assert_no_pending_responses()
        stub.deactivate()


def _results(status: dict[str, tuple[str, list[float], list[dict[str, str]]]]) -> list[dict[str, Any]]:
    """One result per metric: suffix -> (StatusCode, values at T0.., Messages); others Complete and empty."""
    out = []
    for m in METRICS:
        code, values, messages = status.get(m.suffix, ("Complete", [], []))
        result: dict[str, Any] = {"Id": f"f0_{m.suffix}", "Label": m.metric, "StatusCode": code,
                                  "Timestamps": [T0 + timedelta(minutes=i) for i in range(len(values))],
                                  "Values": values}
        if messages:
            result["Messages"] = messages
        out.append(result)
    return out


def test_forbidden_and_internal_error_results_fail_the_health_entry(stubbed: tuple[AwsCollector, Stubber]) -> None:
    collector, cloudwatch = stubbed
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": _results({
        "inv": ("Complete", [12.0], []),
        "err": ("Forbidden", [], [{"Code": "Forbidden", "Value": "not authorized for this metric"}]),
        "p99": ("InternalError", [], [{"Code": "InternalError", "Value": "try again"}]),
    })})

    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=3), end=NOW))

    (health,) = result.health
    assert not health.ok
    error = health.error or ""
    for said in ("Forbidden", "not authorized for this metric", "InternalError", "checkout Duration p99"):
        assert said in error
    (sample,) = result.samples
    assert (sample.invocations, sample.errors, sample.duration_p99_ms) == (12, None, None)  # unknown, never 0


def test_partial_data_without_a_next_token_is_a_gap(stubbed: tuple[AwsCollector, Stubber]) -> None:
    collector, cloudwatch = stubbed
    cloudwatch.add_response("get_metric_data", {
        "MetricDataResults": _results({"inv": ("PartialData", [3.0], [])}),
        "Messages": [{"Code": "MaxMetricsExceeded", "Value": "Maximum number of allowed metrics exceeded"}],
    })
    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=3), end=NOW))
    (health,) = result.health
    assert not health.ok
    assert "PartialData" in (health.error or "")
    assert "Maximum number of allowed metrics exceeded" in (health.error or "")


def test_partial_data_completed_by_the_next_page_is_complete(stubbed: tuple[AwsCollector, Stubber]) -> None:
    collector, cloudwatch = stubbed
    cloudwatch.add_response("get_metric_data", {
        "MetricDataResults": _results({"inv": ("PartialData", [3.0], []), "max": ("PartialData", [], [])}),
        "NextToken": "more",
    })
    cloudwatch.add_response("get_metric_data", {"MetricDataResults": [
        {"Id": "f0_inv", "StatusCode": "Complete", "Timestamps": [T0 + timedelta(minutes=1)], "Values": [4.0]},
        {"Id": "f0_max", "StatusCode": "Complete", "Timestamps": [T0, T0 + timedelta(minutes=1)],
         "Values": [90.0, 80.0]},
    ]}, {"MetricDataQueries": ANY, "StartTime": ANY, "EndTime": ANY, "ScanBy": "TimestampAscending",
         "MaxDatapoints": ANY, "NextToken": "more"})

    result = collector.collect(CollectRequest(start=NOW - timedelta(minutes=3), end=NOW))

    (health,) = result.health
    assert health.ok, health.error
    assert [(s.start, s.invocations, s.duration_max_ms) for s in result.samples] == [
        (T0, 3, 90.0), (T0 + timedelta(minutes=1), 4, 80.0)]
