"""A local server speaking the documented Azure Monitor REST shapes to the real SDK clients.

- Logs Query: `POST /v1/workspaces/{id}/query` and `POST /v1/{resourceId}/query` with body
  `{"query", "timespan"}`, answering `{"tables": [{"name", "columns": [{"name", "type"}], "rows"}]}`,
  plus `"error": {"code": "PartialError", ...}` for a partial result, or an error status
  with `{"error": {...}}` for a failure
  (https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format).
- Query API limits: at most 500,000 rows per query
  (https://learn.microsoft.com/azure/azure-monitor/service-limits#la-query-api). Past it Kusto
  truncates the result and reports a partial query failure, "Query result set has exceeded the
  internal record count limit 500000 (E_QUERY_RESULT_SET_TOO_LARGE)"
  (https://learn.microsoft.com/kusto/concepts/query-limits#limit-on-result-set-size-result-truncation),
  which the query API returns as 200 + the rows kept + a `PartialError` whose details carry that
  message. `FakeAzure.max_rows` is the limit; tests scale it down with the data. The ~100 MiB size
  limit is not simulated.
- Metrics batch: `POST /subscriptions/{sub}/metrics:getBatch?metricnamespace=&metricnames=&...`
  with body `{"resourceids": [...]}` (at most 50), answering `{"values": [{..., "value": [metric, ...]}]}`
  (azure-rest-api-specs `specification/monitor/data-plane/Microsoft.Insights/stable/2024-02-01/
  metricBatch.json`). Each app defines the metrics of its hosting plan: Consumption
  `FunctionExecutionCount`/`FunctionExecutionUnits`
  (https://learn.microsoft.com/azure/azure-functions/monitor-functions-reference), Flex Consumption
  `OnDemand…`/`AlwaysReady…FunctionExecutionCount`/`…Units` and `AlwaysReadyUnits`
  (https://learn.microsoft.com/azure/azure-functions/monitor-functions#analyze-metrics), both the App
  Service HTTP metrics (https://learn.microsoft.com/azure/azure-monitor/reference/supported-metrics/
  microsoft-web-sites-metrics). A batch naming a metric that one of its resources does not define
  fails whole with 400 and the service's message (the spec's default `ErrorResponse`; message as
  reported in Azure/azure-sdk-for-net#29584 and cloud-custodian/cloud-custodian#9954):
  `Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, metric: X,
  Valid metrics: ...`.
- Metric definitions: `GET /{resourceId}/providers/Microsoft.Insights/metricDefinitions?metricnamespace=`
  answering `{"value": [MetricDefinition, ...]}` with the app's plan's metrics
  (https://learn.microsoft.com/rest/api/monitor/metric-definitions/list).

We cannot run KQL here, so the logs answer is the result table the test (or the benchmark)
hands the server (`logs_replies`, `logs_reply_fn`), or, with `log_rows`, the rows of a whole
workspace that the server cuts to the query's `lo`..`hi` bounds and to `max_rows`; the server
checks the request is a well-formed KQL query with a timespan, and that every column a table's half of
the query reads is one that table has (`unknown_columns`: the workspace tables' documented schemas,
https://learn.microsoft.com/azure/azure-monitor/reference/tables/apprequests, .../apptraces,
.../appexceptions): Log Analytics refuses a query naming a column its table lacks (400, "Failed to
resolve scalar expression named ..."), so a misspelt `OuterMessage` fails here as it would there.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from azure.core.credentials import AccessToken

from opsview.collectors.azure.kql import BASE_COLUMNS, COLUMNS

COLUMN_TYPES = {
    "Kind": "string", "AppRoleName": "string", "OperationName": "string", "Bucket": "datetime",
    "Invocations": "long", "Errors": "long", "Throttles": "long", "DurationAvg": "real", "DurationP50": "real",
    "DurationP95": "real", "DurationP99": "real", "DurationMax": "real", "FirstAt": "datetime",
    "LastAt": "datetime", "ColdStarts": "long", "FirstStartAt": "datetime", "HostTraces": "long",
    "ErrorType": "string", "ErrorMessage": "string", "ErrorCount": "long", "Sample": "string", "SampleId": "string",
    "SampleAt": "datetime", "AppVersion": "string",
}
_COMMON = ("TenantId", "TimeGenerated", "Type", "SourceSystem", "IKey", "AppRoleInstance", "AppRoleName",
           "AppVersion", "ClientBrowser", "ClientCity", "ClientCountryOrRegion", "ClientIP", "ClientModel",
           "ClientOS", "ClientStateOrProvince", "ClientType", "ItemCount", "Measurements", "OperationId",
           "OperationName", "ParentId", "Properties", "ReferencedItemId", "ReferencedType", "ResourceGUID",
           "SDKVersion", "SessionId", "SyntheticSource", "UserAccountId", "UserAuthenticatedId", "UserId")
TABLE_COLUMNS: dict[str, frozenset[str]] = {
    # the columns each workspace table documents (pages cited in the module docstring)
    "AppRequests": frozenset(_COMMON + ("DurationMs", "Id", "Name", "PerformanceBucket", "ResultCode", "Source",
                                        "Success", "Url")),
    "AppTraces": frozenset(_COMMON + ("Message", "SeverityLevel")),
    "AppExceptions": frozenset(_COMMON + ("Assembly", "Details", "ExceptionType", "HandledAt", "InnermostAssembly",
                                          "InnermostMessage", "InnermostMethod", "InnermostType", "Message",
                                          "Method", "OuterAssembly", "OuterMessage", "OuterMethod", "OuterType",
                                          "ProblemId", "SeverityLevel")),
}
_LET = re.compile(r"^let (\w+) = (\w+)(.*?);\s*$", re.M | re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def unknown_columns(query: str) -> list[str]:
    """Capitalised names a table's half reads that the table does not have (nor the half defines: `X = ...`).
    KQL's functions and keywords are lower case, so a capitalised name outside a string is a column."""
    out = []
    for match in _LET.finditer(query):
        table, body = match.group(2), _STRING.sub('""', match.group(3))
        if table not in TABLE_COLUMNS:
            continue
        defined = set(re.findall(r"\b([A-Z]\w*)\s*=(?!=)", body))
        used = set(re.findall(r"(?<![.\w])([A-Z]\w*)\b", body))
        out += [f"{table}.{name}" for name in sorted(used - defined - TABLE_COLUMNS[table])]
    return out
