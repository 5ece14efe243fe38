"""Google Cloud Functions (gen1) and Cloud Run functions (gen2) from Cloud Logging.

One refresh sends, per project, one filter covering both generations (see `opsview.collectors.gcp.filter`)
and pages through it 1000 entries at a time: calls = ceil(entries / 1000), never one per function.
Windows are incremental: a refresh starts a few minutes (`overlap`) before the newest stored bucket.

We page through `entries:list` with the client's own authenticated JSON connection and read the
raw entries, rather than the client's `list_entries` generator: that generator turns every entry
into an SDK object (slow, and one unreadable entry would end the whole listing), and cannot resume
from a page token after a 429. A malformed entry here is skipped and counted instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.entries import GcpEvent, MalformedEntryError, parse_entry
from opsview.collectors.gcp.filter import build_filter
from opsview.collectors.gcp.quota import CallLimiter, with_backoff
from opsview.config import Config
from opsview.config.sources import GcpSource
from opsview.formatting import one_line
from opsview.schema import CollectorHealth, FunctionInfo, FunctionKey, Sample, floor_time, utcnow

log = logging.getLogger(__name__)

PAGE_SIZE = 1000
_MAX_PROJECT_WORKERS = 4


@dataclass(slots=True)
class ProjectStats:
    """What one project's refresh cost and found (for health, tests and the benchmark)."""

    calls: int = 0
    retries: int = 0
    entries: int = 0
    malformed: int = 0
    window: tuple[datetime, datetime] | None = None
    filters: list[str] = field(default_factory=list)


ApiRequest = Callable[..., Any]
"""`google.cloud._http.JSONConnection.api_request`."""


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
    ) -> None:
        self.name = source.name or "gcp"
        self.source = source
        self._credentials = credentials
        self._sleep = sleep
        self._backoff_s = backoff_s
        self._limiters = {p: CallLimiter(source.calls_per_minute, 60.0, clock, sleep) for p in source.project_id}
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        # last non-traffic instance start per function and reason, remembered across refreshes
        self._last_starts: dict[FunctionKey, dict[str, datetime]] = {}
        self.last_stats: dict[str, ProjectStats] = {}

    # --- the Collector protocol ----------------------------------------------------------------

    def collect(self, request: CollectRequest) -> CollectResult:
        result = CollectResult()
        projects = list(dict.fromkeys(self.source.project_id))
        workers = max(1, min(_MAX_PROJECT_WORKERS, len(projects)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="gcp") as pool:
            outcomes = list(pool.map(lambda p: self._collect_project(p, request), projects))
        for infos, acc_samples, health in outcomes:
            result.functions.extend(infos)
            result.samples.extend(acc_samples)
            result.health.append(health)
        return result

    # --- one project ---------------------------------------------------------------------------

    def _collect_project(
        self, project: str, request: CollectRequest
    ) -> tuple[list[FunctionInfo], list[Sample], CollectorHealth]:
        began = time.monotonic()
        stats = ProjectStats()
        self.last_stats[project] = stats
        try:
            start, end = self._window(project, request)
            acc = BucketAccumulator()
            if start < end:
                stats.window = (start, end)
                acc.add_all(self._events(project, build_filter(start, end, self.source.regions,
                                                               self.source.include), stats))
            infos = self._infos(acc)
            samples = acc.samples()
        except Exception as exc:  # one failing project never sinks the others
            log.warning("gcp project %s failed", project, exc_info=True)
            return [], [], CollectorHealth(
                self.name, self.provider, utcnow(), False, one_line(exc), scope=project,
                duration_s=time.monotonic() - began,
            )
        note = f"{stats.malformed} malformed log entries skipped" if stats.malformed else None
        if note:
            log.warning("gcp project %s: %s", project, note)
        return infos, samples, CollectorHealth(
            self.name, self.provider, utcnow(), True, note, scope=project, functions=len(infos),
            samples=len(samples), duration_s=time.monotonic() - began,
        )

    def _window(self, project: str, request: CollectRequest) -> tuple[datetime, datetime]:
        start = floor_time(request.start, 60)
        last = request.last_bucket(self.provider, project, None)
        if last is not None:
            start = max(start, floor_time(last - self.source.overlap, 60))
        # whole minutes only: a bucket is written once its minute is over (late entries: `overlap`)
        return start, floor_time(request.end, 60)

    def _events(self, project: str, filter_: str, stats: ProjectStats) -> Iterator[GcpEvent]:
        stats.filters.append(filter_)
        api_request = self._api_request(project)
        limiter = self._limiters.setdefault(project, CallLimiter(self.source.calls_per_minute))
        regions = set(self.source.regions)
        include, exclude = self.source.include, self.source.exclude
        body: dict[str, Any] = {
            "resourceNames": [f"projects/{project}"],
            "filter": filter_,
            "orderBy": "timestamp asc",
            "pageSize": PAGE_SIZE,
        }
        token: str | None = None
        while True:
            if token:
                body["pageToken"] = token

            def fetch() -> Any:
                stats.calls += 1  # every attempt counts against the quota, refused ones too
                return api_request(method="POST", path="/entries:list", data=body)

            page = with_backoff(
                fetch, limiter=limiter, retries=self.source.max_retries, base_s=self._backoff_s, sleep=self._sleep,
                on_retry=lambda _exc: _count_retry(stats),
            )
            entries = (page.get("entries") or []) if isinstance(page, Mapping) else []
            for entry in entries:
                stats.entries += 1
                try:
                    event = parse_entry(entry)
                except MalformedEntryError as exc:
                    stats.malformed += 1
                    log.debug("gcp project %s: skipped entry: %s", project, exc)
                    continue
                if event is None or (regions and event.region not in regions):
                    continue
                name = event.function
                if any(fnmatchcase(name, g) for g in include) and not any(fnmatchcase(name, g) for g in exclude):
                    yield event
            token = page.get("nextPageToken") if isinstance(page, Mapping) else None
            if not token:
                return

    def _api_request(self, project: str) -> ApiRequest:
        with self._clients_lock:
            client = self._clients.get(project)
            if client is None:
                client = self._clients[project] = self._make_client(project)
        request: ApiRequest = client._connection.api_request
        return request

    def _make_client(self, project: str) -> Any:
        from google.cloud import logging as cloud_logging  # imported only when a gcp source runs

        endpoint = self.source.api_endpoint
        credentials = self._credentials
        if credentials is None and endpoint and endpoint.startswith("http://"):
            from google.auth.credentials import AnonymousCredentials

            credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
        return cloud_logging.Client(  # type: ignore[no-untyped-call]
            project=project,
            credentials=credentials,  # None: google-auth's default chain (ADC)
            _use_grpc=False,
            client_options={"api_endpoint": endpoint} if endpoint else None,
        )

    def _infos(self, acc: BucketAccumulator) -> list[FunctionInfo]:
        infos = []
        for info in acc.functions():
            k = info.key
            remembered = self._last_starts.setdefault(k, {})
            starts = acc.starts.get(k)
            if starts is not None:
                for reason, at in starts.last_at.items():
                    if reason not in remembered or at > remembered[reason]:
                        remembered[reason] = at
            labels = dict(info.labels)
            for reason, at in sorted(remembered.items()):
                labels[f"last_start_{reason.lower()}"] = at.isoformat()
            infos.append(FunctionInfo(k, resource_id=info.resource_id, labels=labels))
        return infos


def _count_retry(stats: ProjectStats) -> None:
    stats.retries += 1


def create(source: GcpSource, config: Config) -> GcpCollector:
    return GcpCollector(source)
