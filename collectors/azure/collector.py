"""Azure Functions: App Insights logs (per function) and Azure Monitor platform metrics (per app).

Per refresh and source: ONE KQL query against the workspace (or the App Insights resource)
covering every app and function (`kql`), and one `metrics:getBatch` call per 50 function
apps of a region and hosting plan (`metrics`). Nothing is ever asked per function.

- Functions: `FunctionKey("azure", subscription_id, region, "app/function")`, app = `AppRoleName`,
  function = `OperationName` without a leading `Functions.`; 60-second samples.
- Discovery is config-only plus what the data shows: the apps in `function_app_ids` (for metrics)
  and every (app, function) seen in `AppRequests`. No resource-listing SDK is used.
- Cold starts: host starts per app, attributed to one function (see `rows`); unknown (`None`)
  for an app whose host traces never reach the workspace in the window, and the health entry
  names those apps.
- Platform metrics: execution units (MB-ms; Consumption's `FunctionExecutionUnits` or Flex
  Consumption's on-demand + always-ready units) become `billed_ms` and the app's observed
  memory; the execution counts are cross-checked against App Insights' `sum(ItemCount)` and a
  large gap is logged (sampling or lost telemetry). Apps App Insights says nothing about in the
  window get one `<app>/*` row of platform counts. Each app's plan: see `metrics`.
- Partial log results: the Log Analytics query API returns at most 500,000 rows and ~100 MiB
  per query (https://learn.microsoft.com/azure/azure-monitor/service-limits#la-query-api); past
  that, or past a memory limit, it answers 200 with the rows it has and a `PartialError`
  (https://learn.microsoft.com/azure/azure-monitor/logs/api/response-format). Such a result is
  dropped and its time range queried again in halves (whole minutes) until each half is complete;
  a minute that stays partial is left out (unknown) and reported, never stored half-counted.
- Errors and deploys (`errors = true`): two more halves of the same KQL query (`kql`, `error_rows`): error
  records per function, signature and minute, and each app's `AppVersion`s (a version new after another is a
  deploy of each of the app's functions). The functions seen in the window get `ErrorCoverage` for the ranges
  read whole; a failed or partial range gives none.
- Health: one entry per scope: `logs:<workspace>` and `metrics:<region>`; nothing raises out of
  `collect()`. Concurrency, init duration and memory used are not reported by Azure: left `None`.
- Log queries share a process-wide limit of 5 in flight (the service allows 5 concurrent per user).
- Credentials: `DefaultAzureCredential` unless a credential is passed in (tests); never logged.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlparse

from opsview.collectors.azure.error_rows import (
    ErrorBucket,
    VersionBook,
    VersionSpan,
    deploy_events,
    observations,
    parse_error_rows,
)
from opsview.collectors.azure.kql import function_buckets_query
from opsview.collectors.azure.metrics import NAMESPACE, AppMinute, Plan, PlanBook, app_name, query_region
from opsview.collectors.azure.rows import (
    APP_TOTAL,
    HostStartBucket,
    RequestBucket,
    app_totals,
    apply_execution_units,
    apps_with_host_traces,
    parse_rows,
    to_samples,
)
from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.credentials import credential_problem, failure_line, merge_credential_failures
from opsview.config import AzureSource, Config
from opsview.error_records import ErrorCoverage
from opsview.schema import CollectorHealth, Coverage, FunctionInfo, FunctionKey, Sample, floor_time, utcnow

log = logging.getLogger(__name__)

# How long a host trace counts as proof that an app's host logs reach the workspace: host.json's log levels
# change only with a deployment, while an idle warm host may log nothing for many refresh windows.
_HOST_EVIDENCE = timedelta(hours=24)

PERIOD_S = 60
MAX_CONCURRENT_LOG_QUERIES = 5
_LOG_QUERY_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_LOG_QUERIES)
_SERVER_TIMEOUT_S = 120
_CROSS_CHECK_GAP = 0.2  # log when App Insights and platform counts differ by more than this share
# Partial-failure causes that a shorter time range cures: Kusto's result-set limits (500,000 rows,
# 64 MB) and per-query memory/resource limits
# (https://learn.microsoft.com/kusto/concepts/errorsinnativecode, .../kusto/concepts/query-limits)
_LIMIT_MARKERS = ("E_QUERY_RESULT_SET_TOO_LARGE", "E_LOW_MEMORY_CONDITION", "E_RUNAWAY_QUERY",
                  "0x80DA0003", "0x80DA0001")


def _loopback(endpoint: str | None) -> bool:
    """Plain http is allowed only to this machine (tests, a local proxy): tokens never cross a network bare."""
    if not endpoint:
        return False
    parsed = urlparse(endpoint)
    return parsed.scheme == "http" and parsed.hostname in {"127.0.0.1", "localhost", "::1"}


def _partial_text(err: Any) -> str:
    """The service's partial error with its details (where the cause is), on one line."""
    details = getattr(err, "details", None)
    inner = []
    for detail in details or []:
        node = detail  # the SDK hands the JSON over as mappings, not necessarily dicts
        while isinstance(node, Mapping) and isinstance(node.get("innererror"), Mapping):
            node = node["innererror"]
        if isinstance(node, Mapping) and node.get("message"):
            inner.append(str(node["message"]))
    text = f"{getattr(err, 'code', '') or 'PartialError'}: {'; '.join(inner) or getattr(err, 'message', err)}"
    return " ".join(text.split())


