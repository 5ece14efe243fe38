"""Google Cloud Functions (gen1) and Cloud Run functions (gen2): one `Collector` per `[[sources.gcp]]`.

Two paths, chosen per source by `mode`:
- `metrics` (default): counts, errors, throttles and latency percentiles from Cloud Monitoring, aggregated on the
  server per function and minute (`metrics_path`): ~9 calls per project per refresh whatever the traffic. Cloud
  Logging is read only for gen2 `Starting new instance` lines (cold starts): a narrow, low-volume filter.
- `logs`: every gen1 execution line and gen2 request log from Cloud Logging (`logs_path`): calls =
  ceil(entries / 1000); exact percentiles, no Monitoring permission needed.

Errors and deploys (`errors = true`, `errors`): error records ride in the logs path's wide filter, or in the
metrics path's narrow read beside the cold starts (one filter, no extra listing); each function seen gets
`ErrorCoverage` for the window when that read succeeded. gen2 revisions give deploys, non-traffic instance
starts events.

Quota: calls are charged to the caller's quota project, so limiters are kept per (API, quota project) for the
whole process (`quota.QuotaLimiters`), shared by every project read with the same identity. The health line
of each project says which path ran, what it cost and how many quota minutes the refresh needs.
Windows are incremental: a refresh starts `overlap` (metrics: at least Monitoring's 4-minute ingest delay)
before the newest stored bucket.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.credentials import credential_problem, failure_line, merge_credential_failures
from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.entries import ErrorEntry, InstanceStart
from opsview.collectors.gcp.errors import ErrorAccumulator, RevisionBook, Revisions
from opsview.collectors.gcp.filter import NameRules, Select, build_filter
from opsview.collectors.gcp.google_apis import Identity, LoggingPages, MonitoringPages, resolve_identity
from opsview.collectors.gcp.logs_path import read_events
from opsview.collectors.gcp.metrics_path import read_metrics
from opsview.collectors.gcp.metrics_samples import to_samples, unseen_starts
from opsview.collectors.gcp.quota import PROCESS_LIMITERS, CallLimiter, QuotaLimiters
from opsview.collectors.gcp.stats import ProjectStats
from opsview.config import Config
from opsview.config.sources import GcpSource
from opsview.error_records import ErrorCoverage, ErrorObservation, FunctionEvent
from opsview.formatting import one_line
from opsview.schema import (
    EVERY_REGION,
    CollectorHealth,
    Coverage,
    FunctionInfo,
    FunctionKey,
    Sample,
    floor_time,
    utcnow,
)

log = logging.getLogger(__name__)

_MAX_PROJECT_WORKERS = 4
METRICS_DELAY = timedelta(minutes=4)
"""Cloud Functions and Cloud Run metrics: "After sampling, data is not visible for up to 240 seconds"
(https://cloud.google.com/monitoring/api/metrics_gcp): a metrics refresh re-reads at least this much."""
LOGGING_API = "logging.googleapis.com"
MONITORING_API = "monitoring.googleapis.com"


@dataclass(slots=True)
class _Outcome:
    project: str
    infos: list[FunctionInfo]
    samples: list[Sample]
    stats: ProjectStats
    error: str | None
    duration_s: float
    credential_problem: str | None = None  # the project failed because the credentials are missing or unusable
    errors: list[ErrorObservation] = field(default_factory=list)
    error_coverage: list[ErrorCoverage] = field(default_factory=list)
    events: list[FunctionEvent] = field(default_factory=list)


@dataclass(slots=True)
class _Found:
    """What one project's read gave besides the samples: errors (None: not read whole) and events."""

    errors: ErrorAccumulator | None = None
    revisions: Revisions = field(default_factory=Revisions)


class GcpCollector:
    """`Collector` for one `[[sources.gcp]]`: every configured project, each failure contained."""

    provider = "gcp"

    def __init__(
        self,
        source: GcpSource,
        *,
        credentials: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        backoff_s: float = 1.0,
        limiters: QuotaLimiters | None = None,
    ) -> None:
        self.name = source.name or "gcp"
        self.source = source
        self.rules = NameRules.of(source.include, source.exclude, source.services)
        self._credentials = credentials
        self._sleep = sleep
        self._backoff_s = backoff_s
        if limiters is None:  # an injected clock (tests) gets its own limiters; real time shares the process's
            real_time = clock is time.monotonic and sleep is time.sleep
            limiters = PROCESS_LIMITERS if real_time else QuotaLimiters(clock, sleep)
        self._limiters = limiters
        self._identity: Identity | None = None
        self._logging: dict[str, LoggingPages] = {}
        self._monitoring: MonitoringPages | None = None
        self._lock = threading.Lock()
        # last non-traffic instance start per function and reason, remembered across refreshes
        self._last_starts: dict[FunctionKey, dict[str, datetime]] = {}
        self._revisions = RevisionBook()
        self.last_stats: dict[str, ProjectStats] = {}

    # --- the Collector protocol ----------------------------------------------------------------

    def collect(self, request: CollectRequest) -> CollectResult:
        result = CollectResult()
        began = time.monotonic()
        try:  # one identity serves every project: without it no project can be read, so it is said once
            self._identity_once()
        except Exception as exc:
            line = failure_line(exc, log, f"gcp source {self.name}")
            result.health.append(CollectorHealth(self.name, self.provider, utcnow(), False, line,
                                                 duration_s=time.monotonic() - began))
            return result
        projects = list(dict.fromkeys(self.source.project_id))
        workers = max(1, min(_MAX_PROJECT_WORKERS, len(projects)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gcp") as pool:
            outcomes = list(pool.map(lambda p: self._collect_project(p, request), projects))
        # the quota is one per quota project: a refresh needs the sum of what all its projects spent
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for o in outcomes:
            totals[(LOGGING_API, o.stats.quota_project)] += o.stats.calls
            totals[(MONITORING_API, o.stats.quota_project)] += o.stats.monitoring_calls
        entries: list[tuple[CollectorHealth, str | None]] = []
        for o in outcomes:
            result.functions.extend(o.infos)
            result.samples.extend(o.samples)
            result.coverage.extend(self._coverage(o))
            result.errors.extend(o.errors)
            result.error_coverage.extend(o.error_coverage)
            result.events.extend(o.events)
            if o.error is not None:
                entries.append((CollectorHealth(
                    self.name, self.provider, utcnow(), False, f"{o.error} ({self._cost(o.stats, totals)})",
                    scope=o.project, duration_s=o.duration_s,
                ), o.credential_problem))
                continue
            notes = [self._cost(o.stats, totals)]
            if o.stats.malformed:
                notes.append(f"{o.stats.malformed} malformed log entries skipped")
            notes.extend(o.stats.incomplete[:3])
            entries.append((CollectorHealth(
                self.name, self.provider, utcnow(), True, "; ".join(notes), scope=o.project,
                functions=len(o.infos), samples=len(o.samples), duration_s=o.duration_s,
            ), None))
        result.health = merge_credential_failures(entries)  # e.g. a token that can no longer be refreshed
        return result

    def _coverage(self, outcome: _Outcome) -> list[Coverage]:
        """A project read whole covers its window in the regions it was filtered to (every one by default):
        its functions are found in what was read, so a region without traffic needs no function to be known."""
        window = outcome.stats.window
        if outcome.error is not None or window is None or outcome.stats.counts_incomplete:
            return []
        regions = list(dict.fromkeys(self.source.regions)) or [EVERY_REGION]
        return [Coverage(self.provider, outcome.project, region, *window) for region in regions]

    def _cost(self, stats: ProjectStats, totals: dict[tuple[str, str], int]) -> str:
        """`metrics path: 9 timeSeries.list + 1 entries.list calls; quota project p: 0.03 + 0.02 quota-min`."""
        who = stats.quota_project or "the credentials' project"
        log_rate, mon_rate = self.source.calls_per_minute, self.source.monitoring_calls_per_minute
        log_total = totals.get((LOGGING_API, stats.quota_project), 0)
        if stats.mode == "logs":
            return (f"logs path: {stats.calls} entries.list calls = {stats.calls / log_rate:.2f} quota-min "
                    f"(refresh: {log_total / log_rate:.2f} of {who}'s {log_rate}/min)")
        mon_total = totals.get((MONITORING_API, stats.quota_project), 0)
        return (f"metrics path: {stats.monitoring_calls} timeSeries.list + {stats.calls} entries.list calls, "
                f"{stats.series} series (refresh: {mon_total / mon_rate:.2f} Monitoring + "
                f"{log_total / log_rate:.2f} Logging quota-min of {who}'s {mon_rate}/min and {log_rate}/min)")

    # --- one project ---------------------------------------------------------------------------

    def _collect_project(self, project: str, request: CollectRequest) -> _Outcome:
        began = time.monotonic()
        stats = ProjectStats(mode=self.source.mode)
        self.last_stats[project] = stats
        try:
            identity = self._identity_once()
            stats.quota_project = identity.quota_project
            start, end = self._window(project, request)
            if start >= end:
                return _Outcome(project, [], [], stats, None, time.monotonic() - began)
            stats.window = (start, end)
            found = _Found()
            if self.source.mode == "logs":
                infos, samples = self._logs(project, start, end, stats, found)
            else:
                infos, samples = self._metrics(project, start, end, stats, found)
        except Exception as exc:  # one failing project never sinks the others: its errors stay unknown
            line = failure_line(exc, log, f"gcp project {project}")
            return _Outcome(project, [], [], stats, line, time.monotonic() - began, credential_problem(exc))
        if stats.malformed:
            log.warning("gcp project %s: %d malformed log entries skipped", project, stats.malformed)
        outcome = _Outcome(project, infos, samples, stats, None, time.monotonic() - began)
        if found.errors is not None:
            known = {i.key for i in infos}
            for key in found.errors.functions - known:  # a function seen only failing in this window
                infos.append(FunctionInfo(key, resource_id=_resource_id(key)))
            outcome.errors = found.errors.observations()
            keys = tuple(sorted(known | found.errors.functions))
            outcome.error_coverage = [ErrorCoverage(keys, start, end)] if keys else []
        outcome.events = self._revisions.events(found.revisions)
        return outcome

    def _logs(self, project: str, start: datetime, end: datetime, stats: ProjectStats,
              found: _Found) -> tuple[list[FunctionInfo], list[Sample]]:
        acc = BucketAccumulator()
        errors = ErrorAccumulator()
        filter_ = build_filter(start, end, self.source.regions, self.rules, errors=self.source.errors)
        acc.add_all(self._route(self._read_logs(project, filter_, stats), errors, found.revisions))
        found.errors = errors if self.source.errors else None
        return self._infos(acc), acc.samples()

    @staticmethod
    def _route(events: Any, errors: ErrorAccumulator, revisions: Revisions) -> Any:
        """The counted events, on to the samples; error records to `errors`; revisions noted on the way."""
        last: tuple[str, str, str, str] | None = None  # entries come in runs of one function and revision
        for event in events:
            revision = event.revision
            if revision is not None and ((where := (event.project, event.region, event.function, revision)) != last
                                         or type(event) is InstanceStart):
                revisions.observe(errors.key(where[:3]), event)
                last = where
            if type(event) is ErrorEntry:
                errors.add(event)
            else:
                yield event

    def _metrics(self, project: str, start: datetime, end: datetime, stats: ProjectStats,
                 found: _Found) -> tuple[list[FunctionInfo], list[Sample]]:
        result = read_metrics(
            self._monitoring_pages(), project, start, end,
            limiter=self._limiter(MONITORING_API, stats), stats=stats, regions=tuple(self.source.regions),
            rules=self.rules, retries=self.source.max_retries, backoff_s=self._backoff_s, sleep=self._sleep,
        )
        starts: BucketAccumulator | None = None
        try:
            filter_ = build_filter(start, end, self.source.regions, self.rules, Select.STARTS,
                                   errors=self.source.errors)
            acc = BucketAccumulator()
            errors = ErrorAccumulator()
            events = self._route(self._read_logs(project, filter_, stats), errors, found.revisions)
            acc.add_all(e for e in events if type(e) is InstanceStart)  # Monitoring counts the invocations
            starts = acc
            found.errors = errors if self.source.errors else None
        except Exception as exc:  # counts and latency still land; cold starts and errors become unknown, not 0
            log.warning("gcp project %s: cold-start read failed", project, exc_info=True)
            stats.incomplete.append(f"cold starts unknown{', errors unknown' if self.source.errors else ''}: "
                                    f"{one_line(exc)}")
        if starts is not None and (blind := unseen_starts(result, starts)):
            stats.incomplete.append(
                f"cold starts unknown for {len(blind)} gen2 function(s) whose instances started but logged no "
                "'Starting new instance' line (system logs excluded from ingestion?)"
            )
        samples, widths = to_samples(result, starts)
        stats.percentile_widths = widths
        worst: dict[FunctionKey, float] = {}
        for (key, _), triple in widths.items():
            for width in triple:
                if width is not None and width > worst.get(key, -1.0):
                    worst[key] = width
        infos = []
        acc_infos = {i.key: i for i in (starts.functions() if starts is not None else [])}
        for key, generation in sorted(result.generation.items()):
            labels = {"generation": generation, "path": "metrics"}
            if key in result.instances_max:
                labels["instances_max"] = f"{result.instances_max[key]:g}"
            if key in worst:  # the most any percentile of the window may be off
                labels["percentile_error_ms"] = f"{worst[key]:.6g}"
            acc_infos.pop(key, None)
            infos.append(FunctionInfo(key, resource_id=_resource_id(key), labels=labels))
        infos.extend(acc_infos.values())  # a function seen only starting instances in this window
        return self._with_starts(infos, starts), samples

    def _read_logs(self, project: str, filter_: str, stats: ProjectStats) -> Any:
        return read_events(
            self._logging_pages(project), project, filter_,
            limiter=self._limiter(LOGGING_API, stats), stats=stats, regions=frozenset(self.source.regions),
            rules=self.rules, retries=self.source.max_retries, backoff_s=self._backoff_s, sleep=self._sleep,
            errors=self.source.errors,
        )

    def _window(self, project: str, request: CollectRequest) -> tuple[datetime, datetime]:
        start = floor_time(request.start, 60)
        last = request.last_bucket(self.provider, project, None)
        if last is not None:
            reread = self.source.overlap if self.source.mode == "logs" else max(self.source.overlap, METRICS_DELAY)
            start = max(start, floor_time(last - reread, 60))
        # whole minutes only: a bucket is written once its minute is over (late entries: `overlap`)
        return start, floor_time(request.end, 60)

    # --- clients and limiters ------------------------------------------------------------------

    def _identity_once(self) -> Identity:
        with self._lock:
            if self._identity is None:
                local = any(e and e.startswith("http://")
                            for e in (self.source.api_endpoint, self.source.monitoring_endpoint))
                self._identity = resolve_identity(self._credentials, self.source.quota_project, local)
            return self._identity

    def _limiter(self, api: str, stats: ProjectStats) -> CallLimiter:
        rate = self.source.calls_per_minute if api == LOGGING_API else self.source.monitoring_calls_per_minute
        return self._limiters.get(api, stats.quota_project, rate)

    def _logging_pages(self, project: str) -> LoggingPages:
        with self._lock:
            pages = self._logging.get(project)
            if pages is None:
                assert self._identity is not None
                pages = self._logging[project] = LoggingPages(self._identity, self.source.api_endpoint)
            return pages

    def _monitoring_pages(self) -> MonitoringPages:
        with self._lock:
            if self._monitoring is None:
                assert self._identity is not None
                self._monitoring = MonitoringPages(self._identity, self.source.monitoring_endpoint)
            return self._monitoring

    # --- functions -----------------------------------------------------------------------------

    def _infos(self, acc: BucketAccumulator) -> list[FunctionInfo]:
        infos = [FunctionInfo(i.key, resource_id=i.resource_id, labels={**i.labels, "path": "logs"})
                 for i in acc.functions()]
        return self._with_starts(infos, acc)

    def _with_starts(self, infos: list[FunctionInfo], acc: BucketAccumulator | None) -> list[FunctionInfo]:
        out = []
        for info in infos:
            k = info.key
            remembered = self._last_starts.setdefault(k, {})
            starts = acc.starts.get(k) if acc is not None else None
            if starts is not None:
                for reason, at in starts.last_at.items():
                    if reason not in remembered or at > remembered[reason]:
                        remembered[reason] = at
            labels = dict(info.labels)
            for reason, at in sorted(remembered.items()):
                labels[f"last_start_{reason.lower()}"] = at.isoformat()
            out.append(FunctionInfo(k, resource_id=info.resource_id, labels=labels))
        return out


def _resource_id(key: FunctionKey) -> str:
    return f"projects/{key.account}/locations/{key.region}/functions/{key.name}"


def create(source: GcpSource, config: Config) -> GcpCollector:
    return GcpCollector(source)
