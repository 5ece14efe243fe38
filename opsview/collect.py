"""Run every configured source once into the store: concurrently, each failure contained.

Readers never call this; a collector process (or a viewer's background worker) does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsview.collectors import Collector, CollectRequest, build_collector
from opsview.config import AnySource, Config
from opsview.formatting import one_line
from opsview.schema import CollectorHealth, utcnow
from opsview.store import CollectStore, as_store_error

log = logging.getLogger(__name__)

_MAINTENANCE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SourceReport:
    """What one source's collection did, for the CLI line and the TUI badge."""

    source: str
    provider: str
    functions: int
    samples: int
    duration_s: float
    errors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.errors


class CollectionRunner:
    """Holds the collectors (and their discovery caches) across refreshes."""

    def __init__(self, config: Config, store: CollectStore, sources: Sequence[AnySource] | None = None) -> None:
        self.config = config
        self.store = store
        self.sources = list(sources if sources is not None else config.sources.all())
        self._collectors: dict[str, Collector] = {}
        # One pool for the runner's life: a viewer collects every minute for hours, and fresh
        # threads each pass would each open (and keep) a store connection of their own.
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(config.collect.concurrency, len(self.sources) or 1)), thread_name_prefix="collect"
        )

    def close(self, *, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def __enter__(self) -> CollectionRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collector(self, source: AnySource) -> Collector:
        assert source.name is not None
        if source.name not in self._collectors:
            self._collectors[source.name] = build_collector(source, self.config)
        return self._collectors[source.name]

    def run(
        self,
        *,
        now: datetime | None = None,
        since: timedelta | None = None,
        on_report: Callable[[SourceReport], None] | None = None,
    ) -> list[SourceReport]:
        end = now or utcnow()
        request = CollectRequest(
            start=end - (since or self.config.collect.since), end=end, last_bucket=self.store.last_bucket
        )
        reports: list[SourceReport] = []
        futures = {self._pool.submit(self._run_source, source, request): source for source in self.sources}
        for future in as_completed(futures):
            report = future.result()
            reports.append(report)
            if on_report:
                on_report(report)
        self._maybe_maintain(end)
        return sorted(reports, key=lambda r: r.source)

    def _run_source(self, source: AnySource, request: CollectRequest) -> SourceReport:
        name = source.name or source.type
        began = time.monotonic()
        try:
            collector = self._collector(source)
            result = collector.collect(request)
            self.store.upsert_functions(result.functions)
            written = self.store.write_samples(result.samples)
            # after the samples: a span is claimed only once what was read in it is stored
            self.store.record_coverage(result.coverage)
            # Errors and events after the samples: a view that reads both never shows a signature of a
            # minute whose error count it does not have yet.
            self.store.write_errors(result.errors)
            self.store.record_error_coverage(result.error_coverage)
            self.store.write_events(result.events)
            health = result.health or [
                CollectorHealth(name, source.type, utcnow(), True, functions=len(result.functions), samples=written)
            ]
            self.store.record_health(health)
        except Exception as exc:  # one failing source never sinks the others
            broken = as_store_error(exc, self.store.url)
            if broken is not None:
                # ...but the store failing (read-only, full, damaged) is no source's fault: the whole run fails,
                # instead of every source reporting 0 samples as if its cloud had gone quiet.
                raise broken from exc
            log.exception("source %s failed", name)
            message = one_line(exc)
            duration = time.monotonic() - began
            try:
                self.store.record_health(
                    [CollectorHealth(name, source.type, utcnow(), False, message, duration_s=duration)]
                )
            except Exception:
                log.exception("could not record health of %s", name)
            return SourceReport(name, source.type, 0, 0, duration, (message,))
        errors = tuple(f"{h.scope + ': ' if h.scope else ''}{h.error}" for h in health if not h.ok)
        return SourceReport(name, source.type, len(result.functions), written, time.monotonic() - began, errors)

    def _maybe_maintain(self, now: datetime) -> None:
        last = self.store.get_meta("last_maintenance")
        if last and now - datetime.fromisoformat(last) < _MAINTENANCE_EVERY:
            return
        try:
            result = self.store.maintain(now, self.config.store.retention, self.config.store.rollup_after)
            self.store.set_meta("last_maintenance", now.isoformat())
            log.info("maintenance: %s", result)
        except Exception:
            log.exception("store maintenance failed")
