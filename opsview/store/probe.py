"""What a health endpoint (`/healthz` of the web and of the exporter) answers about its store.

A cheap probe on every request: a fresh connection reads the header, the schema version and the
newest health entry, which catches a file replaced or overwritten under the server and a schema
migrated by a newer opsview. A page damaged where those reads do not look is found only by reading
every page (SQLite's quick_check: ~0.2 s per 100 MB), so that runs at most every `thorough_every`,
on a thread of its own: a load balancer's request never waits for it, except the first, which waits
so a server started on a damaged file never answers healthy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from opsview.store.base import SampleStore
from opsview.store.errors import as_store_error

log = logging.getLogger(__name__)

THOROUGH_EVERY = timedelta(minutes=5)


class StoreProbe:
    """`problem()` is None while the store is usable, else the one line that says why not."""

    def __init__(self, store: SampleStore, thorough_every: timedelta = THOROUGH_EVERY,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._store = store
        self._every = thorough_every.total_seconds()
        self._clock = clock
        self._lock = threading.Lock()
        self._started_at: float | None = None  # of the last thorough check
        self._running: threading.Thread | None = None
        self._verdict: str | None = None  # of the last thorough check that finished

    def problem(self) -> str | None:
        quick = self._check(thorough=False)
        if quick is not None:
            return quick
        with self._lock:
            first = self._started_at is None
            due = first or self._clock() - (self._started_at or 0.0) >= self._every
            if due and self._running is None:
                self._started_at = self._clock()
                self._running = threading.Thread(target=self._thorough, name="opsview-store-probe", daemon=True)
                self._running.start()
            running = self._running
        if first and running is not None:
            running.join()
        return self._verdict

    def _thorough(self) -> None:
        verdict = self._check(thorough=True)
        with self._lock:
            self._verdict = verdict
            self._running = None

    def _check(self, *, thorough: bool) -> str | None:
        try:
            self._store.probe(thorough=thorough)
        except Exception as exc:
            broken = as_store_error(exc, self._store.url)
            if broken is None:
                log.exception("store probe failed")
                return f"{self._store.url}: store probe failed ({type(exc).__name__})"
            log.warning("store unusable: %s", broken)
            return str(broken)
        return None
