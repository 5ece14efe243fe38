"""Error signatures and deploys from what Lambda writes, through Logs Insights (counted in the query) and
FilterLogEvents, on moto's server (aws_fakes.FakeInsights evaluates the query opsview sends).

- Where records go: `LoggingConfig` (a shared custom group is attributed by stream,
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-loggroups.html); at `SystemLogLevel
  WARN` Lambda drops the INFO system records, failed REPORTs included
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html): read, not called whole.
- What the records look like: the runtimes' error lines (Python `[ERROR]`, Node `ERROR\\tInvoke Error`,
  https://docs.aws.amazon.com/lambda/latest/dg/python-exceptions.html,
  https://docs.aws.amazon.com/lambda/latest/dg/nodejs-exceptions.html), `Task timed out`, `Runtime exited
  with error`, REPORT `Status: error`, and the JSON log format's records.
- Deploys: ListFunctions returns `LastModified`, `Version` and `CodeSha256`
  (https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html).

Each test uses its own region: moto keeps one state per process.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from aws_fakes import FakeInsights
from aws_fleet import ACCOUNT, Record, client, deploy, put_metrics, report, write_logs

from opsview.collectors.aws.collector import AwsCollector
from opsview.collectors.base import CollectRequest, CollectResult
from opsview.config import AwsSource
from opsview.error_records import EventKind
from opsview.schema import floor_time, utcnow

pytestmark = pytest.mark.integration

RID = "8f507cfc-{n:04x}-4697-b07a-ac58fc914c95"


def _collector(url: str, region: str, errors: str, **kw: object) -> tuple[AwsCollector, FakeInsights]:
    collector = AwsCollector(AwsSource(name="moto", endpoint_url=url, regions=[region],  # type: ignore[arg-type]
                                       cold_starts="off", errors=errors, **kw), insights_deadline_s=120.0)
    insights = FakeInsights(ACCOUNT, region)
    insights.attach(collector._client("logs", region))
    return collector, insights


def _rid(n: int) -> str:
    return RID.format(n=n)


def _python_error(stream: str, at: datetime, n: int, key: str) -> Record:
    # the Python runtime's unhandled exception: one event, traceback included, no request id on the line
    return Record(stream, at, f"[ERROR] KeyError: '{key}'\nTraceback (most recent call last):\n"
                              f'  File "/var/task/app.py", line {10 + n % 3}, in handler\n    return cart["{key}"]')


def _node_error(stream: str, at: datetime, n: int, host: str) -> Record:
    payload = json.dumps({"errorType": "Error", "errorMessage": f"connect ECONNREFUSED {host}:6379",
                          "stack": ["Error: connect ECONNREFUSED", "    at TCPConnectWrap.afterConnect"]})
    return Record(stream, at, f"{at:%Y-%m-%dT%H:%M:%S.000Z}\t{_rid(n)}\tERROR\tInvoke Error \t{payload}")


def _timeout(stream: str, at: datetime, n: int, seconds: str) -> Record:
    return Record(stream, at, f"{at:%Y-%m-%dT%H:%M:%S.000Z} {_rid(n)} Task timed out after {seconds} seconds")


def _exit(stream: str, at: datetime, n: int, why: str) -> Record:
    return Record(stream, at, f"RequestId: {_rid(n)} Error: Runtime exited with error: {why}\nRuntime.ExitError")


def _failed_report(stream: str, at: datetime, n: int, error_type: str) -> Record:
    return Record(stream, at, f"REPORT RequestId: {_rid(n)}\tDuration: 812.00 ms\tBilled Duration: 813 ms\t"
                              f"Memory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: {error_type}")


def _json_record(stream: str, at: datetime, n: int, **fields: object) -> Record:
    return Record(stream, at, json.dumps({"timestamp": f"{at:%Y-%m-%dT%H:%M:%S}Z", **fields,
                                          "requestId": _rid(n)}))


def _counts(result: CollectResult) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for obs in result.errors:
        per = out.setdefault(obs.key.name, {})
        per[obs.signature] = per.get(obs.signature, 0) + obs.count
    return out


EXPECTED = {
    "plain": {
        "KeyError: <str>": 3,  # three keys, one failure
        "Task timed out after <n> seconds": 2,  # 3.00 and 900.00 seconds
        "Runtime exited with error: exit status <n>": 1,
        "Runtime exited with error: signal: segmentation fault": 1,  # a distinct failure stays distinct
        "Runtime.OutOfMemory: REPORT Status: error": 1,
    },
    "orders": {"Error: connect ECONNREFUSED <ip>:<n>": 2},  # read from the shared group, by stream
    "refunds": {"Task timed out after <n> seconds": 1},
    "jsonfmt": {"TypeError: Cannot read properties of undefined (reading <str>)": 1,
                "db <str> unreachable after <n> tries": 1},
    "quiet": {"ValueError: bad input": 1},
}


def _fleet(url: str, region: str) -> tuple[datetime, datetime]:
    deploy(url, region, ["plain", "idle"])
    deploy(url, region, ["quiet"], logging={"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    deploy(url, region, ["jsonfmt"], logging={"LogFormat": "JSON"})
    deploy(url, region, ["orders", "refunds"], logging={"LogGroup": "shop-app"})
    now = utcnow()
    minute = floor_time(now, 60) - timedelta(minutes=4)
    at = minute + timedelta(seconds=2)
    later = at + timedelta(minutes=1)
    for name in ("plain", "quiet", "jsonfmt", "orders", "refunds", "idle"):
        put_metrics(url, region, name, minute + timedelta(seconds=1), 5.0)
    s = "2026/01/01/[$LATEST]aa"
    write_logs(url, region, "/aws/lambda/plain", [
        Record(s, at, f"START RequestId: {_rid(1)} Version: $LATEST"),
        Record(s, at, f"{at:%Y-%m-%dT%H:%M:%S.000Z}\t{_rid(1)}\tINFO\tprocessed order 17"),
        _python_error(s, at, 1, "user_42"), _python_error(s, at, 2, "cart_9"), _python_error(s, later, 3, "sku_1"),
        _timeout(s, at, 4, "3.00"), _timeout(s, later, 5, "900.00"),
        _exit(s, at, 6, "exit status 1"), _exit(s, at, 7, "signal: segmentation fault"),
        _failed_report(s, later, 8, "Runtime.OutOfMemory"),
        report(s, at, _rid(9)),  # a REPORT that succeeded is no error
    ])
    write_logs(url, region, "/aws/lambda/quiet", [
        _json_record(s, at, 10, level="ERROR", message="ValueError: bad input"),
        _json_record(s, at, 11, level="WARN", message="slow downstream"),
    ])
    write_logs(url, region, "/aws/lambda/jsonfmt", [
        _json_record(s, at, 12, level="ERROR", message="Invoke Error", errorType="TypeError",
                     errorMessage="Cannot read properties of undefined (reading 'id')", stackTrace=["at x"]),
        _json_record(s, at, 13, level="ERROR", message='db "orders" unreachable after 3 tries'),
        _json_record(s, at, 14, level="INFO", message="ERROR budget at 3%"),  # the word is no error record
        Record(s, at, json.dumps({"time": f"{at:%Y-%m-%dT%H:%M:%S}Z", "type": "platform.report",
                                  "record": {"requestId": _rid(14), "metrics": {"durationMs": 3.0},
                                             "status": "success"}})),
    ])
    write_logs(url, region, "shop-app", [
        _node_error("2026/01/01/orders[$LATEST]c1", at, 20, "10.0.3.17"),
        _node_error("2026/01/01/orders[$LATEST]c2", later, 21, "10.0.3.18"),
        _timeout("2026/01/01/refunds[$LATEST]d1", at, 22, "6.00"),
        _timeout("2026/01/01/payroll[$LATEST]e1", at, 23, "6.00"),  # a function this source does not read
    ])
    return now, minute


@pytest.mark.parametrize("errors", ["insights", "filter"])
def test_errors_are_counted_per_function_and_signature(moto_url: str, errors: str) -> None:
    region = {"insights": "ap-southeast-1", "filter": "ap-southeast-2"}[errors]
    now, minute = _fleet(moto_url, region)
    collector, insights = _collector(moto_url, region, errors)

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert _counts(result) == EXPECTED
    by_sig = {(o.key.name, o.signature, o.minute): o for o in result.errors}
    latest = by_sig[("plain", "KeyError: <str>", minute + timedelta(minutes=1))]
    assert latest.count == 1
    assert latest.sample is not None
    assert "sku_1" in latest.sample
    oom = by_sig[("plain", "Runtime.OutOfMemory: REPORT Status: error", minute + timedelta(minutes=1))]
    assert oom.sample_id == _rid(8)  # what to search the logs for
    assert by_sig[("plain", "KeyError: <str>", minute)].count == 2
    covered = {key.name for cov in result.error_coverage for key in cov.keys}
    # searched whole: errors or none ("idle" wrote no log: its group does not exist, so nothing was searched);
    # "quiet" was read, but at SystemLogLevel WARN its failed REPORTs are never written: unknown, not whole
    assert covered == {"plain", "orders", "refunds", "jsonfmt"}
    (health,) = result.health
    assert health.ok, health.error
    assert "errors unknown for 1 function (SystemLogLevel WARN drops REPORT records): quiet" in (health.error or "")
    if errors == "insights":
        assert insights.started, "Insights counted them"
        assert all("stats count(*)" in q.text for q in insights.queries.values())
    else:
        assert not insights.started


def test_a_function_without_errors_is_covered_and_has_none(moto_url: str) -> None:
    region = "eu-west-3"
    deploy(moto_url, region, ["calm"])
    now = utcnow()
    at = floor_time(now, 60) - timedelta(minutes=3)
    put_metrics(moto_url, region, "calm", at, 3.0)
    write_logs(moto_url, region, "/aws/lambda/calm", [report("2026/01/01/[$LATEST]aa", at, _rid(1))])
    collector, _ = _collector(moto_url, region, "insights")

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert result.errors == []
    (cov,) = result.error_coverage
    assert [k.name for k in cov.keys] == ["calm"]
    assert cov.end - cov.start >= timedelta(minutes=9)


def test_a_minute_at_the_row_cap_is_left_unknown(moto_url: str) -> None:
    """10,000 distinct messages in one function-minute: the query cannot be split below one group and one
    minute, so that minute's errors are not counted (not half-counted) and the function is not covered there."""
    region = "eu-central-2"
    deploy(moto_url, region, ["storm"])
    now = utcnow()
    minute = floor_time(now, 60) - timedelta(minutes=3)
    s = "2026/01/01/[$LATEST]aa"
    write_logs(moto_url, region, "/aws/lambda/storm", [
        Record(s, minute + timedelta(milliseconds=n), f"[ERROR] ValueError: bad row {n}") for n in range(10_000)]
        + [_timeout(s, minute + timedelta(minutes=1), 1, "3.00")])
    put_metrics(moto_url, region, "storm", minute, 10_000.0)
    collector, insights = _collector(moto_url, region, "insights")

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert _counts(result) == {"storm": {"Task timed out after <n> seconds": 1}}
    assert all(o.minute != minute for o in result.errors)
    spans = [(c.start, c.end) for c in result.error_coverage]
    assert spans
    assert all(not (start <= minute < end) for start, end in spans)
    (health,) = result.health
    assert not health.ok
    assert "errors there left unknown" in (health.error or "")


