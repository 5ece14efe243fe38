"""AWS Lambda: discovery (ListFunctions), metrics (GetMetricData in bulk), cold starts and error signatures
(CloudWatch Logs), deploys (ListFunctions' LastModified, Version and CodeSha256).

One collector per `[[sources.aws]]` entry, i.e. per account (its profile or assumed role); its regions are
collected concurrently and each becomes one `CollectorHealth` entry, so a denied region never hides the
others. Credentials come from boto3's default chain (or the named profile, or sts:AssumeRole) and are
never logged or stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from opsview.collectors.aws import errors as error_read
from opsview.collectors.aws.coldstarts import ColdStartResult, ColdStats, run_filter, run_insights
from opsview.collectors.aws.limiter import RateLimiter
from opsview.collectors.aws.logsources import LogSource, group_readers, log_source
from opsview.collectors.aws.metrics import (
    MAX_DATAPOINTS,
    Buckets,
    ResultStatus,
    Segment,
    build_batches,
    counts_complete,
    describe_gaps,
    fold_results,
    plan_segments,
    to_samples,
)
from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.credentials import credential_problem, failure_line, merge_credential_failures
from opsview.config import AwsSource, Config
from opsview.error_records import ErrorCoverage, ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.formatting import one_line
from opsview.schema import (
    CollectorHealth,
    Coverage,
    FunctionInfo,
    FunctionKey,
    Sample,
    floor_time,
    from_epoch,
    to_epoch,
    utcnow,
)
from opsview.untrusted import utc_time

log = logging.getLogger(__name__)

CALLS_PER_SECOND = 50.0  # GetMetricData quota per account
BOTO_CONFIG = BotoConfig(
    retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=60, max_pool_connections=32
)
_MAX_REGION_WORKERS = 8


@dataclass(frozen=True, slots=True)
class _Code:
    """What ListFunctions says of a function's deployed code."""

    last_modified: datetime | None
    version: str | None
    code_sha: str | None


@dataclass(slots=True)
class _RegionCache:
    listed_at: float
    functions: list[FunctionInfo]
    sources: dict[str, LogSource]  # function name -> where its REPORT records go
    log_groups: set[str] | None  # those of the sources' groups that exist; None: could not list them
    deploys: list[FunctionEvent] = field(default_factory=list)  # the deploy each discovery saw, per function


@dataclass(slots=True)
class _RegionResult:
    functions: list[FunctionInfo] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    health: CollectorHealth | None = None
    coverage: list[Coverage] = field(default_factory=list)
    errors: list[ErrorObservation] = field(default_factory=list)
    error_coverage: list[ErrorCoverage] = field(default_factory=list)
    events: list[FunctionEvent] = field(default_factory=list)
    credential_problem: str | None = None  # the region failed because the credentials are missing or unusable


@dataclass(slots=True)
class _Measured:
    samples: list[Sample]
    problems: list[str]
    read: list[tuple[int, int]]  # the segments whose invocation counts came back whole (the covered time)
    segments: list[Segment]


