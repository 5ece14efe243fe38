"""One rule for Lambda error records: the collector's Logs Insights query (counted in the query, evaluated by
aws_fakes.evaluate as the Insights syntax docs say) and `opsview ingest`'s readers (text and JSON) name the
same records with the same signatures and counts. No server: the query is evaluated over the records directly.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from aws_fakes import LogEvent, evaluate

from opsview import ingest
from opsview.collectors.aws import errors as error_read
from opsview.collectors.aws.ingest import read
from opsview.collectors.aws.insights import QueryUnit
from opsview.collectors.aws.logsources import group_readers, log_source
from opsview.ingest import Ingest
from opsview.schema import DEFAULT_PRICES

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RID = "8f507cfc-xmpl-4697-b07a-ac58fc914c95"
GROUP = "/aws/lambda/shop"

RECORDS = [
    f"2026-03-01T12:00:01.000Z\t{RID}\tERROR\tInvoke Error \t" + json.dumps(
        {"errorType": "Error", "errorMessage": "connect ECONNREFUSED 10.0.0.7:6379", "stack": ["Error: x"]}),
    f"2026-03-01T12:00:02.000Z\t{RID}\tERROR\tInvoke Error \t" + json.dumps(
        {"errorType": "Error", "errorMessage": "connect ECONNREFUSED 10.0.0.9:6379", "stack": ["Error: y"]}),
    "[ERROR] KeyError: 'user_42'",
    "[ERROR] KeyError: 'cart_7'",
    f"[ERROR]\t2026-03-01T12:00:03.000Z\t{RID}\tpayment declined for order 1234",
    f"[ERROR]\t2026-03-01T12:00:04.000Z\t{RID}\tpayment declined for order 99",
    f"[ERROR]\t2026-03-01T12:00:05.000Z\t{RID}\tpayment declined: card expired",  # words differ: apart
    f"2026-03-01T12:00:06.000Z {RID} Task timed out after 3.00 seconds",
    f"2026-03-01T12:00:06.500Z {RID} Task timed out after 30.00 seconds",
    f"RequestId: {RID} Error: Runtime exited with error: exit status 1",
    f"RequestId: {RID} Error: Runtime exited with error: signal: killed",
    f"REPORT RequestId: {RID}\tDuration: 9.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\t"
    "Max Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory",
    "INIT_REPORT Init Duration: 9999.99 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError",
    f"REPORT RequestId: {RID}\tDuration: 9.00 ms\tBilled Duration: 10 ms\tMemory Size: 128 MB\tMax Memory Used: 9 MB",
    json.dumps({"time": "2026-03-01T12:00:07.000Z", "type": "platform.report", "record": {
        "requestId": RID, "metrics": {"durationMs": 9.0}, "status": "error", "errorType": "Runtime.OutOfMemory"}}),
    json.dumps({"timestamp": "2026-03-01T12:00:08Z", "level": "ERROR", "message": 'db "orders" down 3 times',
                "requestId": RID}),
    json.dumps({"timestamp": "2026-03-01T12:00:08Z", "log_level": "ERROR", "errorType": "ZeroDivisionError",
                "errorMessage": "division by zero", "requestId": RID, "stackTrace": ["  File x"]}),
    json.dumps({"timestamp": "2026-03-01T12:00:09Z", "level": "INFO", "message": "ERROR rate 3%"}),
    "an application line that says nothing about errors",
]


def _insights_counts() -> Counter[str]:
    readers = group_readers([log_source("shop", None)], every=True)
    events = [LogEvent(GROUP, "2026/03/01/[$LATEST]aa", int((T0 + timedelta(seconds=i)).timestamp() * 1000), m)
              for i, m in enumerate(RECORDS)]
    rows = evaluate(error_read.query(60, False), "123456789012", events)
    result = error_read.ErrorResult()
    unit = QueryUnit((GROUP,), int(T0.timestamp()), int(T0.timestamp()) + 60, 60, False, error_read.query)
    error_read.fold_rows(rows, unit, readers, result)
    out: Counter[str] = Counter()
    for (_, _, sig), seen in result.found.items():
        out[sig] += seen.count
    return out


def _ingest_counts(text: str, name: str) -> Counter[str]:
    acc = Ingest("aws", DEFAULT_PRICES["aws"], minutes=False)
    acc.add_all(read(io.StringIO(text), name, "shop", acc.stats))
    (summary,) = acc.result().functions
    assert summary.top_errors is not None
    return Counter({e.signature: e.count for e in summary.top_errors})


def test_insights_and_both_readers_name_the_same_records_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    # `top_errors` lists 10 signatures a function; these records make 11, and every one must agree
    monkeypatch.setattr(ingest, "TOP_ERRORS", 20)
    insights = _insights_counts()
    text = _ingest_counts("\n".join(RECORDS) + "\n", "shop.log")
    events = [{"timestamp": int((T0 + timedelta(seconds=i)).timestamp() * 1000), "message": m}
              for i, m in enumerate(RECORDS)]
    document = _ingest_counts(json.dumps({"events": events}), "shop.json")
    assert insights == text == document
    assert insights == Counter({
        "Error: connect ECONNREFUSED <ip>:<n>": 2,
        "KeyError: <str>": 2,
        "payment declined for order <n>": 2,
        "payment declined: card expired": 1,
        "Task timed out after <n> seconds": 2,
        "Runtime exited with error: exit status <n>": 1,
        "Runtime exited with error: signal: killed": 1,
        "Runtime.OutOfMemory: REPORT Status: error": 2,  # text REPORT and JSON platform.report: one failure
        "Runtime.ExitError: INIT_REPORT Status: error": 1,
        "db <str> down <n> times": 1,
        "ZeroDivisionError: division by zero": 1,
    })


def test_the_query_groups_by_every_part_the_signature_depends_on() -> None:
    """Distinct failures never share a row: the query groups by the parts `decide` reads, all of them."""
    text = error_read.query(60, True)
    by = text.rsplit(" by ", 1)[1]
    for part in ("rkind", "rtype", "pkind", "etext", "jtype", "jmsg", "jlevel", "jtext", "ebody", "fn", "@log"):
        assert part in by