def test_insights_denied_falls_back_to_filter_log_events(moto_url: str) -> None:
    region = "us-west-2"
    deploy(moto_url, region, ["plain"])
    now = utcnow()
    at = floor_time(now, 60) - timedelta(minutes=3)
    write_logs(moto_url, region, "/aws/lambda/plain", [_timeout("2026/01/01/[$LATEST]aa", at, 1, "3.00")])
    put_metrics(moto_url, region, "plain", at, 1.0)
    collector = AwsCollector(AwsSource(name="moto", endpoint_url=moto_url, regions=[region], cold_starts="off"))

    def deny(**_: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed: logs:StartQuery"}},
                          "StartQuery")

    collector._client("logs", region).meta.events.register("before-call.logs.StartQuery", deny)

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert _counts(result) == {"plain": {"Task timed out after <n> seconds": 1}}
    assert [k.name for c in result.error_coverage for k in c.keys] == ["plain"]
    (health,) = result.health
    assert health.ok, health.error


def test_a_failed_error_read_gives_no_coverage_and_says_so(moto_url: str) -> None:
    region = "us-east-2"
    deploy(moto_url, region, ["plain"])
    now = utcnow()
    at = floor_time(now, 60) - timedelta(minutes=3)
    write_logs(moto_url, region, "/aws/lambda/plain", [_timeout("2026/01/01/[$LATEST]aa", at, 1, "3.00")])
    put_metrics(moto_url, region, "plain", at, 1.0)
    collector = AwsCollector(AwsSource(name="moto", endpoint_url=moto_url, regions=[region], cold_starts="off",
                                       errors="filter"))

    def deny(**_: object) -> None:
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}, "FilterLogEvents")

    collector._client("logs", region).meta.events.register("before-call.logs.FilterLogEvents", deny)

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=10), end=now))

    assert result.errors == []
    assert result.error_coverage == []
    assert [s.invocations for s in result.samples] == [1]  # the metrics still land
    (health,) = result.health
    assert not health.ok
    assert "errors: " in (health.error or "")
    assert "not allowed" in (health.error or "")


