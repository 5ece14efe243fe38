"""The AWS collector against a real moto server on loopback: discovery, Sum/Maximum metrics,
log reading (FilterLogEvents; moto's Logs Insights does not evaluate `stats`), a failing region, and
incremental collection through the real SQLite store. (moto returns ListFunctions in one page, so
NextMarker pagination is covered by the Stubber test in tests/unit/aws.)

The server comes from conftest.py: moto, extended where it does not behave like AWS (aws_fakes.py: percentile
statistics, GetMetricData's StartTime rounding, retention periods and paging, Lambda's LoggingConfig).
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.base import CollectRequest
from opsview.config import AwsSource
from opsview.schema import Coverage, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

REGION = "us-east-1"


def _client(url: str, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=url)


@pytest.fixture(scope="module")
def fleet(moto_url: str) -> dict[str, Any]:
    """65 functions, metrics for two, a log group with cold starts."""
    import os

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    role = _client(moto_url, "iam").create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 1\n")
    lam = _client(moto_url, "lambda")
    for i in range(65):
        lam.create_function(FunctionName=f"svc-{i:02d}", Runtime="python3.12", Role=role, Handler="app.handler",
                            Code={"ZipFile": code.getvalue()}, Timeout=120 if i == 1 else 30, MemorySize=512,
                            Tags={"team": "payments" if i < 3 else "search"})
    lam.create_function(FunctionName="legacy-cron", Runtime="python3.12", Role=role, Handler="app.handler",
                        Code={"ZipFile": code.getvalue()})
    now = utcnow()
    minute = floor_time(now, 60) - timedelta(minutes=5)
    cw = _client(moto_url, "cloudwatch")
    data = []
    for name, inv, err, conc in (("svc-01", 30.0, 2.0, 4.0), ("svc-02", 7.0, 0.0, 1.0)):
        dims = [{"Name": "FunctionName", "Value": name}]
        at = minute + timedelta(seconds=10)
        data += [
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": inv, "Unit": "Count"},
            {"MetricName": "Errors", "Dimensions": dims, "Timestamp": at, "Value": err, "Unit": "Count"},
            {"MetricName": "ConcurrentExecutions", "Dimensions": dims, "Timestamp": at, "Value": conc},
            {"MetricName": "Duration", "Dimensions": dims, "Timestamp": at, "Value": 250.0},
        ]
    cw.put_metric_data(Namespace="AWS/Lambda", MetricData=data)
    logs = _client(moto_url, "logs")
    logs.create_log_group(logGroupName="/aws/lambda/svc-01")
    logs.create_log_stream(logGroupName="/aws/lambda/svc-01", logStreamName="2024/05/01/[$LATEST]abc")
    ms = int(minute.timestamp() * 1000)
    report = ("REPORT RequestId: {rid}\tDuration: 20.00 ms\tBilled Duration: 20 ms\tMemory Size: 512 MB\t"
              "Max Memory Used: 90 MB{init}")
    logs.put_log_events(logGroupName="/aws/lambda/svc-01", logStreamName="2024/05/01/[$LATEST]abc", logEvents=[
        {"timestamp": ms + 1000, "message": report.format(rid="a", init="\tInit Duration: 300.00 ms")},
        {"timestamp": ms + 2000, "message": report.format(rid="b", init="")},
        {"timestamp": ms + 3000, "message": report.format(rid="c", init="\tRestore Duration: 500.00 ms")},
    ])
    logs.create_log_group(logGroupName="/aws/lambda/svc-02")
    return {"minute": minute, "now": now}


def _source(url: str, **kw: Any) -> AwsSource:
    # moto's own Logs Insights evaluates no `stats`: logs are read with FilterLogEvents
    kw.setdefault("errors", "filter")
    return AwsSource(name="moto", endpoint_url=url, cold_starts="filter", **kw)


def test_discovery_and_name_filters(moto_url: str, fleet: dict[str, Any]) -> None:
    collector = AwsCollector(_source(moto_url, regions=[REGION], include=["svc-*"], exclude=["svc-6*"]))
    result = collector.collect(CollectRequest(start=fleet["now"] - timedelta(minutes=10), end=fleet["now"]))
    names = sorted(f.key.name for f in result.functions)
    assert len(names) == 60  # 65, minus svc-60..64
    assert "legacy-cron" not in names
    info = next(f for f in result.functions if f.key.name == "svc-01")
    assert (info.key.account, info.key.region, info.runtime, info.memory_mb, info.timeout_s) == (
        "123456789012", REGION, "python3.12", 512, 120.0)
    assert info.resource_id is not None
    assert info.resource_id.endswith(":function:svc-01")


def test_tag_filter(moto_url: str, fleet: dict[str, Any]) -> None:
    collector = AwsCollector(_source(moto_url, regions=[REGION], tags={"team": "payments"}))
    result = collector.collect(CollectRequest(start=fleet["now"] - timedelta(minutes=10), end=fleet["now"]))
    assert sorted(f.key.name for f in result.functions) == ["svc-00", "svc-01", "svc-02"]
    assert all(f.labels["team"] == "payments" for f in result.functions)


def test_metrics_cold_starts_and_a_failing_region(moto_url: str, fleet: dict[str, Any]) -> None:
    """`eu-nowhere-1` makes moto fail with HTTP 500: that region is a health entry, us-east-1 still lands."""
    collector = AwsCollector(_source(moto_url, regions=[REGION, "eu-nowhere-1"]))
    result = collector.collect(CollectRequest(start=fleet["now"] - timedelta(minutes=10), end=fleet["now"]))
    health = {h.scope: h for h in result.health}
    assert health[f"123456789012/{REGION}"].ok
    assert not health["123456789012/eu-nowhere-1"].ok
    assert "ListFunctions" in (health["123456789012/eu-nowhere-1"].error or "")
    samples = {s.key.name: s for s in result.samples}
    assert set(samples) == {"svc-01", "svc-02"}  # functions without datapoints get no sample, not zeros
    hot = samples["svc-01"]
    assert hot.start == fleet["minute"]
    assert (hot.invocations, hot.errors, hot.concurrency_max, hot.duration_max_ms) == (30, 2, 4.0, 250.0)
    assert (hot.duration_avg_ms, hot.duration_p99_ms) == (250.0, 250.0)
    assert hot.throttles is None  # no Throttles datapoint was published
    assert (hot.cold_starts, hot.init_avg_ms) == (2, 400.0)  # an init and a SnapStart restore
    assert samples["svc-02"].cold_starts == 0  # its log group exists and holds no cold start


def test_the_region_read_covers_its_window_and_the_failing_one_nothing(moto_url: str, fleet: dict[str, Any]) -> None:
    """63 of the 65 functions have no datapoint: in the covered span that is a quiet minute, not an unknown one."""
    collector = AwsCollector(_source(moto_url, regions=[REGION, "eu-nowhere-1"]))
    start, end = fleet["now"] - timedelta(minutes=10), fleet["now"]
    result = collector.collect(CollectRequest(start=start, end=end))
    assert result.coverage == [Coverage("aws", "123456789012", REGION, floor_time(start, 60), floor_time(end, 60))]


def test_incremental_window_from_the_store(moto_url: str, fleet: dict[str, Any], tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "aws.db")
    try:
        collector = AwsCollector(_source(moto_url, regions=[REGION], include=["svc-0*"]))
        request = CollectRequest(start=fleet["now"] - timedelta(hours=1), end=fleet["now"],
                                 last_bucket=store.last_bucket)
        first = collector.collect(request)
        store.upsert_functions(first.functions)
        assert store.write_samples(first.samples) == 2
        start, _ = collector._window("123456789012", REGION, first.functions, request)
        # look back from the last stored bucket by the longest timeout (svc-01: 120 s)
        assert start == fleet["minute"] - timedelta(minutes=2)
        again = collector.collect(request)
        store.write_samples(again.samples)
        row = store.series(first.samples[0].key, fleet["minute"], fleet["now"])
        assert [s.invocations for s in row] == [30]  # re-collecting a bucket replaces it, never doubles it
    finally:
        store.close()
