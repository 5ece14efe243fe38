"""Store reads shared by the requests and callbacks of one view for a few seconds.

A page load asks for the same aggregates from several places (the prefetch started by the page
request, the page's callback), and switching the provider filter back and forth asks for data
already read. Each read is keyed by what determines its result; a read in flight is joined rather
than started again, and a finished one is reused for `ttl_s` (shorter than the shortest
auto-refresh, so a refresh always sees new samples).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

DEFAULT_TTL_S = 15.0


class ReadCache:
    def __init__(self, ttl_s: float = DEFAULT_TTL_S, max_entries: int = 32, workers: int = 3,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Future[Any]]] = OrderedDict()
        self._lock = threading.Lock()
        # Threads, not processes: SQLite and psycopg release the GIL while a query runs, so the
        # independent reads of one view overlap on a multi-core host.
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="opsview-web-read")
        self._closed = False

    def submit(self, key: Hashable, compute: Callable[[], T]) -> Future[T]:
        """The pending or fresh result for `key`, starting `compute` in the pool if there is none."""
        now = self._clock()
        with self._lock:
            if self._closed:
                return _run_now(compute)
            hit = self._entries.get(key)
            if hit is not None and (not hit[1].done() or now - hit[0] < self._ttl_s) and not _failed(hit[1]):
                self._entries.move_to_end(key)
                return hit[1]
            future: Future[T] = self._pool.submit(compute)
            self._entries[key] = (now, future)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
            return future

    def has(self, key: Hashable) -> bool:
        """Whether `key` is being read or was read within ttl_s (a caller may then prefer it)."""
        now = self._clock()
        with self._lock:
            hit = self._entries.get(key)
            return hit is not None and (not hit[1].done() or now - hit[0] < self._ttl_s) and not _failed(hit[1])

    def put(self, key: Hashable, value: T) -> None:
        """Keep `value` for `key` (a result computed elsewhere, e.g. by a background task)."""
        future: Future[T] = Future()
        future.set_result(value)
        with self._lock:
            if self._closed:
                return
            self._entries[key] = (self._clock(), future)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        return self.submit(key, compute).result()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        """Wait for reads still running (a page's prefetch outlives its request), so the store can
        be closed safely after; later reads run in the caller's thread, uncached."""
        with self._lock:
            self._closed = True
            self._entries.clear()
        self._pool.shutdown(wait=True)


def _run_now(compute: Callable[[], T]) -> Future[T]:
    future: Future[T] = Future()
    try:
        future.set_result(compute())
    except Exception as exc:
        future.set_exception(exc)
    return future


def _failed(future: Future[Any]) -> bool:
    # A failed read is retried by the next caller instead of replaying the error for ttl_s.
    return future.done() and future.exception() is not None