def test_deploys_come_from_list_functions(moto_url: str) -> None:
    """Every discovery reports each function's LastModified as a deploy (the store keeps it once); new code
    is a new deploy with its CodeSha256."""
    region = "ap-northeast-3"
    deploy(moto_url, region, ["shop"])
    clock = [0.0]
    collector = AwsCollector(AwsSource(name="moto", endpoint_url=moto_url, regions=[region], cold_starts="off",
                                       errors="off", discovery_interval="1m"),  # type: ignore[arg-type]
                             clock=lambda: clock[0])
    now = utcnow()
    lam = client(moto_url, "lambda", region)
    first = lam.get_function(FunctionName="shop")["Configuration"]

    result = collector.collect(CollectRequest(start=now - timedelta(minutes=5), end=now))

    (event,) = result.events
    assert event.kind is EventKind.DEPLOY
    assert event.key.name == "shop"
    assert event.detail.code_sha == first["CodeSha256"]
    assert event.detail.version == first["Version"]
    assert abs((event.at - datetime.fromisoformat(first["LastModified"])).total_seconds()) < 1

    import io
    import zipfile
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return 2\n")
    lam.update_function_code(FunctionName="shop", ZipFile=code.getvalue())
    clock[0] += 120.0  # the next discovery
    again = collector.collect(CollectRequest(start=now - timedelta(minutes=5), end=utcnow()))

    (event2,) = again.events
    assert event2.detail.code_sha != first["CodeSha256"]
    assert event2.at >= event.at
