"""`opsview ingest --provider azure` reads error records by the collector's rule (`error_rows`): AppExceptions
(innermost exception, `ItemCount` weight), AppTraces at Error and above (not the host's `Executed` line), the
classic `exceptions` naming, and the host text's `Exception while executing function` lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

from opsview.collectors.azure.error_rows import exception_error
from opsview.collectors.azure.ingest import read
from opsview.collectors.azure.kql import function_buckets_query
from opsview.ingest import Ingest, IngestResult
from opsview.schema import utcnow

EXPORT = "azure/newrelic_appinsights_export"


def _ingest(text: str) -> IngestResult:
    acc = Ingest("azure", None)
    acc.add_all(read(io.StringIO(text), "input", None, acc.stats))
    return acc.result()


def _top(result: IngestResult) -> dict[str, dict[str, int]]:
    return {f.function: {e.signature: e.count for e in f.top_errors or ()} for f in result.functions}


def test_the_real_appexceptions_record_names_its_error(realdata: Path) -> None:
    result = _ingest((realdata / EXPORT / "appInsightsAppException.json").read_text())
    (fn,) = result.functions
    assert fn.function == "Web/*"  # the record names the app, no operation: the app's own
    (top,) = fn.top_errors or ()
    assert (top.signature, top.count, top.error_type) == ("Error: Throwing an uncaught error on purpose.", 1, "Error")
    assert top.sample_id == "{long operation id}"
    assert top.sample is not None
    assert "at module.exports" in top.sample


def test_rows_of_both_namings_with_sampling_weights() -> None:
    rows = [
        {"Type": "AppRequests", "TimeGenerated": "2025-03-04T10:00:01Z", "AppRoleName": "orders",
         "OperationName": "Functions.Pay", "Success": False, "ResultCode": "500", "DurationMs": 12.0, "ItemCount": 5},
        # the host wraps the function's exception: named by the innermost
        {"Type": "AppExceptions", "TimeGenerated": "2025-03-04T10:00:02Z", "AppRoleName": "orders",
         "OperationName": "Pay", "OperationId": "op-1", "ItemCount": 4,
         "ExceptionType": "Microsoft.Azure.WebJobs.Host.FunctionInvocationException",
         "OuterType": "Microsoft.Azure.WebJobs.Host.FunctionInvocationException",
         "OuterMessage": "Exception while executing function: Functions.Pay",
         "InnermostType": "System.InvalidOperationException", "InnermostMessage": "card 4242 declined",
         "ProblemId": "System.InvalidOperationException at Orders.Pay.Run"},
        {"Type": "AppTraces", "TimeGenerated": "2025-03-04T10:00:03Z", "AppRoleName": "orders",
         "OperationName": "Pay", "SeverityLevel": 3,
         "Message": "Executed 'Functions.Pay' (Failed, Id=1, Duration=12ms)"},
        {"Type": "AppTraces", "TimeGenerated": "2025-03-04T10:00:04Z", "AppRoleName": "orders",
         "OperationName": "Pay", "SeverityLevel": 4, "Message": "TimeoutError: ledger did not answer in 3000 ms"},
        {"Type": "AppTraces", "TimeGenerated": "2025-03-04T10:00:05Z", "AppRoleName": "orders",
         "OperationName": "Pay", "SeverityLevel": 2, "Message": "retrying payment 3"},
        # the classic `exceptions` naming of `az monitor app-insights query`
        {"itemType": "exception", "timestamp": "2025-03-04T10:00:06Z", "cloud_RoleName": "orders",
         "operation_Name": "Pay", "operation_Id": "op-2", "type": "System.InvalidOperationException",
         "outerMessage": "card 5555 declined", "problemId": "x", "itemCount": 1},
    ]
    result = _ingest(json.dumps(rows))
    assert _top(result) == {"orders/Pay": {
        "System.InvalidOperationException: card <n> declined": 5,
        "TimeoutError: ledger did not answer in <n> ms": 1,
    }}
    (fn,) = result.functions
    assert (fn.measures.invocations, fn.measures.errors) == (5, 5)


def test_host_text_exception_lines() -> None:
    text = (
        "[2025-03-04T10:00:00.000Z] Executing 'Functions.Pay' (Reason='New queue message', Id=a1)\n"
        "[2025-03-04T10:00:00.050Z] Executed 'Functions.Pay' (Failed, Id=a1, Duration=50ms)\n"
        "[2025-03-04T10:00:00.051Z] System.Private.CoreLib: Exception while executing function: Functions.Pay. "
        "Orders: Order 42 not found.\n"
    )
    result = _ingest(text)
    assert _top(result) == {"Pay": {"Orders: Order <n> not found.": 1}}


def test_the_query_names_exceptions_as_the_readers_do() -> None:
    """The KQL's coalesce order is `exception_error`'s: innermost type and message first."""
    query = function_buckets_query(utcnow(), utcnow(), errors=True)
    assert "ErrorType = coalesce(InnermostType, ExceptionType, OuterType)" in query
    assert "ErrorMessage = coalesce(InnermostMessage, OuterMessage, ProblemId)" in query
    row = {"InnermostType": "", "ExceptionType": "E", "OuterType": "O", "InnermostMessage": "",
           "OuterMessage": "m", "ProblemId": "p"}
    assert exception_error(row) == ("E", "m")  # KQL's coalesce skips empty strings too
