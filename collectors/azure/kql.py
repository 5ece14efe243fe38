"""The one KQL query the Azure collector sends per workspace and refresh.

It answers for every function app in the workspace at once (never one query per function):
one row per (app, function, minute) from `AppRequests`, plus one row per (app, minute) with
the host starts from `AppTraces`, told apart by the `Kind` column. Both halves are bounded by
the same explicit time range, on top of the `timespan` the SDK sends.

Sampling: App Insights keeps one telemetry item for `ItemCount` real ones, so counts are
`sum(ItemCount)` and the duration mean and percentiles are weighted by `ItemCount`.

Throttles: a request answered 429 is counted as a throttle and kept out of invocations,
errors and durations, because the common schema computes `throttles / (invocations + throttles)`.

Cold starts: an instance that logs "Host started" or "Host initialized" (a host start writes
both, category `Host.Startup`) counts once per `AppRoleInstance` and minute. The same half also
counts every host trace (category `Host.*`) per app and minute as `HostTraces`: an app whose
host.json filters host logs (e.g. `"logLevel": {"default": "Warning"}` or `"Host.Startup": "None"`,
https://learn.microsoft.com/azure/azure-functions/configure-monitoring#configure-categories)
leaves no host trace at all, and its cold starts are then unknown rather than zero (see `rows`).

Errors (`errors=True`, two more halves, same query): `AppExceptions` and `AppTraces` at
`SeverityLevel >= 3` (Error, Critical) per (app, function, minute) and error text, weighted by
`ItemCount`, with the latest occurrence's operation id and text (`error_rows` names them, by the rule
`opsview ingest` applies to the same rows). App versions: the first and last request of each
`AppVersion` per app in the range (a change of version is a deploy). Another half rather than another
query: one query per workspace and refresh stays one (the service allows 5 concurrent queries per user),
a partial result is split by time as before, and the rows of every half are bounded by the same range.
Columns per table: https://learn.microsoft.com/azure/azure-monitor/reference/tables/appexceptions,
.../apptraces, .../apprequests.

Time range: the query covers [lo, hi) and nothing else, so a caller can split a range that
returns a partial result into smaller ranges and query each (see the collector).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

KIND_REQUESTS: Final = "requests"
KIND_HOST_STARTS: Final = "host_starts"
KIND_ERRORS: Final = "errors"
KIND_VERSIONS: Final = "versions"

# columns of the result, in order; `rows` and `error_rows` read them by name
BASE_COLUMNS: Final[tuple[str, ...]] = (
    "Kind", "AppRoleName", "OperationName", "Bucket", "Invocations", "Errors", "Throttles",
    "DurationAvg", "DurationP50", "DurationP95", "DurationP99", "DurationMax", "FirstAt", "LastAt",
    "ColdStarts", "FirstStartAt", "HostTraces",
)
ERROR_COLUMNS: Final[tuple[str, ...]] = (
    "ErrorType", "ErrorMessage", "ErrorCount", "Sample", "SampleId", "SampleAt", "AppVersion",
)
COLUMNS: Final[tuple[str, ...]] = BASE_COLUMNS + ERROR_COLUMNS
"""The columns of the query with errors (without them: `BASE_COLUMNS`)."""

HOST_START_MESSAGES: Final[tuple[str, ...]] = ("Host started", "Host initialized")


def _kql_datetime(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError("KQL time bounds must be timezone-aware")
    return f"datetime({ts.isoformat().replace('+00:00', 'Z')})"


ERROR_SEVERITY: Final = 3
"""`SeverityLevel` of Error (Critical is 4): traces at or above it are error records."""
EXECUTED: Final = "Executed '"
"""The host's trace that a function execution ended (`Executed 'Functions.X' (Failed, Id=...)`, at Error when it
failed): the failure's exception is its own record, so this trace names no cause and is not one."""

