"""moto, extended where it does not behave like AWS on a point the collector depends on.

Each behaviour cites the AWS page it follows; where moto already behaves as documented it is used as shipped.

- CloudWatch `GetMetricData` (moto stamps buckets at StartTime + k*Period like CloudWatch - see the replies
  quoted in https://github.com/boto/boto3/issues/3457 - but does not round
  StartTime, ignores the retention schedule, MaxDatapoints and NextToken, and always says `Complete`):
  `documented_cloudwatch()`.
- Lambda `LoggingConfig` (moto drops it): `documented_lambda_logging()`.
- Logs Insights (moto keeps log events but evaluates no `stats` and no row cap): `FakeInsights`.
- Logs `DescribeLogGroups` (moto ignores `logGroupIdentifiers` and lists every group):
  `documented_log_group_identifiers()`.
- percentile statistics (moto answers `p95` with a null it cannot serialise): `moto_percentiles()`.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.validate import ParamValidator

# --- CloudWatch ----------------------------------------------------------------------------------------

GET_METRIC_DATA = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html"
METRIC_STAT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html"
METRIC_DATA_RESULT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataResult.html"


def start_rules(start: datetime, now: datetime) -> tuple[datetime, int]:
    """(StartTime as CloudWatch rounds it, the multiple its period must be) for a StartTime this old.

    GET_METRIC_DATA `StartTime`: rounded down to the minute (< 15 days old), the 5-minute clock interval
    (15-63 days) or the hour (older). METRIC_STAT `Period`: when StartTime is more than 3 hours old the
    period must be a multiple of 60 / 300 / 3600 s in those same bands, "or no data points in that time
    range is returned".
    """
    age = now - start
    step = 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600
    epoch = int(start.timestamp())
    rounded = datetime.fromtimestamp(epoch - epoch % step, UTC)
    return rounded, (1 if age <= timedelta(hours=3) else step)


RETAINED = timedelta(days=455)  # GET_METRIC_DATA: 1-hour datapoints are kept 455 days; nothing older


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


@contextmanager
def documented_cloudwatch(now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Iterator[None]:
    """Patch moto's CloudWatch (in this process, so a ThreadedMotoServer serves it) to follow the pages above.

    - StartTime is rounded and periods checked by age (`start_rules`); data older than 455 days is gone.
    - EndTime is exclusive (GET_METRIC_DATA `EndTime`); moto also returns a bucket starting at EndTime.
    - A page holds at most `MaxDatapoints` values (default 100,800) and a `NextToken` for the rest; a result
      cut short says `PartialData` ("You can use the NextToken value ... to get more data points",
      METRIC_DATA_RESULT `StatusCode`). moto pages nothing and always says `Complete`.
    """
    from moto.cloudwatch import models, responses
    from moto.cloudwatch.exceptions import ValidationError

    backend_get = models.CloudWatchBackend.get_metric_data
    response_get = responses.CloudWatchResponse.get_metric_data

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        current = now()
        start, multiple = start_rules(_aware(start_time), current)
        start = start.replace(tzinfo=start_time.tzinfo)  # moto keeps naive UTC datetimes
        horizon, until = current - RETAINED, _aware(end_time)
        out = []
        for query in queries:
            stat = query.get("MetricStat")
            if stat is not None and int(stat["Period"]) % multiple:
                name = stat["Metric"]["MetricName"]
                out.append({"id": query["Id"], "label": query.get("Label") or f"{name} {stat['Stat']}",
                            "values": [], "timestamps": [], "status_code": "Complete"})
                continue
            for result in backend_get(self, [query], start, end_time, scan_by):
                kept = [(t, v) for t, v in zip(result["timestamps"], result["values"], strict=True)
                        if horizon <= _aware(t) < until]
                result["timestamps"] = [t for t, _ in kept]
                result["values"] = [v for _, v in kept]
                out.append(result)
        return out

    def paged_get_metric_data(self: Any) -> Any:
        from moto.core.responses import ActionResult

        params = self._get_params()
        for query in params.get("MetricDataQueries", []):
            if "MetricStat" not in query and "Expression" not in query:
                raise ValidationError("The parameter MetricDataQueries.member.1.MetricStat is required.\n")
        results = self.cloudwatch_backend.get_metric_data(
            start_time=params["StartTime"], end_time=params["EndTime"], queries=params.get("MetricDataQueries", []),
            scan_by=params.get("ScanBy") or "TimestampDescending",
        )
        limit = int(params.get("MaxDatapoints") or 100_800)
        offset = int(params.get("NextToken") or 0)  # opaque to the caller, as the service's token is
        page, position = [], 0
        for result in results:
            count = len(result["values"])
            lo, hi = max(0, offset - position), max(0, min(count, offset + limit - position))
            page.append({**result, "values": result["values"][lo:hi], "timestamps": result["timestamps"][lo:hi],
                         "status_code": "Complete" if position + count <= offset + limit else "PartialData"})
            position += count
        body: dict[str, Any] = {"MetricDataResults": page}
        if position > offset + limit:
            body["NextToken"] = str(offset + limit)
        return ActionResult(body)

    models.CloudWatchBackend.get_metric_data = get_metric_data  # type: ignore[method-assign]
    responses.CloudWatchResponse.get_metric_data = paged_get_metric_data  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.CloudWatchBackend.get_metric_data = backend_get  # type: ignore[method-assign]
        responses.CloudWatchResponse.get_metric_data = response_get  # type: ignore[method-assign]


@contextmanager
def moto_percentiles() -> Iterator[None]:
    """A nearest-rank percentile over the published values for `pNN` statistics."""
    from moto.cloudwatch import models

    original = models.Statistics.get_statistics_for_type

    def with_percentiles(self: Any, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            if not values:
                return None
            return values[max(0, math.ceil(float(stat[1:]) / 100 * len(values)) - 1)]
        return original(self, stat)

    models.Statistics.get_statistics_for_type = with_percentiles  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.Statistics.get_statistics_for_type = original  # type: ignore[method-assign]


# --- Lambda ------------------------------------------------------------------------------------------


@contextmanager
def documented_lambda_logging() -> Iterator[None]:
    """Keep `LoggingConfig` from CreateFunction and return it from ListFunctions, with Lambda's defaults.

    https://docs.aws.amazon.com/lambda/latest/api/API_LoggingConfig.html: LogFormat `JSON | Text`, LogGroup
    (default `/aws/lambda/<function name>`), SystemLogLevel / ApplicationLogLevel (JSON format only; the
    console and API default both to INFO). https://docs.aws.amazon.com/lambda/latest/api/API_FunctionConfiguration.html
    lists `LoggingConfig` in every function configuration ListFunctions returns.
    """
    from moto.awslambda import models

    init = models.LambdaFunction.__init__
    configuration = models.LambdaFunction.get_configuration

    def keep(self: Any, account_id: str, spec: dict[str, Any], region: str, version: Any = 1) -> None:
        init(self, account_id, spec, region, version)
        given = dict(spec.get("LoggingConfig") or {})
        config = {"LogFormat": given.get("LogFormat", "Text"),
                  "LogGroup": given.get("LogGroup", f"/aws/lambda/{spec['FunctionName']}")}
        if config["LogFormat"] == "JSON":
            config["ApplicationLogLevel"] = given.get("ApplicationLogLevel", "INFO")
            config["SystemLogLevel"] = given.get("SystemLogLevel", "INFO")
        self.logging_config = config

    def with_logging(self: Any, on_create: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = configuration(self, on_create)
        out["LoggingConfig"] = getattr(self, "logging_config", {"LogFormat": "Text",
                                                              "LogGroup": f"/aws/lambda/{self.function_name}"})
        return out

    models.LambdaFunction.__init__ = keep  # type: ignore[method-assign]
    models.LambdaFunction.get_configuration = with_logging  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.LambdaFunction.__init__ = init  # type: ignore[method-assign]
        models.LambdaFunction.get_configuration = configuration  # type: ignore[method-assign]


# --- Logs ----------------------------------------------------------------------------------------------

DESCRIBE_LOG_GROUPS = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_DescribeLogGroups.html"


@contextmanager
def documented_log_group_identifiers() -> Iterator[None]:
    """`logGroupIdentifiers` filters DescribeLogGroups to the named groups (DESCRIBE_LOG_GROUPS: "Use this array to
    filter the list of log groups returned", at most 50 names; with it, no prefix may be given)."""
    from moto.logs import responses

    original = responses.LogsResponse.describe_log_groups

    def filtered(self: Any) -> str:
        wanted = self._get_param("logGroupIdentifiers")
        if not wanted:
            return original(self)
        if len(wanted) > 50 or self._get_param("logGroupNamePrefix"):
            from moto.logs.exceptions import InvalidParameterException

            raise InvalidParameterException("logGroupIdentifiers takes 1-50 names and no logGroupNamePrefix")
        names = {w.split(":log-group:")[-1].removesuffix(":*") for w in wanted}  # names or ARNs
        groups = [g for name, g in sorted(self.logs_backend.groups.items()) if name in names]
        return json.dumps({"logGroups": [g.to_describe_dict() for g in groups]})

    responses.LogsResponse.describe_log_groups = filtered  # type: ignore[method-assign]
    try:
        yield
    finally:
        responses.LogsResponse.describe_log_groups = original  # type: ignore[method-assign]


# --- Logs Insights -------------------------------------------------------------------------------------

START_QUERY = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html"
GET_QUERY_RESULTS = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_GetQueryResults.html"
STOP_QUERY = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StopQuery.html"
QUERY_LIMIT = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Limit.html"
QUERY_FIELDS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_AnalyzeLogData-discoverable-fields.html"
QUERY_QUOTAS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch_limits_cwl.html"
QUERY_STATS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html"
QUERY_PARSE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Parse.html"
QUERY_FILTER = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Filter.html"

ROWS_PER_PAGE = 10_000  # GET_QUERY_RESULTS: "each page returning up to 10,000 log events"
DEFAULT_LIMIT = 10_000  # QUERY_LIMIT: without `limit` a query returns as many as 10,000 rows
CONCURRENT_QUERIES = 30  # QUERY_QUOTAS / START_QUERY: concurrent Logs Insights queries per account and region


@dataclass(frozen=True, slots=True)
class LogEvent:
    group: str
    stream: str
    timestamp_ms: int
    message: str


@dataclass(slots=True)
class _Query:
    groups: tuple[str, ...]
    start_s: int
    end_s: int
    text: str
    limit: int
    polls_left: int
    status: str = "Running"
    rows: list[list[dict[str, str]]] = field(default_factory=list)


def _python_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern.replace("(?<", "(?P<"))


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return parts