def _limit_reached(err: Any) -> bool:
    text = f"{getattr(err, 'message', '')} {json.dumps(getattr(err, 'details', None), default=str)}"
    return any(marker in text for marker in _LIMIT_MARKERS)


@dataclass(frozen=True, slots=True)
class LogsOutcome:
    requests: list[RequestBucket]
    starts: list[HostStartBucket]
    error: str | None
    ok: bool
    left_out: tuple[tuple[datetime, datetime], ...] = ()  # ranges whose result stayed partial (not stored)
    errors: tuple[ErrorBucket, ...] = ()
    versions: tuple[VersionSpan, ...] = ()


class AzureCollector:
    provider = "azure"

    def __init__(
        self,
        source: AzureSource,
        credential: Any = None,
        logs_client_factory: Callable[[], Any] | None = None,
        metrics_client_factory: Callable[[str], Any] | None = None,
        retry_total: int | None = None,
    ) -> None:
        self.name = source.name or "azure"
        self.source = source
        self._credential = credential
        self._logs_factory = logs_client_factory
        self._metrics_factory = metrics_client_factory
        self._retry_total = retry_total
        self._logs_client: Any = None
        self._metrics_clients: dict[str, Any] = {}
        self._management_client: Any = None
        self._plans = PlanBook()  # what each app's plan proved to be, kept across refreshes
        # app -> the newest minute with a host trace of it, kept across refreshes (see `_traced_apps`)
        self._host_traced_at: dict[str, datetime] = {}
        self._versions = VersionBook()  # each app's versions seen so far: a new one is a deploy
        self.requests_sent = 0  # log queries + metrics batches, for the benchmark and tests

    # --- clients (built lazily: importing the SDK or finding credentials never happens at import) ---

    def _cred(self) -> Any:
        if self._credential is None:
            from azure.identity import DefaultAzureCredential

            self._credential = DefaultAzureCredential()
        return self._credential

    def _client_kwargs(self) -> dict[str, Any]:
        return {} if self._retry_total is None else {"retry_total": self._retry_total, "retry_backoff_factor": 0.01}

    def _logs(self) -> Any:
        if self._logs_client is None:
            if self._logs_factory is not None:
                self._logs_client = self._logs_factory()
            else:
                from azure.monitor.query import LogsQueryClient

                kwargs = self._client_kwargs()
                if self.source.logs_endpoint:
                    kwargs["endpoint"] = self.source.logs_endpoint
                self._logs_client = LogsQueryClient(self._cred(), **kwargs)
        return self._logs_client

    def _metrics_endpoint(self, region: str) -> str:
        template = self.source.metrics_endpoint or "https://{region}.metrics.monitor.azure.com"
        return template.replace("{region}", region)

    def _metrics(self, region: str) -> Any:
        if region not in self._metrics_clients:
            if self._metrics_factory is not None:
                self._metrics_clients[region] = self._metrics_factory(region)
            else:
                from azure.monitor.querymetrics import MetricsClient

                self._metrics_clients[region] = MetricsClient(
                    self._metrics_endpoint(region), self._cred(), **self._client_kwargs()
                )
        return self._metrics_clients[region]

    def _management(self) -> Any:
        if self._management_client is None:
            from azure.mgmt.monitor import MonitorManagementClient

            kwargs = self._client_kwargs()
            if self.source.management_endpoint:
                kwargs["base_url"] = self.source.management_endpoint
            self._management_client = MonitorManagementClient(self._cred(), self.source.subscription_id, **kwargs)
        return self._management_client

    def _metric_definitions(self, resource_id: str) -> set[str]:
        """Names of the metrics one app defines (Resource Manager's metric definitions); `query_region`
        counts these calls in its `calls`."""
        pages = self._management().metric_definitions.list(
            resource_id.lstrip("/"), metricnamespace=NAMESPACE,
            enforce_https=not _loopback(self.source.management_endpoint),
        )
        return {d.name.value for d in pages if d.name is not None and d.name.value}

    # --- selection -------------------------------------------------------------------------

    def _region(self, app: str) -> str:
        return self.source.app_regions.get(app, self.source.region)

    def _app_selected(self, app: str, resource_group: str | None = None) -> bool:
        if not any(fnmatchcase(app, g) for g in self.source.apps):
            return False
        return resource_group is None or any(fnmatchcase(resource_group, g) for g in self.source.resource_groups)

    def _function_selected(self, name: str) -> bool:
        src = self.source
        return any(fnmatchcase(name, g) for g in src.include) and not any(fnmatchcase(name, g) for g in src.exclude)

    def _app_resources(self) -> list[str]:
        out = []
        for rid in self.source.function_app_ids:
            parts = [p for p in rid.split("/") if p]
            lowered = [p.lower() for p in parts]
            group = parts[lowered.index("resourcegroups") + 1] if "resourcegroups" in lowered[:-1] else None
            if self._app_selected(app_name(rid), group):
                out.append(rid)
        return out

    # --- collection --------------------------------------------------------------------------

    def _traced_apps(self, starts: Sequence[HostStartBucket], end: datetime) -> set[str]:
        """Apps whose host logs reach the workspace: a host trace in this window, or in an earlier refresh
        within `_HOST_EVIDENCE`. A warm, idle host may log nothing for a whole refresh window, and its starts
        are still countable; only an app never seen logging host traces has unknown cold starts."""
        fresh = apps_with_host_traces(starts)
        for s in starts:
            if s.app in fresh and s.start > self._host_traced_at.get(s.app, s.start - _HOST_EVIDENCE):
                self._host_traced_at[s.app] = s.start
        return {app for app, at in self._host_traced_at.items() if end - at <= _HOST_EVIDENCE}

    def _window(self, request: CollectRequest) -> tuple[datetime, datetime]:
        end = floor_time(request.end, PERIOD_S)
        start = floor_time(request.start, PERIOD_S)
        last = request.last_bucket(self.provider, self.source.subscription_id, None)
        if last is not None:
            start = max(start, floor_time(last - self.source.reread, PERIOD_S))
        return start, max(start, end)

    def _query_range(self, start: datetime, end: datetime) -> Any:
        query = function_buckets_query(start, end, PERIOD_S, errors=self.source.errors)
        client = self._logs()
        kwargs: dict[str, Any] = {"timespan": (start, end), "server_timeout": _SERVER_TIMEOUT_S}
        if _loopback(self.source.logs_endpoint):
            kwargs["enforce_https"] = False
        with _LOG_QUERY_SLOTS:
            self.requests_sent += 1
            if self.source.workspace_id:
                return client.query_workspace(self.source.workspace_id, query, **kwargs)
            return client.query_resource(self.source.app_insights_resource_id, query, **kwargs)

    def _query_logs(self, start: datetime, end: datetime) -> LogsOutcome:
        """[start, end) in as few queries as give complete results (see the module docstring)."""
        from azure.monitor.query import LogsQueryStatus

        pending = [(start, end)]
        tables: list[Any] = []
        left_out: list[tuple[datetime, datetime, str]] = []
        while pending:
            lo, hi = pending.pop(0)
            response = self._query_range(lo, hi)
            if response.status != LogsQueryStatus.PARTIAL:
                tables += response.tables or []
                continue
            err = response.partial_error
            buckets = int((hi - lo).total_seconds()) // PERIOD_S
            if buckets > 1 and _limit_reached(err):
                mid = lo + timedelta(seconds=PERIOD_S * (buckets // 2))
                pending[:0] = [(lo, mid), (mid, hi)]
                log.info("source %s: partial result for %s..%s, querying it in halves", self.name, lo, hi)
                continue
            # nothing of an incomplete range is kept: a half-counted minute would look complete
            left_out.append((lo, hi, _partial_text(err)))
        requests: list[RequestBucket] = []
        starts: list[HostStartBucket] = []
        errors: list[ErrorBucket] = []
        versions: list[VersionSpan] = []
        bad = 0
        for table in tables:
            r, s, b = parse_rows(table.columns, table.rows)
            e, v, b2 = parse_error_rows(table.columns, table.rows)
            requests += r
            starts += s
            errors += e
            versions += v
            bad += b + b2
        if bad:
            log.warning("source %s: %d result rows could not be read", self.name, bad)
        if not left_out:
            return LogsOutcome(requests, starts, None, True, (), tuple(errors), tuple(versions))
        minutes = sum(int((hi - lo).total_seconds()) // PERIOD_S for lo, hi, _ in left_out)
        lo, hi, why = left_out[0]
        error = (f"partial result: {minutes} minute(s) left out (unknown), first {lo:%Y-%m-%d %H:%M}.."
                 f"{hi:%H:%M} UTC: {why}")
        return LogsOutcome(requests, starts, error[:500], False, tuple((lo, hi) for lo, hi, _ in left_out),
                           tuple(errors), tuple(versions))

    def _logs_scope(self) -> str:
        return f"logs:{self.source.workspace_id or self.source.app_insights_resource_id}"

    def collect(self, request: CollectRequest) -> CollectResult:
        start, end = self._window(request)
        health: list[tuple[CollectorHealth, str | None]] = []  # each with its credential problem, if any
        if start >= end:
            return CollectResult([], [], [CollectorHealth(self.name, self.provider, utcnow(), True, scope="")])

        # Logs and metrics go out together: the metrics batches do not wait for the KQL query.
        metrics_result: dict[str, Any] = {}
        metrics_thread: threading.Thread | None = None
        if self.source.metrics and self.source.function_app_ids:
            metrics_thread = threading.Thread(
                target=self._collect_metrics, args=(start, end, metrics_result), name=f"{self.name}-metrics",
                daemon=True,
            )
            metrics_thread.start()

        began = time.monotonic()
        samples: list[Sample] = []
        infos: dict[FunctionKey, FunctionInfo] = {}
        read: list[tuple[datetime, datetime]] = []  # where the invocation counts came back whole
        found = CollectResult()  # errors, their coverage and deploys
        if self.source.workspace_id or self.source.app_insights_resource_id:
            logs_problem: str | None = None
            try:
                outcome = self._query_logs(start, end)
                read = _without(start, end, outcome.left_out)
            except Exception as exc:  # FAILURE, 429 after retries, auth: a health entry, never a raise
                logs_problem = credential_problem(exc)
                outcome = LogsOutcome([], [], failure_line(exc, log, f"source {self.name}: log query failed"), False)
            requests = [r for r in outcome.requests if self._app_selected(r.app)
                        and self._function_selected(f"{r.app}/{r.function}")]
            starts = [s for s in outcome.starts if self._app_selected(s.app)]
            traced = self._traced_apps(starts, end)
            samples = to_samples(requests, starts, subscription_id=self.source.subscription_id,
                                 region_of=self.source.app_regions, default_region=self.source.region,
                                 period_s=PERIOD_S, traced=traced)
            for s in samples:
                infos.setdefault(s.key, FunctionInfo(s.key, labels={"app": s.key.name.split("/", 1)[0]}))
            found = self._errors(outcome, infos, read)  # from the ranges read whole: none when the query failed
            untraced = sorted({r.app for r in requests} - traced)
            notes = [outcome.error] if outcome.error else []
            if untraced:
                shown = ", ".join(untraced[:5]) + (f" and {len(untraced) - 5} more" if len(untraced) > 5 else "")
                notes.append(f"cold starts unknown for {len(untraced)} app(s) with no host traces in the last "
                             f"{_HOST_EVIDENCE // timedelta(hours=1)}h (host.json log level filters Host.*?): {shown}")
            health.append((CollectorHealth(
                self.name, self.provider, utcnow(), outcome.ok, "; ".join(notes) or None,
                scope=self._logs_scope(), functions=len(infos), samples=len(samples),
                duration_s=time.monotonic() - began,
            ), logs_problem))

        logs = bool(self.source.workspace_id or self.source.app_insights_resource_id)
        regions = {self.source.region, *self.source.app_regions.values()}
        if metrics_thread is not None:
            metrics_thread.join()
            minutes: list[AppMinute] = metrics_result.get("minutes", [])
            health.extend(metrics_result.get("health", []))
            if not logs:  # platform counts are the only traffic read: a region whose metrics failed is unknown
                read = [(start, end)]
                regions -= {h.scope.removeprefix("metrics:") for h, _ in metrics_result.get("health", []) if not h.ok}
            samples, memory = apply_execution_units(
                samples, {(m.app, m.start): m.execution_units_mb_ms for m in minutes
                          if m.execution_units_mb_ms is not None}
            )
            infos = {k: replace(i, memory_mb=memory.get(k.name.split("/", 1)[0])) for k, i in infos.items()}
            self._cross_check(samples, minutes)
            covered = {s.key.name.split("/", 1)[0] for s in samples}
            totals = app_totals(minutes, covered, subscription_id=self.source.subscription_id, region_of=self._region)
            for s in totals:
                app = s.key.name.split("/", 1)[0]
                infos.setdefault(s.key, FunctionInfo(s.key, labels={"app": app, "from": "platform metrics"}))
            samples = [*samples, *totals]
            for rid in self._app_resources():
                app = app_name(rid)
                for key, info in infos.items():
                    owner, function = key.name.split("/", 1)
                    if owner == app:
                        resource = rid if function == APP_TOTAL else f"{rid}/functions/{function}"
                        infos[key] = replace(info, resource_id=resource)
        component = self.source.app_insights_resource_id
        if component:  # the console's Failures link names the component; an app's resource id does not
            infos = {k: replace(i, labels={**i.labels, "app_insights": component}) for k, i in infos.items()}
        # With logs, App Insights' requests are the traffic (platform metrics only add the cost and apps it
        # does not see), so the logs decide what was read, for every region this source's apps are in.
        coverage = [Coverage(self.provider, self.source.subscription_id, region, lo, hi)
                    for region in sorted(regions) for lo, hi in read]
        # logs and metrics share the credential: when it fails, the source says so once
        return CollectResult(list(infos.values()), samples, merge_credential_failures(health), coverage,
                             found.errors, found.error_coverage, found.events)

    def _errors(self, outcome: LogsOutcome, infos: dict[FunctionKey, FunctionInfo],
                read: Sequence[tuple[datetime, datetime]]) -> CollectResult:
        """Error observations, the functions searched over the ranges read whole, and deploys (module docstring).
        Adds a `FunctionInfo` for a function seen only failing (or `<app>/*` for the host's own errors)."""
        if not self.source.errors:
            return CollectResult()
        chosen = [e for e in outcome.errors
                  if self._app_selected(e.app) and self._function_selected(f"{e.app}/{e.function}")]
        key_of = {k.name: k for k in infos}
        for e in chosen:
            name = f"{e.app}/{e.function}"
            if name not in key_of:
                key = key_of[name] = FunctionKey(self.provider, self.source.subscription_id, self._region(e.app), name)
                infos[key] = FunctionInfo(key, labels={"app": e.app})
        coverage = [ErrorCoverage(tuple(sorted(infos)), lo, hi) for lo, hi in read] if infos else []
        deploys = self._versions.deploys(v for v in outcome.versions if self._app_selected(v.app))
        return CollectResult(errors=observations(chosen, key_of), error_coverage=coverage,
                             events=deploy_events(deploys, infos))

    def _configured_plan(self, app: str) -> Plan | None:
        for pattern, plan in self.source.app_plans.items():
            if fnmatchcase(app, pattern):
                return Plan(plan)
        return None

    def _collect_metrics(self, start: datetime, end: datetime, out: dict[str, Any]) -> None:
        by_region: dict[str, list[str]] = {}
        for rid in self._app_resources():
            by_region.setdefault(self._region(app_name(rid)), []).append(rid)
            configured = self._configured_plan(app_name(rid))
            if configured is not None:
                self._plans.known.setdefault(rid, configured)  # what the service proved outranks config
        minutes: list[AppMinute] = []
        health: list[tuple[CollectorHealth, str | None]] = []
        for region, ids in sorted(by_region.items()):
            began = time.monotonic()
            problem: str | None = None
            try:
                client = self._metrics(region)
                result = query_region(client, region, ids, start, end, book=self._plans,
                                      definitions=self._metric_definitions,
                                      enforce_https=not _loopback(self._metrics_endpoint(region)))
                self.requests_sent += result.calls
                minutes.extend(result.minutes)
                error = result.error
            except Exception as exc:  # a region failing never sinks the logs or the other regions
                problem = credential_problem(exc)
                error = failure_line(exc, log, f"source {self.name}: metrics in {region} failed")
            health.append((CollectorHealth(
                self.name, self.provider, utcnow(), error is None, error, scope=f"metrics:{region}",
                functions=len(ids), duration_s=time.monotonic() - began,
            ), problem))
            if problem is not None:
                break  # every other region would ask the same credential for a token, and fail alike
        out["minutes"] = minutes
        out["health"] = health

    def _cross_check(self, samples: Sequence[Sample], minutes: Sequence[AppMinute]) -> None:
        platform: dict[str, float] = {}
        for m in minutes:
            if m.executions is not None:
                platform[m.app] = platform.get(m.app, 0.0) + m.executions
        insights: dict[str, int] = {}
        for s in samples:
            app = s.key.name.split("/", 1)[0]
            insights[app] = insights.get(app, 0) + (s.invocations or 0) + (s.throttles or 0)
        for app, executions in platform.items():
            seen = insights.get(app, 0)
            if executions > 0 and abs(executions - seen) / executions > _CROSS_CHECK_GAP:
                log.warning("source %s: app %s ran %d executions (platform) but App Insights counts %d; "
                            "check sampling and telemetry", self.name, app, executions, seen)

    def close(self) -> None:
        for client in [self._logs_client, *self._metrics_clients.values(), self._management_client]:
            if client is not None and hasattr(client, "close"):
                client.close()


Span = tuple[datetime, datetime]


def _without(start: datetime, end: datetime, holes: Sequence[Span]) -> list[Span]:
    """[start, end) minus `holes`."""
    out: list[tuple[datetime, datetime]] = []
    at = start
    for lo, hi in sorted(holes):
        if lo > at:
            out.append((at, min(lo, end)))
        at = max(at, hi)
    if at < end:
        out.append((at, end))
    return [(lo, hi) for lo, hi in out if lo < hi]


def create(source: AzureSource, config: Config) -> AzureCollector:
    return AzureCollector(source)
