"""Azure error signatures and deploys: the error and version halves of the one KQL query per workspace,
through the real LogsQueryClient against azure_fake_service (which refuses a query naming a column its table
does not document: AppExceptions, AppTraces, AppRequests schemas cited there)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from azure_fake_service import (
    FakeAzure,
    FakeCredential,
    Reply,
    error_row,
    logs_body,
    request_row,
    version_row,
)

from opsview.collectors.azure.collector import AzureCollector
from opsview.collectors.base import CollectRequest
from opsview.config import AzureSource
from opsview.error_records import EventKind

pytestmark = pytest.mark.integration

SUB = "11111111-2222-3333-4444-555555555555"
WS = "ws-0001"
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


def _collector(fake: FakeAzure, **source: object) -> AzureCollector:
    fields: dict[str, object] = {
        "name": "azure-test", "subscription_id": SUB, "workspace_id": WS, "region": "westeurope",
        "logs_endpoint": fake.url, "metrics": False,
    }
    fields.update(source)
    return AzureCollector(AzureSource.model_validate(fields), credential=FakeCredential(), retry_total=1)


def _request(minutes: int = 5) -> CollectRequest:
    return CollectRequest(start=T0, end=T0 + timedelta(minutes=minutes))


def test_errors_and_versions_come_in_the_same_one_query(fake_azure: FakeAzure) -> None:
    m1 = T0 + timedelta(minutes=1)
    fake_azure.logs_replies = [Reply(200, logs_body([
        request_row("orders-func", "Functions.ProcessOrder", T0, 120, errors=5),
        request_row("orders-func", "GetOrder", T0, 40),
        # KeyNotFound on two order ids: one signature, its counts added (ItemCount-weighted in the query)
        error_row("orders-func", "Functions.ProcessOrder", T0, "System.Collections.Generic.KeyNotFoundException",
                  "The given key 'order-17' was not present in the dictionary.", 3, sample_id="op-1", at_s=10),
        error_row("orders-func", "Functions.ProcessOrder", T0, "System.Collections.Generic.KeyNotFoundException",
                  "The given key 'order-99' was not present in the dictionary.", 1, sample_id="op-2", at_s=40),
        error_row("orders-func", "Functions.ProcessOrder", T0, "System.TimeoutException",
                  "The operation has timed out.", 1, sample_id="op-3"),
        # a trace at Error names its type in its text
        error_row("orders-func", "Functions.ProcessOrder", m1, "", "InvalidOperationException: stock below 0", 2),
        # the host's own error, outside any function: the app's
        error_row("orders-func", "", m1, "", "A host error has occurred during startup operation 'x1'.", 1),
        version_row("orders-func", "1.4.0", T0 + timedelta(seconds=1), T0 + timedelta(minutes=2)),
        version_row("orders-func", "1.5.0", T0 + timedelta(minutes=2, seconds=5), T0 + timedelta(minutes=4)),
    ]))]
    collector = _collector(fake_azure)

    result = collector.collect(_request())

    assert len(fake_azure.logs()) == 1, "errors and versions ride in the one query per workspace"
    query = fake_azure.logs()[0].body["query"]
    assert "AppExceptions" in query
    assert "SeverityLevel >= 3" in query
    assert "AppVersion" in query
    counts = {(o.key.name, o.minute, o.signature): (o.count, o.sample_id) for o in result.errors}
    assert counts == {
        ("orders-func/ProcessOrder", T0, "System.Collections.Generic.KeyNotFoundException: "
         "The given key <str> was not present in the dictionary."): (4, "op-2"),  # the latest sample
        ("orders-func/ProcessOrder", T0, "System.TimeoutException: The operation has timed out."): (1, "op-3"),
        ("orders-func/ProcessOrder", T0 + timedelta(minutes=1), "InvalidOperationException: stock below <n>"): (2,
                                                                                                              None),
        ("orders-func/*", T0 + timedelta(minutes=1),
         "A host error has occurred during startup operation <str>."): (1, None),
    }
    (cov,) = result.error_coverage
    assert {k.name for k in cov.keys} == {"orders-func/ProcessOrder", "orders-func/GetOrder", "orders-func/*"}
    assert (cov.start, cov.end) == (T0, T0 + timedelta(minutes=5))
    # 1.4.0 is where the book starts; 1.5.0 came after it: a deploy of each of the app's functions
    deploys = {(e.key.name, e.at, e.detail.version) for e in result.events if e.kind is EventKind.DEPLOY}
    at = T0 + timedelta(minutes=2, seconds=5)
    assert deploys == {(name, at, "1.5.0") for name in
                       ("orders-func/ProcessOrder", "orders-func/GetOrder", "orders-func/*")}
    assert all(h.ok for h in result.health), result.health

    again = collector.collect(_request())  # the same window read again: nothing new was deployed
    assert {(e.key.name, e.at) for e in again.events} <= {(name, at) for name, at, _ in deploys}


def test_errors_off_sends_the_query_without_the_error_halves(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(200, logs_body([request_row("a", "F", T0, 3)], errors=False))]
    result = _collector(fake_azure, errors=False).collect(_request())
    query = fake_azure.logs()[0].body["query"]
    assert "AppExceptions" not in query
    assert "ErrorMessage" not in query
    assert result.errors == []
    assert result.error_coverage == []
    assert result.events == []
    assert [s.invocations for s in result.samples] == [3]


def test_a_failed_query_gives_no_error_coverage(fake_azure: FakeAzure) -> None:
    fake_azure.logs_replies = [Reply(403, {"error": {"code": "InsufficientAccessError", "message": "no access"}})]
    result = _collector(fake_azure).collect(_request())
    assert result.errors == []
    assert result.error_coverage == []
    (health,) = result.health
    assert not health.ok


def test_a_partial_result_keeps_the_errors_of_the_halves_read_whole(fake_azure: FakeAzure) -> None:
    """Too many rows for one query: the range is asked again in halves; each half's errors are whole."""
    fake_azure.log_rows = [request_row("a", "F", T0 + timedelta(minutes=m), 1) for m in range(4)] + [
        error_row("a", "F", T0 + timedelta(minutes=m), "ValueError", f"bad row {m}", 1) for m in range(4)]
    fake_azure.max_rows = 5
    result = _collector(fake_azure).collect(_request(4))
    assert len(fake_azure.logs()) == 3  # the whole range, then its two halves
    assert sorted((o.minute, o.count) for o in result.errors) == [(T0 + timedelta(minutes=m), 1) for m in range(4)]
    assert {o.signature for o in result.errors} == {"ValueError: bad row <n>"}
    assert [(c.start, c.end) for c in result.error_coverage] == [(T0, T0 + timedelta(minutes=4))]


def test_the_fake_refuses_a_column_the_table_does_not_have(fake_azure: FakeAzure) -> None:
    from azure_fake_service import unknown_columns

    from opsview.collectors.azure.kql import function_buckets_query

    query = function_buckets_query(T0, T0 + timedelta(minutes=1), errors=True)
    assert unknown_columns(query) == []
    assert unknown_columns(query.replace("InnermostType", "InnerType")) == ["AppExceptions.InnerType"]