HTTP_METRICS = ("Http5xx", "Requests", "Http2xx", "Http4xx", "AverageMemoryWorkingSet", "MemoryWorkingSet")
PLAN_DEFINITIONS: dict[str, tuple[str, ...]] = {
    "consumption": ("FunctionExecutionCount", "FunctionExecutionUnits", *HTTP_METRICS),
    "flex": ("OnDemandFunctionExecutionCount", "AlwaysReadyFunctionExecutionCount", "OnDemandFunctionExecutionUnits",
             "AlwaysReadyFunctionExecutionUnits", "AlwaysReadyUnits", *HTTP_METRICS),
}
ROW_LIMIT = 500_000  # Log Analytics query API: maximum records returned in a single query


class FakeCredential:
    """A TokenCredential without Azure AD: the policy asks, we hand out a fixed bearer token."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        self.scopes.extend(scopes)
        return AccessToken("fake-token", int(time.time()) + 3600)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")


def request_row(app: str, op: str, bucket: datetime, inv: int, errors: int = 0, throttles: int = 0,
                avg: float | None = 100.0, p50: float | None = 90.0, p95: float | None = 200.0,
                p99: float | None = 300.0, dmax: float | None = 400.0, first_s: float = 1.0,
                last_s: float = 59.0) -> list[Any]:
    return ["requests", app, op, iso(bucket), inv, errors, throttles, avg, p50, p95, p99, dmax,
            iso(bucket + timedelta(seconds=first_s)), iso(bucket + timedelta(seconds=last_s)), None, None, None]


def start_row(app: str, bucket: datetime, count: int, at_s: float = 0.5, host_traces: int | None = None) -> list[Any]:
    """Host starts of one app and minute; a host start writes several `Host.Startup` traces."""
    return ["host_starts", app, "", iso(bucket), None, None, None, None, None, None, None, None, None, None,
            count, iso(bucket + timedelta(seconds=at_s)), host_traces if host_traces is not None else 4 * count]


def host_row(app: str, bucket: datetime, traces: int) -> list[Any]:
    """Host traces (category `Host.*`) of one app and minute without a host start."""
    return ["host_starts", app, "", iso(bucket), None, None, None, None, None, None, None, None, None, None,
            0, None, traces]


def truncation_error(limit: int) -> dict[str, Any]:
    """The query API's partial error for a result cut at the record limit (see the module docstring)."""
    return {"code": "PartialError", "message": "There were some errors when processing your query.",
            "details": [{"code": "EngineError", "message": "Something went wrong processing your query on the server.",
                         "innererror": {"code": "-2133196797", "severity": 2, "severityName": "Error",
                                        "message": f"Query result set has exceeded the internal record count limit "
                                                   f"{limit} (E_QUERY_RESULT_SET_TOO_LARGE)."}}]}


