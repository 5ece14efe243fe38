"""What the terminal UI shows, as plain data: the view the user chose and the fleet it was read into.

Nothing here imports Textual, so filtering, sorting and staleness are tested as functions and the
thread worker can build a whole snapshot without touching a widget.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final

from opsview.fleet import CoveredTime, FunctionStatus
from opsview.formatting import window_label as window_label  # one spelling for every view
from opsview.freshness import (  # the freshness rule is shared with the web and /healthz; re-exported here
    STALE_AFTER_INTERVALS as STALE_AFTER_INTERVALS,
)
from opsview.freshness import SourceProblem as SourceProblem
from opsview.freshness import age_text as age_text
from opsview.freshness import is_stale as is_stale
from opsview.freshness import last_success as last_success
from opsview.freshness import source_problems
from opsview.schema import CollectorHealth, FunctionKey, Measures

WINDOWS: Final[tuple[timedelta, ...]] = (
    timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=6), timedelta(hours=24),
)
PROVIDERS: Final[Mapping[str, str | None]] = {"aws": "aws", "azure": "azure", "gcp": "gcp", "all": None}

# Sparklines cover the last hour in SPARK_POINTS buckets of SPARK_STEP_S, the newest one partial.
SPARK_POINTS: Final = 10
SPARK_STEP_S: Final = 360

Sparks = tuple[Sequence[float | None], Sequence[float | None]]  # invocations and errors per sparkline bucket


class SortColumn(enum.Enum):
    """Columns `s` cycles through, with the label the header shows."""

    FUNCTION = "function"
    INVOCATIONS = "inv/min"
    ERROR_RATE = "err %"
    THROTTLES = "throttles"
    COLD_STARTS = "cold %"
    P99 = "p99"
    COST = "$/h"


_SORT_VALUE: Final[Mapping[SortColumn, Callable[[FunctionStatus], float | int | None]]] = {
    SortColumn.INVOCATIONS: lambda s: s.invocations_per_min,
    SortColumn.ERROR_RATE: lambda s: s.error_rate,
    SortColumn.THROTTLES: lambda s: s.measures.throttles,
    SortColumn.COLD_STARTS: lambda s: s.cold_start_rate,
    SortColumn.P99: lambda s: s.measures.duration_p99_ms,
    SortColumn.COST: lambda s: s.cost_per_hour,
}


def next_window(window: timedelta) -> timedelta:
    """The next larger preset, wrapping to the smallest (a custom --window joins the cycle at its place)."""
    larger = [w for w in WINDOWS if w > window]
    return larger[0] if larger else WINDOWS[0]


@dataclass(frozen=True, slots=True)
class FleetTableView:
    """What the user chose for the fleet table (window, provider, search text, sort); kept across refreshes.

    The detail screen shows a function over the same window."""

    window: timedelta = timedelta(minutes=15)
    provider: str | None = None
    text: str = ""
    sort: SortColumn = SortColumn.ERROR_RATE
    descending: bool = True

    def cycle_sort(self) -> FleetTableView:
        columns = list(SortColumn)
        column = columns[(columns.index(self.sort) + 1) % len(columns)]
        # names read naturally A→Z; every measure reads worst-first
        return replace(self, sort=column, descending=column is not SortColumn.FUNCTION)

    def sort_label(self) -> str:
        return f"{self.sort.value} {'↓' if self.descending else '↑'}"


def matches(key: FunctionKey, text: str) -> bool:
    """Case-insensitive substring of `provider/account/region/name`, or a glob when it has `*?[`."""
    needle = text.strip().lower()
    if not needle:
        return True
    haystack, name = _search_text(key)
    if any(ch in needle for ch in "*?["):
        return fnmatchcase(haystack, needle) or fnmatchcase(name, needle)
    return needle in haystack


@lru_cache(maxsize=1 << 16)
def _search_text(key: FunctionKey) -> tuple[str, str]:
    # kept across keystrokes and refreshes: otherwise formatting 5,000 keys is most of a filter keystroke
    return str(key).lower(), key.name.lower()


def visible_rows(rows: Sequence[FunctionStatus], view: FleetTableView) -> list[FunctionStatus]:
    """Filter then sort. Functions without a value sort last in either direction."""
    chosen = [r for r in rows if matches(r.key, view.text)] if view.text.strip() else list(rows)
    if view.sort is SortColumn.FUNCTION:
        chosen.sort(key=lambda r: r.key, reverse=view.descending)
        return chosen
    value_of = _SORT_VALUE[view.sort]
    known = [(v, r) for r in chosen if (v := value_of(r)) is not None]
    unknown = sorted((r for r in chosen if value_of(r) is None), key=lambda r: r.key)
    # ties broken by name so the order is stable from one refresh to the next
    known.sort(key=lambda pair: pair[1].key)
    known.sort(key=lambda pair: pair[0], reverse=view.descending)
    return [r for _, r in known] + unknown


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """One read of the store, built in a thread and applied to the screen in one go."""

    view: FleetTableView
    read_at: datetime
    statuses: tuple[FunctionStatus, ...]
    sparks: Mapping[FunctionKey, Sparks]  # empty until the sparkline read lands
    health: tuple[CollectorHealth, ...]
    totals: Mapping[str, Measures] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # functions per provider
    per_minute: Mapping[str, float | None] = field(default_factory=dict)  # invocations/min per provider
    covered: CoveredTime | None = None  # how much of the window the store collected (None: no functions)

    @property
    def problems(self) -> list[SourceProblem]:
        return source_problems(self.health)

    @property
    def last_success(self) -> datetime | None:
        return last_success(self.health)


def spark_grid(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the sparkline buckets, aligned so every refresh lands on the same grid."""
    epoch = int(now.timestamp())
    first = epoch - epoch % SPARK_STEP_S - (SPARK_POINTS - 1) * SPARK_STEP_S
    return datetime.fromtimestamp(first, now.tzinfo), now


def spark_values(
    series: Sequence[tuple[datetime, Measures]], start: datetime, end: datetime, attr: str
) -> list[float | None]:
    """Per-minute rate in each grid bucket, so the newest, partial bucket does not look like a drop.

    A bucket the store has nothing for stays None (drawn blank, not as zero).
    """
    out: list[float | None] = [None] * SPARK_POINTS
    base = int(start.timestamp())
    # only whole minutes are collected, so the open minute does not count toward the newest bucket
    last_minute = int(end.timestamp()) // 60 * 60
    for at, measures in series:
        index = (int(at.timestamp()) - base) // SPARK_STEP_S
        value: Any = getattr(measures, attr)
        if 0 <= index < SPARK_POINTS and value is not None:
            bucket_start = base + index * SPARK_STEP_S
            minutes = max(1, min(SPARK_STEP_S, last_minute - bucket_start) // 60)
            out[index] = float(value) / minutes
    return out