# What an error record is called, the same rule as `error_rows.exception_error` applies to exported rows: a
# wrapped exception (the Functions host wraps a function's in `FunctionInvocationException: Exception while
# executing function`) is named by its innermost exception, or every failure of a function would look alike.
_ERRORS: Final = f"""\
let exceptions = AppExceptions
| where TimeGenerated >= lo and TimeGenerated < hi
| extend ErrorType = coalesce(InnermostType, ExceptionType, OuterType),
    ErrorMessage = coalesce(InnermostMessage, OuterMessage, ProblemId),
    Sample = strcat(coalesce(InnermostMessage, OuterMessage, ProblemId),
        iff(isnotempty(OuterAssembly), strcat("\\n", OuterAssembly), ""));
let error_traces = AppTraces
| where TimeGenerated >= lo and TimeGenerated < hi
| where SeverityLevel >= {ERROR_SEVERITY} and not(Message startswith "{EXECUTED}")
| extend ErrorType = "", ErrorMessage = Message, Sample = Message;
let errors = union exceptions, error_traces
| extend Weight = toint(coalesce(ItemCount, 1)), SampleId = OperationId, SampleAt = TimeGenerated
| summarize ErrorCount = sum(Weight), arg_max(SampleAt, Sample, SampleId)
    by AppRoleName, OperationName, Bucket = bin(TimeGenerated, {{bucket_s}}s), ErrorType, ErrorMessage
| extend Kind = "{KIND_ERRORS}";
let versions = AppRequests
| where TimeGenerated >= lo and TimeGenerated < hi and isnotempty(AppVersion)
| summarize FirstAt = min(TimeGenerated), LastAt = max(TimeGenerated) by AppRoleName, AppVersion
| extend Kind = "{KIND_VERSIONS}", OperationName = "";
"""


def function_buckets_query(start: datetime, end: datetime, bucket_s: int = 60, errors: bool = False) -> str:
    """Per-function minute buckets and per-app host starts for [start, end); with `errors`, also error records
    per function and minute and app versions."""
    lo, hi = _kql_datetime(start), _kql_datetime(end)
    starts = "(" + " or ".join(f'Message startswith "{m}"' for m in HOST_START_MESSAGES) + ")"
    return f"""\
let lo = {lo};
let hi = {hi};
let requests = AppRequests
| where TimeGenerated >= lo and TimeGenerated < hi
| extend Throttled = ResultCode == "429", Weight = toint(coalesce(ItemCount, 1))
| summarize
    Invocations = sumif(Weight, not(Throttled)),
    Errors = sumif(Weight, Success == false and not(Throttled)),
    Throttles = sumif(Weight, Throttled),
    DurationSum = sumif(DurationMs * Weight, not(Throttled)),
    DurationMax = maxif(DurationMs, not(Throttled)),
    FirstAt = min(TimeGenerated),
    LastAt = max(TimeGenerated),
    Pct = percentilesw_array(iff(Throttled, real(null), DurationMs), Weight, 50, 95, 99)
    by AppRoleName, OperationName, Bucket = bin(TimeGenerated, {bucket_s}s)
| extend Kind = "{KIND_REQUESTS}",
    DurationAvg = iff(Invocations > 0, DurationSum / Invocations, real(null)),
    DurationP50 = todouble(Pct[0]), DurationP95 = todouble(Pct[1]), DurationP99 = todouble(Pct[2]);
let host_starts = AppTraces
| where TimeGenerated >= lo and TimeGenerated < hi
| extend IsStart = {starts}
| where IsStart or tostring(Properties.Category) startswith "Host."
| summarize HostTraces = count(), At = minif(TimeGenerated, IsStart)
    by AppRoleName, AppRoleInstance, Bucket = bin(TimeGenerated, {bucket_s}s)
| summarize HostTraces = sum(HostTraces), ColdStarts = countif(isnotnull(At)), FirstStartAt = min(At)
    by AppRoleName, Bucket
| extend Kind = "{KIND_HOST_STARTS}", OperationName = "";
{_ERRORS.format(bucket_s=bucket_s) if errors else ""}\
union requests, host_starts{", errors, versions" if errors else ""}
| project {", ".join(COLUMNS if errors else BASE_COLUMNS)}
"""
