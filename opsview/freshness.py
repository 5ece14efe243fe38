"""How fresh the store's data is: one rule for the TUI's header, the web's status line and `/healthz`.

Data is STALE when no source has collected successfully for more than STALE_AFTER_INTERVALS collect
intervals (or ever): one missed collection is noise, three in a row mean the collector is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from opsview.schema import CollectorHealth

STALE_AFTER_INTERVALS: Final = 3


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A source (or one scope of it) whose latest collection failed."""

    source: str
    scope: str
    error: str
    at: datetime

    @property
    def label(self) -> str:
        return f"{self.source}/{self.scope}" if self.scope else self.source


def source_problems(health: Sequence[CollectorHealth]) -> list[SourceProblem]:
    return [
        SourceProblem(h.source, h.scope, h.error or "failed without a message", h.at) for h in health if not h.ok
    ]


def last_success(health: Sequence[CollectorHealth]) -> datetime | None:
    """When data last arrived: the newest successful collection of any source."""
    times = [h.at for h in health if h.ok]
    return max(times) if times else None


def is_stale(last: datetime | None, now: datetime, interval: timedelta) -> bool:
    """Older than STALE_AFTER_INTERVALS refresh intervals, or never collected at all."""
    return last is None or now - last > interval * STALE_AFTER_INTERVALS


def age_text(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"


@dataclass(frozen=True, slots=True)
class Freshness:
    """The store's latest collector health, judged at `now`."""

    now: datetime
    last_success: datetime | None
    stale: bool
    problems: tuple[SourceProblem, ...]

    @classmethod
    def of(cls, health: Sequence[CollectorHealth], now: datetime, interval: timedelta) -> Freshness:
        last = last_success(health)
        return cls(now, last, is_stale(last, now, interval), tuple(source_problems(health)))

    def text(self) -> str:
        """"STALE data as of 12:00:00 UTC (43m00s ago)", as the TUI's header says it."""
        if self.last_success is None:
            return "STALE no successful collection yet"
        when = self.last_success.strftime("%H:%M:%S UTC")
        return f"{'STALE ' if self.stale else ''}data as of {when} ({age_text(self.now - self.last_success)} ago)"
