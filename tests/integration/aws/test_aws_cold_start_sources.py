"""Cold starts from the logs Lambda actually writes, through Logs Insights as documented.

- `LoggingConfig` (moto extended in aws_fakes.documented_lambda_logging): a custom `LogGroup` may be shared,
  its streams named `YYYY/MM/DD/<function>[<version>]<guid>`
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html); `SystemLogLevel =
  WARN` (JSON format) drops REPORT records
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
- Logs Insights (aws_fakes.FakeInsights over moto's stored events): a query keeps at most `limit` rows
  (10,000 here); StopQuery ends a running query.

FilterLogEvents is moto as shipped. Each test uses its own region: moto keeps one state per process.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from aws_fakes import FakeInsights
from aws_fleet import ACCOUNT, Record, client, deploy, put_metrics, report, write_logs

from opsview.collectors.aws.coldstarts import INSIGHTS_QUERY
from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.base import CollectRequest
from opsview.config import AwsSource
from opsview.console_links import console_links
from opsview.schema import floor_time, utcnow

pytestmark = pytest.mark.integration


def _collector(url: str, region: str, method: str, *, fail_poll: int | None = None,
               **kw: object) -> tuple[AwsCollector, FakeInsights]:
    kw.setdefault("errors", "off")  # these count cold-start queries (test_aws_errors.py reads errors)
    collector = AwsCollector(AwsSource(name="moto", endpoint_url=url, regions=[region],  # type: ignore[arg-type]
                                       cold_starts=method, **kw), insights_deadline_s=120.0)
    insights = FakeInsights(ACCOUNT, region, fail_poll=fail_poll)
    insights.attach(collector._client("logs", region))
    return collector, insights


@pytest.mark.parametrize("method", ["insights", "filter"])
def test_logging_config_decides_where_cold_starts_are_read(moto_url: str, method: str) -> None:
    region = {"insights": "ap-southeast-1", "filter": "ap-southeast-2"}[method]
    deploy(moto_url, region, ["plain"])
    deploy(moto_url, region, ["quiet"], logging={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    deploy(moto_url, region, ["orders", "refunds"], logging={"LogGroup": "shop-app"})
    now = utcnow()
    minute = floor_time(now, 60) - timedelta(minutes=4)
    for name, count in (("plain", 2.0), ("quiet", 5.0), ("orders", 3.0), ("refunds", 2.0)):
        put_metrics(moto_url, region, name, minute + timedelta(seconds=1), count)
    at = minute + timedelta(seconds=2)
    write_logs(moto_url, region, "/aws/lambda/plain", [report("2026/01/01/[$LATEST]aa", at, "p1", init_ms=200.0),
                                                        report("2026/01/01/[$LATEST]aa", at, "p2")])
    # at WARN a JSON-format function's group holds its application's warnings, never a platform.report
    write_logs(moto_url, region, "/aws/lambda/quiet", [Record("2026/01/01/[$LATEST]bb", at, json.dumps(
        {"timestamp": at.isoformat(), "level": "WARN", "message": "slow downstream", "requestId": "q1"}))])
    write_logs(moto_url, region, "shop-app", [
        report("2026/01/01/orders[$LATEST]c1", at, "o1", init_ms=400.0),
        report("2026/01/01/orders[$LATEST]c2", at, "o2", init_ms=600.0),
        report("2026/01/01/orders[$LATEST]c2", at, "o3"),
        report("2026/01/01/refunds[$LATEST]d1", at, "r1"),
        report("2026/01/01/refunds[$LATEST]d1", at, "r2"),
        report("2026/01/01/payroll[$LATEST]e1", at, "x1", init_ms=900.0),  # a function this source does not read
    ])
    collector, _ = _collector(moto_url, region, method)

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    got = {s.key.name: (s.invocations, s.cold_starts, s.init_avg_ms) for s in result.samples}
    assert got == {
        "plain": (2, 1, 200.0),
        "quiet": (5, None, None),  # no REPORT records to count: unknown, not 0
        "orders": (3, 2, 500.0),  # read from the shared group, by stream
        "refunds": (2, 0, None),  # its records were read and held no cold start
    }
    (health,) = result.health
    assert health.ok, health.error
    assert "cold starts unknown for 1 function (SystemLogLevel WARN drops REPORT records): quiet" in (
        health.error or "")  # said, though not a failure: the setup, not this refresh, leaves them unknown
    # the console's logs link opens the group the function really logs to
    infos = {f.key.name: f for f in result.functions}
    assert infos["orders"].labels.get("log_group") == "shop-app"
    assert "log_group" not in infos["plain"].labels
    links = console_links(infos["orders"], now - timedelta(hours=1), now).links
    logs = next(link.url for link in links if link.id == "logs")
    assert logs.endswith("~source~(~'shop-app))")  # Logs Insights' one source, not /aws/lambda/orders


def test_no_insights_query_can_reach_the_row_cap(moto_url: str) -> None:
    """A week and a bit, a cold start every minute: 10,100 rows for one log group cannot come from one query."""
    region = "ca-central-1"
    minutes = 10_100
    deploy(moto_url, region, ["busy"])
    now = utcnow()
    first = floor_time(now, 60) - timedelta(minutes=minutes)
    last = first + timedelta(minutes=minutes - 1)
    write_logs(moto_url, region, "/aws/lambda/busy", [
        report("2026/01/01/[$LATEST]ff", first + timedelta(minutes=m, seconds=3), f"r{m}", init_ms=100.0)
        for m in range(minutes)])
    for at in (first, last):
        put_metrics(moto_url, region, "busy", at + timedelta(seconds=1), 1.0)
    collector, insights = _collector(moto_url, region, "insights")

    result = collector.collect(CollectRequest(start=first, end=now))

    with_metrics = {s.start: (s.invocations, s.cold_starts) for s in result.samples if s.invocations is not None}
    assert with_metrics == {first: (1, 1), last: (1, 1)}
    assert sum(s.cold_starts or 0 for s in result.samples) == minutes
    assert all(len(q.rows) < 10_000 for q in insights.queries.values())  # planned below the cap, not rescued
    (health,) = result.health
    assert health.ok, health.error


def test_a_capped_result_is_asked_again_in_parts(moto_url: str) -> None:
    """A shared group that 170 functions outside this source also write to: the planned query (one of ours,
    60 minutes) comes back at the cap. Its missing rows are not zeros: the collector splits and asks again."""
    region = "us-west-1"
    deploy(moto_url, region, ["mine"], logging={"LogGroup": "crowd"})
    now = utcnow()
    first = floor_time(now, 60) - timedelta(minutes=60)
    records = [report(f"2026/01/01/other{n:03d}[$LATEST]x{n}", first + timedelta(minutes=m, seconds=1), f"o{n}-{m}",
                      init_ms=50.0) for n in range(170) for m in range(60)]
    records += [report("2026/01/01/mine[$LATEST]m1", first + timedelta(minutes=m, seconds=2), f"m{m}",
                       init_ms=70.0) for m in range(0, 60, 2)]
    write_logs(moto_url, region, "crowd", records)
    for m in range(60):
        put_metrics(moto_url, region, "mine", first + timedelta(minutes=m, seconds=1), 1.0)
    collector, insights = _collector(moto_url, region, "insights")

    result = collector.collect(CollectRequest(start=first, end=now))

    cold = {s.start: s.cold_starts for s in result.samples}
    assert cold == {first + timedelta(minutes=m): 1 - m % 2 for m in range(60)}
    assert any(len(q.rows) >= 10_000 for q in insights.queries.values())  # the first answer was capped
    (health,) = result.health
    assert health.ok, health.error


def test_a_failed_poll_stops_the_queries_already_started(moto_url: str) -> None:
    """51 log groups: two queries run; the second poll fails. Both are stopped (30 may run per account), and
    cold starts come from FilterLogEvents instead."""
    region = "sa-east-1"
    names = [f"fn{i:02d}" for i in range(51)]
    deploy(moto_url, region, names)
    now = utcnow()
    minute = floor_time(now, 60) - timedelta(minutes=3)
    for name in names:
        put_metrics(moto_url, region, name, minute + timedelta(seconds=1), 1.0)
        write_logs(moto_url, region, f"/aws/lambda/{name}",
                   [report("2026/01/01/[$LATEST]aa", minute + timedelta(seconds=2), name, init_ms=120.0)])
    collector, insights = _collector(moto_url, region, "insights", fail_poll=2)

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert len(insights.started) == 2
    assert sorted(insights.stopped) == sorted(insights.started)
    (health,) = result.health
    assert health.ok, health.error
    assert {s.key.name: s.cold_starts for s in result.samples} == dict.fromkeys(names, 1)


def test_fake_insights_keeps_the_documented_limits(moto_url: str) -> None:
    """The fake itself: at most `limit` rows come back, and StopQuery fails on a query that has ended."""
    region = "eu-north-1"
    first = floor_time(utcnow(), 60) - timedelta(minutes=8)
    write_logs(moto_url, region, "/aws/lambda/f", [
        report("2026/01/01/[$LATEST]aa", first + timedelta(minutes=m), f"r{m}", init_ms=10.0) for m in range(8)])
    logs = client(moto_url, "logs", region)
    insights = FakeInsights(ACCOUNT, region, polls=0)
    insights.attach(logs)
    query_id = logs.start_query(logGroupNames=["/aws/lambda/f"], startTime=int(first.timestamp()),
                                endTime=int(first.timestamp()) + 8 * 60 - 1, queryString=INSIGHTS_QUERY,
                                limit=5)["queryId"]
    reply = logs.get_query_results(queryId=query_id)
    assert (reply["status"], len(reply["results"])) == ("Complete", 5)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.stop_query(queryId=query_id)
