"""Staying inside Cloud Logging's read quota: `entries.list` allows 60 calls per minute per project.

`CallLimiter` is a sliding-window limiter (one per project, kept across refreshes by the collector);
`with_backoff` retries a call that the API refused for load (429 RESOURCE_EXHAUSTED, 5xx).
Clock and sleep are injectable so tests run in no time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class CallLimiter:
    """At most `calls` acquisitions in any `per_s`-second window; thread-safe."""

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
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.per_s:
                    self._stamps.popleft()
                if len(self._stamps) < self.calls:
                    self._stamps.append(now)
                    return
                wait = self.per_s - (now - self._stamps[0])
            self.waited_s += wait
            self._sleep(wait)


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
        limiter.acquire()
        try:
            return call()
        except Exception as exc:
            if not is_retryable(exc) or attempt >= retries:
                raise
            delay = min(base_s * 2**attempt, 60.0)
            log.warning("Cloud Logging refused a call (%s); retrying in %.1fs", type(exc).__name__, delay)
            if on_retry is not None:
                on_retry(exc)
            sleep(delay)
            attempt += 1