def error_row(app: str, op: str, bucket: datetime, error_type: str, message: str, count: int,
              sample: str | None = None, sample_id: str | None = None, at_s: float = 30.0) -> list[Any]:
    """One (app, function, minute, error text) of the error half: `ItemCount`-weighted count, latest sample."""
    return ["errors", app, op, iso(bucket), *([None] * 13), error_type, message, count, sample or message,
            sample_id, iso(bucket + timedelta(seconds=at_s)), None]


def version_row(app: str, version: str, first: datetime, last: datetime) -> list[Any]:
    """One `AppVersion` of an app: its first and last request in the range."""
    return ["versions", app, "", None, *([None] * 8), iso(first), iso(last), None, None, None,
            None, None, None, None, None, None, version]


def logs_body(rows: list[list[Any]], error: dict[str, Any] | None = None, errors: bool = True) -> dict[str, Any]:
    """A query result with the columns of the query with (or without) errors; short rows are padded."""
    columns = COLUMNS if errors else BASE_COLUMNS
    body: dict[str, Any] = {"tables": [{
        "name": "PrimaryResult",
        "columns": [{"name": c, "type": COLUMN_TYPES[c]} for c in columns],
        "rows": [r + [None] * (len(columns) - len(r)) if len(r) < len(columns) else r[: len(columns)] for r in rows],
    }]}
    if error is not None:
        body["error"] = error
    return body


MetricFn = Callable[[str, str, datetime], float | None]
_BOUND = re.compile(r"let (lo|hi) = datetime\(([^)]+)\);")


def query_bounds(query: str) -> tuple[datetime, datetime]:
    bounds = {m[1]: datetime.fromisoformat(m[2].replace("Z", "+00:00")) for m in _BOUND.finditer(query)}
    return bounds["lo"], bounds["hi"]


def rows_in_range(rows: list[list[Any]], lo: datetime, hi: datetime) -> list[list[Any]]:
    """The rows whose bucket (a version's first request) lies in [lo, hi)."""
    bucket, first = COLUMNS.index("Bucket"), COLUMNS.index("FirstAt")
    return [r for r in rows if lo <= datetime.fromisoformat((r[bucket] or r[first])[:19]).replace(tzinfo=UTC) < hi]


def metric_definitions_body(resource_id: str, names: tuple[str, ...]) -> dict[str, Any]:
    return {"value": [{
        "id": f"{resource_id}/providers/microsoft.insights/metricdefinitions/{name}", "resourceId": resource_id,
        "namespace": "Microsoft.Web/sites", "name": {"value": name, "localizedValue": name},
        "displayDescription": "", "isDimensionRequired": False, "unit": "Count", "primaryAggregationType": "Total",
        "supportedAggregationTypes": ["Total"], "metricAvailabilities": [{"timeGrain": "PT1M", "retention": "P93D"}],
        "dimensions": [{"value": "Instance", "localizedValue": "Instance"}],
    } for name in names]}


def metrics_body(resource_ids: list[str], names: list[str], start: datetime, end: datetime, region: str,
                 value_of: MetricFn) -> dict[str, Any]:
    values = []
    for rid in resource_ids:
        metrics = []
        for name in names:
            data = []
            t = start
            while t < end:
                v = value_of(rid, name, t)
                point: dict[str, Any] = {"timeStamp": t.strftime("%Y-%m-%dT%H:%M:%SZ")}
                if v is not None:
                    point["total"] = v
                data.append(point)
                t += timedelta(minutes=1)
            metrics.append({
                "id": f"{rid}/providers/Microsoft.Insights/metrics/{name}", "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name}, "displayDescription": "", "unit": "Count",
                "timeseries": [{"metadatavalues": [], "data": data}], "errorCode": "Success",
            })
        values.append({
            "starttime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "endtime": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "interval": "PT1M", "value": metrics, "namespace": "Microsoft.Web/sites", "resourceregion": region,
            "resourceid": rid,
        })
    return {"values": values}


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorization: str | None