class AwsCollector:
    provider = "aws"

    def __init__(self, source: AwsSource, *, session_factory: Callable[[], boto3.Session] | None = None,
                 insights_deadline_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utcnow) -> None:
        self.name = source.name or "aws"
        self.source = source
        self._session_factory = session_factory or self._new_session
        self._session: boto3.Session | None = None
        self._session_expires: datetime | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self._regions: tuple[float, list[str]] | None = None
        self._cache: dict[str, _RegionCache] = {}
        self._code: dict[tuple[str, str], _Code] = {}  # (region, function) -> its code at the last discovery
        self._limiter = RateLimiter(CALLS_PER_SECOND)
        self._insights_deadline_s = insights_deadline_s
        self._clock = clock
        self._now = now  # wall clock: CloudWatch's retention bands are ages
        self.api_calls = 0  # for the benchmark: every request sent, retries included

    # --- sessions and clients -------------------------------------------------------------

    def _new_session(self) -> boto3.Session:
        base = boto3.Session(profile_name=self.source.profile)
        if not self.source.role_arn:
            return base
        sts = base.client("sts", endpoint_url=self.source.endpoint_url, config=BOTO_CONFIG)
        kwargs: dict[str, Any] = {"RoleArn": self.source.role_arn, "RoleSessionName": "opsview"}
        if self.source.external_id:
            kwargs["ExternalId"] = self.source.external_id
        creds = sts.assume_role(**kwargs)["Credentials"]
        self._session_expires = creds["Expiration"]
        return boto3.Session(
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"],
        )

    def _client(self, service: str, region: str) -> Any:
        with self._lock:  # boto3 sessions are not thread-safe; clients are
            expires = self._session_expires
            if self._session is None or (expires is not None and expires - utcnow() < timedelta(minutes=5)):
                self._session = self._session_factory()
                self._clients.clear()
            client = self._clients.get((service, region))
            if client is None:
                client = self._session.client(  # type: ignore[call-overload]
                    service, region_name=region, endpoint_url=self.source.endpoint_url, config=BOTO_CONFIG
                )
                client.meta.events.register("before-send", self._count_call)
                self._clients[(service, region)] = client
            return client

    def _count_call(self, **_: Any) -> None:
        self.api_calls += 1

    def _home_region(self) -> str:
        regions = self.source.regions
        return regions[0] if regions and regions[0] != "all" else "us-east-1"

    def _account_id(self) -> str:
        if self._account is None:
            self._account = str(self._client("sts", self._home_region()).get_caller_identity()["Account"])
        return self._account

    def _region_names(self) -> list[str]:
        if self.source.regions != ["all"]:
            return list(dict.fromkeys(self.source.regions))
        now = self._clock()
        if self._regions is None or now - self._regions[0] > self.source.discovery_interval.total_seconds():
            # DescribeRegions without AllRegions lists only the regions enabled in this account
            reply = self._client("ec2", self._home_region()).describe_regions()
            self._regions = (now, sorted(r["RegionName"] for r in reply["Regions"]))
        return self._regions[1]

    # --- collection -------------------------------------------------------------------------

    def collect(self, request: CollectRequest) -> CollectResult:
        began = time.monotonic()
        try:
            account = self._account_id()
            regions = self._region_names()
        except (ClientError, BotoCoreError, ValueError, KeyError) as exc:
            line = failure_line(exc, log, f"aws source {self.name}")
            health = CollectorHealth(self.name, self.provider, utcnow(), False, line,
                                     duration_s=time.monotonic() - began)
            return CollectResult(health=[health])
        result = CollectResult()
        entries: list[tuple[CollectorHealth, str | None]] = []
        workers = max(1, min(_MAX_REGION_WORKERS, len(regions)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"aws-{self.name}") as pool:
            for part in pool.map(lambda region: self._collect_region(account, region, request), regions):
                result.functions.extend(part.functions)
                result.samples.extend(part.samples)
                result.coverage.extend(part.coverage)
                result.errors.extend(part.errors)
                result.error_coverage.extend(part.error_coverage)
                result.events.extend(part.events)
                if part.health is not None:
                    entries.append((part.health, part.credential_problem))
        # credentials that expire between refreshes fail every region alike: said once, for the account
        result.health = merge_credential_failures(entries)
        return result

    def _collect_region(self, account: str, region: str, request: CollectRequest) -> _RegionResult:
        began = time.monotonic()
        out = _RegionResult()
        scope = f"{account}/{region}"
        problems: list[str] = []
        try:
            cache = self._discover(account, region)
            out.functions = cache.functions
            out.events = cache.deploys  # every refresh: the store keeps each once, and a failed write is retried
            if cache.functions:
                start, end = self._window(account, region, cache.functions, request)
                if start < end:
                    measured = self._measure(region, cache, start, end)
                    out.samples, problems = measured.samples, measured.problems
                    lo, hi = to_epoch(start), to_epoch(end)
                    out.coverage = [
                        Coverage(self.provider, account, region, from_epoch(max(a, lo)), from_epoch(min(b, hi)))
                        for a, b in measured.read if max(a, lo) < min(b, hi)
                    ]
                    if self.source.errors != "off":
                        out.errors, out.error_coverage, problem = self._errors(region, cache, measured.segments)
                        if problem is not None:
                            problems.append(problem)
        except Exception as exc:  # one failing region never sinks the others
            out.credential_problem = credential_problem(exc)
            out.health = CollectorHealth(self.name, self.provider, utcnow(), False,
                                         failure_line(exc, log, f"aws {self.name} {scope}"), scope=scope,
                                         functions=len(out.functions), duration_s=time.monotonic() - began)
            return out
        for problem in problems:
            log.warning("aws %s %s: %s", self.name, scope, problem)
        # data that should have come and did not makes the entry fail; a setup that gives no REPORT
        # records is said there too, but is not a failure of this refresh
        notes = [] if self.source.cold_starts == "off" else _unreadable(cache.sources)
        if self.source.errors != "off":
            notes += _unreadable(cache.sources, "errors", lambda s: s.no_errors)
        message = "; ".join(problems + notes) or None
        out.health = CollectorHealth(
            self.name, self.provider, utcnow(), not problems, None if message is None else _clip(message),
            scope=scope, functions=len(out.functions), samples=len(out.samples), duration_s=time.monotonic() - began,
        )
        return out

    def _discover(self, account: str, region: str) -> _RegionCache:
        cached = self._cache.get(region)
        now = self._clock()
        if cached is not None and now - cached.listed_at < self.source.discovery_interval.total_seconds():
            return cached
        lam = self._client("lambda", region)
        functions: list[FunctionInfo] = []
        configs: dict[str, dict[str, Any]] = {}
        codes: dict[str, _Code] = {}
        for page in lam.get_paginator("list_functions").paginate():
            for fn in page.get("Functions", []):
                name = fn["FunctionName"]
                if not any(fnmatchcase(name, g) for g in self.source.include):
                    continue
                if any(fnmatchcase(name, g) for g in self.source.exclude):
                    continue
                labels: dict[str, str] = {}
                if self.source.tags:
                    # ListFunctions carries no tags: read them only when a tag filter needs them
                    labels = dict(lam.list_tags(Resource=fn["FunctionArn"]).get("Tags", {}))
                    if any(labels.get(k) != v for k, v in self.source.tags.items()):
                        continue
                timeout = fn.get("Timeout")
                configs[name] = fn.get("LoggingConfig") or {}
                custom_group = configs[name].get("LogGroup")
                if custom_group and custom_group != f"/aws/lambda/{name}":
                    labels = {**labels, "log_group": custom_group}  # the console's logs link opens this group
                codes[name] = _Code(_last_modified(fn.get("LastModified")), _text(fn.get("Version")),
                                    _text(fn.get("CodeSha256")))
                functions.append(FunctionInfo(
                    key=FunctionKey(self.provider, account, region, name),
                    runtime=fn.get("Runtime") or fn.get("PackageType"),
                    memory_mb=fn.get("MemorySize"),
                    timeout_s=float(timeout) if timeout is not None else None,
                    resource_id=fn.get("FunctionArn"),
                    labels=labels,
                ))
        sources = {f.key.name: log_source(f.key.name, configs.get(f.key.name)) for f in functions}
        groups: set[str] | None = None
        if self.source.cold_starts != "off" or self.source.errors != "off":
            wanted = {s.group for s in sources.values() if s.readable or self.source.errors != "off"}
            groups = self._existing_groups(region, wanted)
        cache = _RegionCache(now, functions, sources, groups, self._deploys(region, functions, codes))
        self._cache[region] = cache
        return cache

    def _deploys(self, region: str, functions: list[FunctionInfo], codes: dict[str, _Code]) -> list[FunctionEvent]:
        """Each function's deploy as ListFunctions dates it (`LastModified`); code that changed since the last
        discovery without a newer `LastModified` (not seen, but cheap to guard) is dated by this discovery."""
        events = []
        seen_at = utcnow()
        for info in functions:
            code = codes.get(info.key.name)
            if code is None:
                continue
            previous = self._code.get((region, info.key.name))
            self._code[(region, info.key.name)] = code
            detail = EventDetail(version=code.version, code_sha=code.code_sha)
            at = code.last_modified
            changed = previous is not None and (previous.code_sha, previous.version) != (code.code_sha, code.version)
            if changed and (at is None or previous is None or previous.last_modified is None
                            or at <= previous.last_modified):
                at = seen_at
            if at is not None:
                events.append(FunctionEvent(info.key, at, EventKind.DEPLOY, detail))
        return events

    def _existing_groups(self, region: str, wanted: set[str]) -> set[str] | None:
        """Which of `wanted` exist (a function never invoked has no group; StartQuery on it would fail)."""
        found: set[str] = set()
        try:
            paginator = self._client("logs", region).get_paginator("describe_log_groups")
            names = sorted(wanted)
            for offset in range(0, len(names), 50):  # logGroupIdentifiers takes 50 names a call
                chunk = names[offset : offset + 50]
                for page in paginator.paginate(logGroupIdentifiers=chunk):
                    found.update(g["logGroupName"] for g in page.get("logGroups", []) if g["logGroupName"] in wanted)
        except (ClientError, BotoCoreError) as exc:
            log.warning("aws %s %s: cannot list log groups: %s", self.name, region, one_line(exc))
            return None
        return found

    def _window(self, account: str, region: str, functions: list[FunctionInfo],
                request: CollectRequest) -> tuple[datetime, datetime]:
        end = floor_time(request.end, 60)
        start = floor_time(request.start, 60)
        last = request.last_bucket(self.provider, account, region)
        if last is not None:
            # Lambda stamps a metric at the invocation's start: a bucket keeps growing for up to the timeout
            lookback = max((f.timeout_s or 0.0) for f in functions)
            start = max(start, floor_time(last - timedelta(seconds=max(60.0, lookback)), 60))
        return start, end

    def _measure(self, region: str, cache: _RegionCache, start: datetime, end: datetime) -> _Measured:
        """Samples, problems, and the segments whose invocation counts came back whole (the covered time)."""
        names = [f.key.name for f in cache.functions]
        keys = {f.key.name: f.key for f in cache.functions}
        segments = plan_segments(start, end, self._now())
        cloudwatch = self._client("cloudwatch", region)
        samples: list[Sample] = []
        problems: list[str] = []
        read: list[tuple[int, int]] = []
        for segment in segments:
            buckets: Buckets = {}
            whole = True
            for batch in build_batches(names, segment.period):
                status = ResultStatus()
                token: str | None = None
                while True:  # pages until no NextToken: a PartialData result is completed by the next page
                    kwargs: dict[str, Any] = {
                        "MetricDataQueries": batch.queries, "StartTime": segment.start_time,
                        "EndTime": segment.end_time, "ScanBy": "TimestampAscending", "MaxDatapoints": MAX_DATAPOINTS,
                    }
                    if token:
                        kwargs["NextToken"] = token
                    self._limiter.acquire()
                    page = cloudwatch.get_metric_data(**kwargs)
                    fold_results(batch, segment, page, buckets, status)
                    token = page.get("NextToken")
                    if not token:
                        break
                gap = describe_gaps(batch, status)
                if gap is not None:
                    problems.append(gap)
                whole = whole and counts_complete(batch, status)
            samples.extend(to_samples(buckets, keys, segment.period))
            if whole:
                read.append((segment.start, segment.end))
        if self.source.cold_starts == "off":
            return _Measured(samples, problems, read, segments)
        cold, error = self._cold_starts(region, cache, segments)
        if error is not None:
            problems.append(error)
        return _Measured(_merge_cold(samples, cold, keys, segments), problems, read, segments)

    def _errors(self, region: str, cache: _RegionCache, segments: list[Segment]
                ) -> tuple[list[ErrorObservation], list[ErrorCoverage], str | None]:
        """Error signatures of the region's functions, the spans each was searched completely, and a problem."""
        if not segments:
            return [], [], None
        if cache.log_groups is None:
            return [], [], "errors: cannot list log groups"
        readers = {g: r for g, r in group_readers(cache.sources.values(), every=True).items()
                   if g in cache.log_groups}
        if not readers:
            return [], [], None
        logs = self._client("logs", region)
        result: error_read.ErrorResult | None = None
        problem: str | None = None
        insights_error: str | None = None
        if self.source.errors == "insights":
            try:
                result = error_read.run_insights(logs, readers, segments, deadline_s=self._insights_deadline_s)
            except (ClientError, BotoCoreError) as exc:
                insights_error = one_line(exc)
                log.info("aws %s %s: Logs Insights unavailable for errors (%s); using FilterLogEvents",
                         self.name, region, insights_error)
        if result is None:
            try:
                result = error_read.run_filter(logs, readers, segments)
            except (ClientError, BotoCoreError) as exc:
                detail = one_line(exc) if insights_error is None else f"{insights_error}; {one_line(exc)}"
                return [], [], f"errors: {detail}"  # no coverage: this region's errors stay unknown
        if result.error is not None:
            problem = f"errors: {result.error}"
        keys = {f.key.name: f.key for f in cache.functions}
        start, end = segments[0].start, segments[-1].end
        spans: dict[tuple[tuple[int, int], ...], list[FunctionKey]] = {}
        for name in sorted(result.read):
            source = cache.sources.get(name)
            if name not in keys or source is None or source.no_errors is not None:
                continue  # read, but its logs cannot show every error: unknown, not "none"
            spans.setdefault(tuple(error_read.covered(result, [name], start, end)), []).append(keys[name])
        coverage = [ErrorCoverage(tuple(names), from_epoch(a), from_epoch(b))
                    for span, names in spans.items() for a, b in span]
        return result.observations(keys), coverage, problem

    def _cold_starts(self, region: str, cache: _RegionCache,
                     segments: list[Segment]) -> tuple[ColdStartResult | None, str | None]:
        if cache.log_groups is None:
            return None, "cold starts: cannot list log groups"
        existing = cache.log_groups
        readers = {g: r for g, r in group_readers(cache.sources.values()).items() if g in existing}
        if not readers or not segments:
            return None, None
        logs = self._client("logs", region)
        insights_error: str | None = None
        if self.source.cold_starts == "insights":
            try:
                result = run_insights(logs, readers, segments, deadline_s=self._insights_deadline_s)
                return result, None if result.error is None else f"cold starts: {result.error}"
            except (ClientError, BotoCoreError) as exc:
                insights_error = one_line(exc)
                log.info("aws %s %s: Logs Insights unavailable (%s); using FilterLogEvents",
                         self.name, region, insights_error)
        try:
            return run_filter(logs, readers, segments), None
        except (ClientError, BotoCoreError) as exc:
            detail = one_line(exc) if insights_error is None else f"{insights_error}; {one_line(exc)}"
            return None, f"cold starts: {detail}"


def _last_modified(value: Any) -> datetime | None:
    """ListFunctions' `LastModified` (`2024-05-01T10:00:00.000+0000`); boto3 gives it as text."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else None
    return utc_time(value) if isinstance(value, str) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _clip(text: str) -> str:
    return text if len(text) <= 600 else text[:597] + "..."


def _unreadable(sources: dict[str, LogSource], what: str = "cold starts",
                reason_of: Callable[[LogSource], str | None] = lambda s: s.no_reports) -> list[str]:
    """One note per reason some functions' cold starts (or errors) cannot be counted from their logs."""
    by_reason: dict[str, list[str]] = {}
    for source in sources.values():
        reason = reason_of(source)
        if reason is not None:
            by_reason.setdefault(reason, []).append(source.function)
    notes = []
    for reason, names in sorted(by_reason.items()):
        shown = ", ".join(sorted(names)[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        noun = "function" if len(names) == 1 else "functions"
        notes.append(f"{what} unknown for {len(names)} {noun} ({reason}): {shown}")
    return notes


def _segment_of(segments: list[Segment], epoch: int) -> Segment | None:
    return next((s for s in segments if s.contains(epoch)), None)


def _merge_cold(samples: list[Sample], cold: ColdStartResult | None, keys: dict[str, FunctionKey],
                segments: list[Segment]) -> list[Sample]:
    """Put cold starts into the metric buckets that cover them; a fully read bucket with none gets 0.

    A bucket any part of which could not be read keeps `None`: a partial count would be a wrong number.
    """
    if cold is None:
        return samples
    by_bucket: dict[tuple[str, int], ColdStats] = {}
    periods: dict[tuple[str, int], int] = {}
    weights: dict[tuple[str, int], float] = {}
    for (name, at), stats in cold.buckets.items():
        segment = _segment_of(segments, at)
        if segment is None:
            continue
        start = segment.bucket(at)
        if not cold.known(name, start, start + segment.period):
            continue
        bucket = (name, start)
        periods[bucket] = segment.period
        merged = by_bucket.setdefault(bucket, ColdStats())
        # a wider period folds several bins: counts add up, averages are weighted by count
        if stats.init_avg_ms is not None:
            total = weights.get(bucket, 0.0)
            merged.init_avg_ms = ((merged.init_avg_ms or 0.0) * total + stats.init_avg_ms * stats.cold_starts) / max(
                1.0, total + stats.cold_starts)
            weights[bucket] = total + stats.cold_starts
        if stats.init_p95_ms is not None:
            merged.init_p95_ms = max(merged.init_p95_ms or 0.0, stats.init_p95_ms)
        merged.cold_starts += stats.cold_starts
    out: list[Sample] = []
    for sample in samples:
        start = to_epoch(sample.start)
        found = by_bucket.pop((sample.key.name, start), None)
        if found is not None:
            out.append(_with_cold(sample, found))
        elif sample.invocations and cold.known(sample.key.name, start, start + sample.period_s):
            out.append(_with_cold(sample, ColdStats()))
        else:
            out.append(sample)
    # cold starts whose metrics have not landed yet: written alone, the store merges them later
    for (name, start), alone in sorted(by_bucket.items()):
        key = keys.get(name)
        if key is not None:
            out.append(Sample(key=key, start=from_epoch(start), period_s=periods[(name, start)],
                              cold_starts=alone.cold_starts, init_avg_ms=alone.init_avg_ms,
                              init_p95_ms=alone.init_p95_ms))
    return out


def _with_cold(sample: Sample, stats: ColdStats) -> Sample:
    return replace(sample, cold_starts=stats.cold_starts, init_avg_ms=stats.init_avg_ms, init_p95_ms=stats.init_p95_ms)


def create(source: AwsSource, config: Config) -> AwsCollector:
    return AwsCollector(source)