def _value(expr: str, record: Mapping[str, Any]) -> Any:
    match = re.fullmatch(r"coalesce\((.+)\)", expr)
    if match:
        return next((record[f] for f in _split_top(match.group(1)) if record.get(f) is not None), None)
    return record.get(expr)


def _bin_seconds(spec: str) -> int:
    match = re.fullmatch(r"(\d+)([smh])", spec)
    if match is None:
        raise ValueError(f"the fake does not know the bin {spec!r}")
    return int(match.group(1)) * {"s": 1, "m": 60, "h": 3600}[match.group(2)]


def evaluate(text: str, account: str, events: Sequence[LogEvent]) -> list[list[dict[str, str]]]:
    """Run the Logs Insights commands opsview sends over `events`; any other command is refused.

    Semantics from https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax.html: `filter ...
    like /re/` (QUERY_FILTER), `parse field /re/` with named groups (QUERY_PARSE; no match: the fields are
    absent, and a group that took no part in the match is absent too), `ispresent(a) or ispresent(b) ...`,
    `stats count(*) | avg | pct(expr, N) | max(field) | latest(field) ... by bin(period) as name, field...`
    (QUERY_STATS: bin rounds @timestamp down to the period; `latest` is the field's value in the log event
    with the latest time stamp; QUERY_FIELDS: `@log` is `account-id:log-group-name`). A by-field a record
    lacks groups it with the records that lack it too, and its row carries no such field.
    """
    records: list[dict[str, Any]] = [
        {"@message": e.message, "@logStream": e.stream, "@log": f"{account}:{e.group}", "@timestamp": e.timestamp_ms}
        for e in events
    ]
    commands = [c.strip() for c in re.split(r"\n\s*\|", text)]
    for command in commands:
        if match := re.fullmatch(r"filter (@\w+) like /(.*)/", command, re.S):
            field_name, regex = match.group(1), _python_regex(match.group(2))
            records = [r for r in records if regex.search(str(r.get(field_name, "")))]
        elif match := re.fullmatch(r"parse (@\w+) /(.*)/", command, re.S):
            field_name, regex = match.group(1), _python_regex(match.group(2))
            for record in records:
                found = regex.search(str(record.get(field_name, "")))
                if found:
                    record.update({k: v for k, v in found.groupdict().items() if v is not None})
        elif re.fullmatch(r"filter ispresent\(\w+\)(?: or ispresent\(\w+\))*", command):
            names = re.findall(r"ispresent\((\w+)\)", command)
            records = [r for r in records if any(r.get(name) is not None for name in names)]
        elif match := re.fullmatch(r"stats (.+) by (.+)", command, re.S):
            return _stats(match.group(1), match.group(2), records)
        else:
            raise ValueError(f"the fake does not evaluate {command!r}")
    raise ValueError("the fake only answers stats queries")


