"""Staying inside the read quotas of Cloud Logging and Cloud Monitoring.

Quotas are charged to the **quota project** of the caller, not to the project being read: `entries.list`
allows 60 calls per minute per project (https://cloud.google.com/logging/quotas), and for client-based APIs
the quota project is the one named in the request (`x-goog-user-project`), else the credentials' own project
(https://cloud.google.com/docs/quotas/quota-project, https://cloud.google.com/docs/quotas/set-quota-project).
One identity reading four projects therefore shares one budget of 60 calls a minute.

`CallLimiter` is a sliding-window limiter; `QuotaLimiters` keeps one per (API, quota project) for the whole
process, so every project and every source charged to the same quota project waits on the same window.
`with_backoff` retries a call that the API refused for load (429 RESOURCE_EXHAUSTED, 5xx).
Clock and sleep are injectable so tests run in no time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class CallLimiter:
    """At most `calls` calls in any `per_s`-second window; thread-safe.

    A call holds its place from `acquire` until `release`, and is then stamped with the time it *finished*:
    the service counts it on arrival, which is no later, so a window measured from completion never runs ahead
    of the service's own, however long a call was in flight (and however many threads share the limiter)."""

    def __init__(
        self,
        calls: int,
        per_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be at least 1")
        self.calls = calls
        self.per_s = per_s
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._in_flight = 0
        self._released = threading.Condition(threading.Lock())
        self.waited_s = 0.0

    def acquire(self) -> None:
        while True:
            with self._released:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.per_s:
                    self._stamps.popleft()
                if len(self._stamps) + self._in_flight < self.calls:
                    self._in_flight += 1
                    return
                if not self._stamps:  # every place is held by a call in flight: wait for one to finish
                    self._released.wait()
                    continue
                wait = self.per_s - (now - self._stamps[0])
            self.waited_s += wait
            self._sleep(wait)

    def release(self) -> None:
        with self._released:
            self._in_flight -= 1
            self._stamps.append(self._clock())
            self._released.notify()

    @contextmanager
    def slot(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


class QuotaLimiters:
    """One `CallLimiter` per (API, quota project); the first source to name a pair sets its rate,
    a later one asking for fewer calls a minute lowers it (the quota is one, whoever reads)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._limiters: dict[tuple[str, str], CallLimiter] = {}
        self._lock = threading.Lock()

    def get(self, api: str, quota_project: str, calls_per_minute: int) -> CallLimiter:
        with self._lock:
            limiter = self._limiters.get((api, quota_project))
            if limiter is None:
                limiter = CallLimiter(calls_per_minute, 60.0, self._clock, self._sleep)
                self._limiters[(api, quota_project)] = limiter
            elif calls_per_minute < limiter.calls:
                limiter.calls = calls_per_minute
            return limiter


PROCESS_LIMITERS = QuotaLimiters()
"""The process-wide limiters: every GCP collector of this process shares them."""


def is_retryable(exc: BaseException) -> bool:
    """429 RESOURCE_EXHAUSTED and the 5xx a healthy API answers under load."""
    code = getattr(exc, "code", None)
    return code in (429, 500, 502, 503, 504)


def with_backoff(
    call: Callable[[], T],
    *,
    limiter: CallLimiter,
    retries: int,
    base_s: float,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `call` under `limiter`; on a retryable refusal wait base*2^n (capped at 60 s) and retry."""
    attempt = 0
    while True:
        try:
            with limiter.slot():
                return call()
        except Exception as exc:
            if not is_retryable(exc) or attempt >= retries:
                raise
            delay = min(base_s * 2**attempt, 60.0)
            log.warning("a Google API refused a call (%s); retrying in %.1fs", type(exc).__name__, delay)
            if on_retry is not None:
                on_retry(exc)
            sleep(delay)
            attempt += 1