@dataclass
class FakeAzure:
    """State of the fake service: canned log replies (the last one repeats) or a workspace's rows,
    each app's plan and a metric function."""

    logs_replies: list[Reply] = field(default_factory=lambda: [Reply(200, logs_body([]))])
    logs_reply_fn: Callable[[dict[str, Any]], Reply] | None = None
    log_rows: list[list[Any]] | None = None
    """Result rows of the whole workspace: each query gets those in its [lo, hi), at most `max_rows`."""
    max_rows: int = ROW_LIMIT
    app_plans: dict[str, str] = field(default_factory=dict)
    """App name -> "consumption" (the default) or "flex": which metrics the app defines."""
    metric_value: MetricFn = lambda rid, name, t: None  # noqa: E731
    metrics_status: int = 200
    latency_s: float = 0.0
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def next_logs_reply(self) -> Reply:
        with self.lock:
            return self.logs_replies.pop(0) if len(self.logs_replies) > 1 else self.logs_replies[0]

    def logs(self) -> list[Seen]:
        return [s for s in self.seen if s.path.endswith("/query")]

    def metric_calls(self) -> list[Seen]:
        return [s for s in self.seen if "metrics:getBatch" in s.path]

    def definition_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path.lower().endswith("/metricdefinitions")]

    def defined(self, resource_id: str) -> tuple[str, ...]:
        return PLAN_DEFINITIONS[self.app_plans.get(resource_id.rstrip("/").rsplit("/", 1)[-1], "consumption")]

    def logs_reply(self, body: dict[str, Any]) -> Reply:
        if self.logs_reply_fn is not None:
            return self.logs_reply_fn(body)
        if self.log_rows is None:
            return self.next_logs_reply()
        rows = rows_in_range(self.log_rows, *query_bounds(body["query"]))
        if len(rows) > self.max_rows:
            return Reply(200, logs_body(rows[: self.max_rows], error=truncation_error(self.max_rows)))
        return Reply(200, logs_body(rows))


def _handler(state: FakeAzure) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, reply: Reply) -> None:
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            with state.lock:
                state.seen.append(Seen("GET", url.path, parse_qs(url.query), None, self.headers.get("Authorization")))
            marker = "/providers/microsoft.insights/metricdefinitions"
            if url.path.lower().endswith(marker):
                rid = url.path[: -len(marker)]
                self._send(Reply(200, metric_definitions_body(rid, state.defined(rid))))
                return
            self._send(Reply(404, {"error": {"code": "NotFound", "message": url.path}}))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            url = urlparse(self.path)
            query = parse_qs(url.query)
            with state.lock:
                state.seen.append(Seen("POST", url.path, query, body, self.headers.get("Authorization")))
            if state.latency_s:
                time.sleep(state.latency_s)
            if url.path.endswith("/query"):
                if not isinstance(body, dict) or "AppRequests" not in body.get("query", "") or not body.get(
                    "timespan"
                ):
                    self._send(Reply(400, {"error": {"code": "BadArgumentError", "message": "bad query body"}}))
                    return
                unknown = unknown_columns(body["query"])
                if unknown:
                    self._send(Reply(400, {"error": {"code": "SemanticError", "message": (
                        f"'where' operator: Failed to resolve scalar expression named '{unknown[0]}'")}}))
                    return
                self._send(state.logs_reply(body))
                return
            if url.path.endswith("metrics:getBatch"):
                if state.metrics_status != 200:
                    self._send(Reply(state.metrics_status, {"error": {"code": "Throttled",
                                                                      "message": "too many requests"}},
                                     {"Retry-After": "0"}))
                    return
                ids = (body or {})["resourceids"]
                if len(ids) > 50:
                    self._send(Reply(400, {"error": {"code": "BadRequest", "message": "max 50 resourceids"}}))
                    return
                start = datetime.fromisoformat(query["starttime"][0].replace("Z", "+00:00"))
                end = datetime.fromisoformat(query["endtime"][0].replace("Z", "+00:00"))
                names = query["metricnames"][0].split(",")
                for rid in ids:
                    defined = state.defined(rid)
                    unknown = [n for n in names if n not in defined]
                    if unknown:
                        self._send(Reply(400, {"error": {"code": "BadRequest", "message": (
                            f"Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, "
                            f"metric: {unknown[0]}, Valid metrics: {','.join(defined)}")}}))
                        return
                self._send(Reply(200, metrics_body(ids, names, start, end, "westeurope", state.metric_value)))
                return
            self._send(Reply(404, {"error": {"code": "NotFound", "message": url.path}}))

    return Handler


def start_fake_azure(state: FakeAzure) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    return server, thread