def _stats(aggregates: str, by: str, records: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    keys: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
    for term in _split_top(by):
        if match := re.fullmatch(r"bin\((\w+)\) as (\w+)", term):
            seconds, label = _bin_seconds(match.group(1)), match.group(2)
            keys.append((label, lambda r, s=seconds: r["@timestamp"] // 1000 // s * s))
        else:
            keys.append((term, lambda r, name=term: r.get(name)))
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(tuple(fn(record) for _, fn in keys), []).append(record)
    rows = []
    for key in sorted(groups, key=lambda k: tuple("" if v is None else v for v in k)):
        members = groups[key]
        row = []
        for (label, _), value in zip(keys, key, strict=True):
            if value is None:
                continue  # a missing by-field: the row carries no such field
            if isinstance(value, int) and label != "@log":
                value = _time_text(value * 1000)
            row.append({"field": label, "value": str(value)})
        for term in _split_top(aggregates):
            if match := re.fullmatch(r"count\(\*\) as (\w+)", term):
                row.append({"field": match.group(1), "value": str(len(members))})
            elif match := re.fullmatch(r"avg\((.+)\) as (\w+)", term, re.S):
                values = [float(v) for r in members if (v := _value(match.group(1), r)) is not None]
                if values:
                    row.append({"field": match.group(2), "value": str(sum(values) / len(values))})
            elif match := re.fullmatch(r"max\((@?\w+)\) as (\w+)", term):
                values = [v for r in members if (v := r.get(match.group(1))) is not None]
                if values:
                    top = max(values)
                    shown = _time_text(top) if match.group(1) == "@timestamp" else str(top)
                    row.append({"field": match.group(2), "value": shown})
            elif match := re.fullmatch(r"latest\((@?\w+)\) as (\w+)", term):
                dated = [(r["@timestamp"], r[match.group(1)]) for r in members if r.get(match.group(1)) is not None]
                if dated:
                    row.append({"field": match.group(2), "value": str(max(dated, key=lambda d: d[0])[1])})
            elif match := re.fullmatch(r"pct\((.+), (\d+)\) as (\w+)", term, re.S):
                values = sorted(float(v) for r in members if (v := _value(match.group(1), r)) is not None)
                if values:
                    rank = max(0, math.ceil(int(match.group(2)) / 100 * len(values)) - 1)
                    row.append({"field": match.group(3), "value": str(values[rank])})
            else:
                raise ValueError(f"the fake does not evaluate the aggregate {term!r}")
        rows.append(row)
    return rows


def _time_text(epoch_ms: int) -> str:
    """A time as Insights prints it in results (`2024-05-01 10:00:00.000`, UTC)."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.") + f"{epoch_ms % 1000:03d}"


class FakeInsights:
    """StartQuery / GetQueryResults / StopQuery answered on a real boto3 client, before anything is sent.

    Requests are validated against the SDK's model first (botocore does that before `before-call`), and
    every answer is validated against the operation's output shape. The events are read from moto's
    CloudWatch Logs backend, so FilterLogEvents (moto) and this fake see the same logs. Documented behaviours:

    - START_QUERY: startTime/endTime are inclusive epoch seconds; at most 50 log groups; a group that does not
      exist fails the query (ResourceNotFoundException); at most `CONCURRENT_QUERIES` run at once
      (LimitExceededException).
    - QUERY_LIMIT / GET_QUERY_RESULTS: a query keeps at most `limit` rows (default 10,000), a page holds at
      most 10,000 with a `nextToken` for more. Which rows survive the cap is not documented: this fake keeps
      the oldest bins, so a caller that takes a capped result for the whole answer loses the newest ones.
    - GET_QUERY_RESULTS: `Scheduled`/`Running` until done (`polls` answers), then `Complete`.
    - STOP_QUERY: stops a running query (it becomes `Cancelled`); on a finished one it fails.
    """

    def __init__(self, account: str, region: str, *, polls: int = 1, fail_poll: int | None = None) -> None:
        self.account = account
        self.region = region
        self.polls = polls
        self.fail_poll = fail_poll  # this GetQueryResults call (1-based) fails with ServiceUnavailable
        self.queries: dict[str, _Query] = {}
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.poll_count = 0
        self._lock = threading.Lock()

    def attach(self, client: Any) -> None:
        for operation, handler in (("StartQuery", self._start), ("GetQueryResults", self._results),
                                   ("StopQuery", self._stop)):
            client.meta.events.register(f"before-call.logs.{operation}", handler)

    def _events(self, groups: Sequence[str], start_s: int, end_s: int) -> list[LogEvent]:
        from moto.logs.models import logs_backends

        backend = logs_backends[self.account][self.region]
        out = []
        for name in groups:
            for stream in backend.groups[name].streams.values():
                out.extend(LogEvent(name, stream.log_stream_name, e.timestamp, e.message) for e in stream.events
                           if start_s * 1000 <= e.timestamp < (end_s + 1) * 1000)
        return out

    def _answer(self, model: Any, body: dict[str, Any], status: int = 200) -> tuple[AWSResponse, dict[str, Any]]:
        if status == 200:
            report = ParamValidator().validate(body, model.output_shape)
            if report.has_errors():
                raise AssertionError(f"the fake answered outside the model: {report.generate_report()}")
        body["ResponseMetadata"] = {"HTTPStatusCode": status, "RequestId": str(uuid.uuid4())}
        return AWSResponse(None, status, {}, None), body  # type: ignore[arg-type]

    def _error(self, model: Any, code: str, message: str) -> tuple[AWSResponse, dict[str, Any]]:
        return self._answer(model, {"Error": {"Code": code, "Message": message}}, 400)

    def _start(self, model: Any, params: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])
        from moto.logs.models import logs_backends

        groups = tuple(request.get("logGroupNames") or [request.get("logGroupName")])
        known = logs_backends[self.account][self.region].groups
        with self._lock:
            if len(groups) > 50:
                return self._error(model, "InvalidParameterException", "up to 50 log groups")
            if any(g not in known for g in groups):
                return self._error(model, "ResourceNotFoundException", "Log group does not exist")
            if sum(q.status == "Running" for q in self.queries.values()) >= CONCURRENT_QUERIES:
                return self._error(model, "LimitExceededException", "too many concurrent queries")
            query_id = str(uuid.uuid4())
            query = _Query(groups, int(request["startTime"]), int(request["endTime"]), request["queryString"],
                           int(request.get("limit") or DEFAULT_LIMIT), self.polls)
            query.rows = evaluate(query.text, self.account, self._events(groups, query.start_s, query.end_s))
            self.queries[query_id] = query
            self.started.append(query_id)
        return self._answer(model, {"queryId": query_id})

    def _results(self, model: Any, params: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])
        with self._lock:
            self.poll_count += 1
            if self.fail_poll is not None and self.poll_count == self.fail_poll:
                return self._error(model, "ServiceUnavailableException", "The service is unavailable")
            query = self.queries[request["queryId"]]
            if query.status == "Running":
                if query.polls_left > 0:
                    query.polls_left -= 1
                    return self._answer(model, {"status": "Running", "results": []})
                query.status = "Complete"
            if query.status != "Complete":
                return self._answer(model, {"status": query.status, "results": []})
            kept = query.rows[: query.limit]
            offset = int(request.get("nextToken") or 0)
            page = kept[offset : offset + ROWS_PER_PAGE]
            body: dict[str, Any] = {
                "status": "Complete", "results": page,
                "statistics": {"recordsMatched": float(len(query.rows)), "recordsScanned": float(len(query.rows)),
                               "bytesScanned": 0.0},
            }
            if offset + ROWS_PER_PAGE < len(kept):
                body["nextToken"] = str(offset + ROWS_PER_PAGE)
        return self._answer(model, body)

    def _stop(self, model: Any, params: Mapping[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        request = json.loads(params["body"])
        with self._lock:
            query = self.queries.get(request["queryId"])
            if query is None or query.status != "Running":
                return self._error(model, "InvalidParameterException", "The query is not running")
            query.status = "Cancelled"
            self.stopped.append(request["queryId"])
        return self._answer(model, {"success": True})
