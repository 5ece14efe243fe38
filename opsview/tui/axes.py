"""Chart axes as people read them: clock-time x ticks, round y ticks in the measure's unit, gaps left open.

Plain functions (no Textual, no plotext), so the detail charts' numbers are tested without drawing them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from opsview.schema import Sample

# Spacings for clock ticks, in seconds: whole minutes and hours people count in.
_TIME_STEPS: Final = (60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 21600, 43200, 86400)
_NICE: Final = (1.0, 2.0, 2.5, 5.0, 10.0)
TICK_LABEL_CELLS: Final = 8  # "12:05" plus room on either side, so neighbouring labels never touch

TickLabel = Callable[[float], str]
Unit = Literal["per_minute", "duration"]


@dataclass(frozen=True, slots=True)
class Ticks:
    positions: list[float]
    labels: list[str]


def time_ticks(start: datetime, end: datetime, width: int) -> Ticks:
    """Round UTC clock times ("12:05") within [start, end], as many as `width` cells hold apart."""
    lo, hi = start.timestamp(), end.timestamp()
    most = max(2, width // TICK_LABEL_CELLS)
    positions: list[float] = []
    step = _TIME_STEPS[-1]
    for step in _TIME_STEPS:
        positions = [float(t) for t in range(math.ceil(lo / step) * step, math.floor(hi) + 1, step)]
        if len(positions) <= most:
            break
    fmt = "%H:%M" if step < 86400 else "%m-%d"
    return Ticks(positions, [datetime.fromtimestamp(t, UTC).strftime(fmt) for t in positions])


def nice_top(peak: float) -> float:
    """The smallest round number (1, 2, 2.5 or 5 times a power of ten) at or above `peak`; 1 for nothing."""
    if peak <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(peak))
    return next(n * power for n in _NICE if n * power >= peak * (1 - 1e-9))


def value_ticks(top: float, rows: int, label: TickLabel) -> Ticks:
    """0, top and round values between, one per two rows of the chart at most (never below zero)."""
    intervals = max(1, min(4, rows // 2))
    step = top / intervals
    # fewer intervals when the step would not be round (2.5 over 3 intervals)
    while intervals > 1 and not _is_round(step):
        intervals -= 1
        step = top / intervals
    positions = [step * i for i in range(intervals + 1)]
    return Ticks(positions, [label(p) for p in positions])


def axis_ticks(unit: Unit, peak: float, rows: int, mark: float | None = None) -> tuple[float, Ticks]:
    """The top of a y axis from zero to `peak` and its labelled ticks, for a chart `rows` rows high.

    `mark` (a limit drawn as a line, e.g. the timeout) gets a label of its own on its row; a tick
    that would crowd it gives way to it, except zero.
    """
    label = rate_label if unit == "per_minute" else duration_label
    top = nice_top(max(peak, mark or 0.0))
    ticks = value_ticks(top, rows, label)
    if mark is None:
        return top, ticks
    # the rows a label needs to itself: one, or two when the chart is tall enough to spare them
    row = top / max(1, rows - 1) * (2 if rows >= 8 else 1)
    kept = [(p, t) for p, t in zip(ticks.positions, ticks.labels, strict=True) if p == 0 or abs(p - mark) >= row]
    return top, Ticks([p for p, _ in kept] + [mark], [t for _, t in kept] + [label(mark)])


def _is_round(value: float) -> bool:
    power = 10.0 ** math.floor(math.log10(value)) if value > 0 else 1.0
    return any(abs(value - n * power) < 1e-9 * power for n in _NICE)


def rate_label(value: float) -> str:
    """Calls per minute as an axis label: 0, 0.5, 40, 2.5k, 1.2M (three figures at most)."""
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}" if value != int(value) else str(int(value))


def duration_label(ms: float) -> str:
    """A duration as an axis label in the unit that reads best: 0, 250 ms, 1.5 s, 30 s, 2 min."""
    if ms == 0:
        return "0"
    if ms >= 120_000:
        return f"{ms / 60_000:.3g} min"
    if ms >= 1000:
        return f"{ms / 1000:.3g} s"
    return f"{ms:.3g} ms"


def segments(
    samples: Sequence[Sample], attr: str, step_s: int, *, per_minute_of: tuple[datetime, datetime] | None = None
) -> list[tuple[list[float], list[float]]]:
    """Runs of consecutive buckets that have `attr`, as (epoch seconds, values).

    A bucket without the measure ends a run, so the chart shows a gap where the provider reported
    nothing instead of a line drawn across it (or a zero). With `per_minute_of` (the window's start
    and end), counts become calls per minute of the bucket that lies in the window: the newest
    bucket is still filling and the oldest may start before the window, and as raw counts both
    would read as a drop in traffic.
    """
    runs: list[tuple[list[float], list[float]]] = []
    last: float | None = None
    for s in samples:
        value = getattr(s, attr)
        if value is None:
            last = None
            continue
        x = s.start.timestamp()
        if last is None or x - last > step_s:
            runs.append(([], []))
        if per_minute_of is not None:
            value = value / covered_minutes(x, step_s, *per_minute_of)
        runs[-1][0].append(x)
        runs[-1][1].append(float(value))
        last = x
    return runs


def covered_minutes(bucket: float, step_s: int, start: datetime, end: datetime) -> int:
    """Whole collected minutes of the bucket starting at epoch `bucket` inside [start, end), at least one.

    The minute still open at `end` is not counted (as for the sparklines): it is not collected yet.
    """
    first = max(bucket, math.ceil(start.timestamp() / 60) * 60)
    last = min(bucket + step_s, math.floor(end.timestamp() / 60) * 60)
    return max(1, int(last - first) // 60)
