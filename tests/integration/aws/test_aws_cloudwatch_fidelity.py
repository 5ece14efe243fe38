"""GetMetricData as CloudWatch documents it (conftest: moto + aws_fakes.documented_cloudwatch).

- buckets are stamped StartTime + k*Period, not on epoch multiples of the period (API_GetMetricData,
  `StartTime`; moto does the same);
- a StartTime 15-63 days old needs a period that is a multiple of 300 s, an older one a multiple of 3600 s, or
  no datapoints come back (API_MetricStat, `Period`);
- a page holds at most MaxDatapoints values; a result cut short says PartialData and a NextToken follows
  (API_MetricDataResult, `StatusCode`).

Each test uses its own region: moto keeps one state per process.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from aws_fleet import client, deploy, put_metrics, report, write_logs

from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.base import CollectRequest
from opsview.config import AwsSource
from opsview.schema import floor_time, to_epoch, utcnow

pytestmark = pytest.mark.integration


def _collector(url: str, region: str, **kw: object) -> AwsCollector:
    kw.setdefault("errors", "off")  # moto's own Logs Insights evaluates no `stats` (test_aws_errors.py: errors)
    return AwsCollector(AwsSource(name="moto", endpoint_url=url, regions=[region], **kw))  # type: ignore[arg-type]


def test_cold_starts_land_in_the_bucket_their_metrics_cover(moto_url: str) -> None:
    """56 functions over 6 h: more datapoints than one call returns. A cold start belongs to the bucket whose
    invocations it started, never to a bucket of its own beside it."""
    region = "us-west-2"
    deploy(moto_url, region, [f"fn-{i:02d}" for i in range(56)])
    now = utcnow()
    end = floor_time(now, 60)
    start = end - timedelta(hours=6)
    if to_epoch(start) % 120 == 0:
        start -= timedelta(minutes=1)  # a StartTime off the even minutes: CloudWatch counts buckets from it
    minute = end - timedelta(minutes=31)
    put_metrics(moto_url, region, "fn-07", minute + timedelta(seconds=5), 4.0)
    stream = "2026/01/01/[$LATEST]0a1b"
    write_logs(moto_url, region, "/aws/lambda/fn-07", [
        report(stream, minute + timedelta(seconds=6), "a", init_ms=310.0),
        report(stream, minute + timedelta(seconds=7), "b"),
    ])

    result = _collector(moto_url, region, cold_starts="filter").collect(CollectRequest(start=start, end=now))

    (health,) = result.health
    assert health.ok, health.error
    mine = [s for s in result.samples if s.key.name == "fn-07"]
    assert [(s.start, s.period_s, s.invocations, s.cold_starts, s.init_avg_ms) for s in mine] == [
        (minute, 60, 4, 1, 310.0)]  # one bucket: its invocations and the cold start that began one of them


def test_backfill_reads_each_age_band_at_a_period_it_is_served_at(moto_url: str) -> None:
    """75 days back: 1-hour buckets past 63 days, 5-minute ones from 63 to 15 days, minutes after that."""
    region = "eu-west-2"
    deploy(moto_url, region, ["ledger"])
    now = utcnow()
    at_70d = floor_time(now - timedelta(days=70), 3600) + timedelta(minutes=10)
    at_20d = floor_time(now - timedelta(days=20), 300) + timedelta(minutes=1)
    at_now = floor_time(now, 60) - timedelta(minutes=10)
    for at, count in ((at_70d, 7.0), (at_20d, 5.0), (at_now, 3.0)):
        put_metrics(moto_url, region, "ledger", at, count)

    result = _collector(moto_url, region, cold_starts="off").collect(
        CollectRequest(start=now - timedelta(days=75), end=now))

    (health,) = result.health
    assert health.ok, health.error
    assert {(s.start, s.period_s): s.invocations for s in result.samples} == {
        (floor_time(at_70d, 3600), 3600): 7,
        (floor_time(at_20d, 300), 300): 5,
        (at_now, 60): 3,
    }


def test_partial_data_is_paged_to_completion(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 4 datapoints: every result arrives PartialData first and is completed through NextToken."""
    region = "us-east-2"
    names = ["a", "b", "c"]
    deploy(moto_url, region, names)
    now = utcnow()
    minutes = [floor_time(now, 60) - timedelta(minutes=m) for m in (2, 3, 5, 8)]
    for name in names:
        for at in minutes:
            put_metrics(moto_url, region, name, at + timedelta(seconds=1), 2.0)
    monkeypatch.setattr("opsview.collectors.aws.collector.MAX_DATAPOINTS", 4)
    pages = []
    collector = _collector(moto_url, region, cold_starts="off")
    collector._client("cloudwatch", region).meta.events.register(
        "after-call.cloudwatch.GetMetricData", lambda parsed, **_: pages.append(parsed))

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    (health,) = result.health
    assert health.ok, health.error
    statuses = {r["StatusCode"] for page in pages for r in page["MetricDataResults"]}
    assert statuses == {"PartialData", "Complete"}
    assert len(pages) == 3 * 6 * 4 // 4  # 3 functions x 6 queries with data (Invocations, 5 Duration stats) x 4
    assert sorted((s.key.name, s.start, s.invocations, s.duration_max_ms) for s in result.samples) == sorted(
        (n, m, 2, 100.0) for n in names for m in minutes)


def test_moto_extension_pages_like_cloudwatch(moto_url: str) -> None:
    """The fake itself: MaxDatapoints caps a page, NextToken resumes it, results cut short say PartialData."""
    region = "eu-central-1"
    now = floor_time(utcnow(), 60)
    for m in range(5):
        put_metrics(moto_url, region, "x", now - timedelta(minutes=m + 1), 1.0)
    cw = client(moto_url, "cloudwatch", region)
    query = {"Id": "inv", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda", "MetricName": "Invocations",
                                                    "Dimensions": [{"Name": "FunctionName", "Value": "x"}]},
                                         "Period": 60, "Stat": "Sum"}}
    first = cw.get_metric_data(MetricDataQueries=[query], StartTime=now - timedelta(minutes=10), EndTime=now,
                               MaxDatapoints=3)
    assert [(r["StatusCode"], len(r["Values"])) for r in first["MetricDataResults"]] == [("PartialData", 3)]
    second = cw.get_metric_data(MetricDataQueries=[query], StartTime=now - timedelta(minutes=10), EndTime=now,
                                MaxDatapoints=3, NextToken=first["NextToken"])
    assert [(r["StatusCode"], len(r["Values"])) for r in second["MetricDataResults"]] == [("Complete", 2)]
    assert "NextToken" not in second
    old = cw.get_metric_data(MetricDataQueries=[query], StartTime=now - timedelta(days=20), EndTime=now)
    assert old["MetricDataResults"][0]["Values"] == []  # 60 s at a 20-day-old StartTime: no datapoints
