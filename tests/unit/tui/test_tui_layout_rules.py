"""The rules behind what the TUI draws, as plain functions: which columns a width keeps, the totals line,
and the detail charts' axes (clock times, round labels in the measure's unit, gaps for missing buckets)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from rich.cells import cell_len

from opsview.schema import FunctionKey, Measures, Sample
from opsview.tui.axes import axis_ticks, duration_label, nice_top, rate_label, segments, time_ticks, value_ticks
from opsview.tui.model import FleetSnapshot, FleetTableView, SortColumn
from opsview.tui.widgets.cells import SORT_COLUMN, fit_columns
from opsview.tui.widgets.fleet_header import totals_line

NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)
KEY = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")


@pytest.mark.parametrize("sort", list(SortColumn))
@pytest.mark.parametrize("width", [60, 78, 100, 118, 160])
def test_the_sorted_column_survives_any_width(sort: SortColumn, width: int) -> None:
    kept = fit_columns(width, keep=SORT_COLUMN[sort])
    keys = [spec.key for spec, _ in kept]
    assert SORT_COLUMN[sort] in keys
    assert sum(w for _, w in kept) <= width
    # it took the place of one other column at most
    assert len({spec.key for spec, _ in fit_columns(width)} - set(keys)) <= 1


def test_at_80_columns_sorting_by_cold_starts_keeps_its_column() -> None:
    plain = [spec.key for spec, _ in fit_columns(78)]
    assert "cold" not in plain, "cold starts is among the first columns to go"
    kept = [spec.key for spec, _ in fit_columns(78, keep="cold")]
    assert "cold" in kept
    assert set(plain) <= set(kept)


def _snapshot(window: timedelta) -> FleetSnapshot:
    totals = {
        "aws": Measures(invocations=67_500, errors=472),
        "azure": Measures(invocations=15_000, errors=45),
        "gcp": Measures(invocations=27_000, errors=108),
    }
    return FleetSnapshot(view=FleetTableView(window=window), read_at=NOW, statuses=(), sparks={}, health=(),
                         totals=totals, counts={"aws": 24, "azure": 18, "gcp": 18},
                         per_minute={p: m.invocations / (window.total_seconds() / 60) for p, m in totals.items()
                                     if m.invocations is not None})


def test_totals_line_fits_its_width_dropping_function_counts_before_cutting() -> None:
    snap = _snapshot(timedelta(minutes=15))
    wide = totals_line(snap, 116)
    assert wide == "aws 24 fn 4.5k/min err 0.7% │ azure 18 fn 1.0k/min err 0.3% │ gcp 18 fn 1.8k/min err 0.4%"
    narrow = totals_line(snap, 76)
    assert narrow == "aws 4.5k/min err 0.7% │ azure 1.0k/min err 0.3% │ gcp 1.8k/min err 0.4%"
    tiny = totals_line(snap, 30)
    assert cell_len(tiny) == 30
    assert tiny.endswith("…")


def test_clock_ticks_are_round_utc_times_inside_the_window() -> None:
    ticks = time_ticks(NOW - timedelta(minutes=15), NOW, 30)
    assert ticks.labels == ["11:55", "12:00", "12:05"]
    wide = time_ticks(NOW - timedelta(minutes=15), NOW, 100)
    assert len(wide.labels) > 3
    assert all(re.fullmatch(r"\d\d:\d\d", t) for t in wide.labels)
    day = time_ticks(NOW - timedelta(hours=24), NOW, 40)
    assert all(t.endswith(":00") for t in day.labels)
    assert all((NOW - timedelta(hours=24)).timestamp() <= p <= NOW.timestamp() for p in day.positions)


@pytest.mark.parametrize(("ms", "text"), [(0, "0"), (250, "250 ms"), (1500, "1.5 s"), (30_000, "30 s"),
                                          (50_000, "50 s"), (300_000, "5 min")])
def test_duration_labels_read_in_their_unit(ms: float, text: str) -> None:
    assert duration_label(ms) == text


@pytest.mark.parametrize(("value", "text"), [(0, "0"), (1, "1"), (40, "40"), (2500, "2.5k"), (1_200_000, "1.2M")])
def test_rate_labels_are_whole_and_short(value: float, text: str) -> None:
    assert rate_label(value) == text


def test_value_ticks_start_at_zero_and_are_round() -> None:
    assert nice_top(0) == 1
    assert nice_top(29_800) == 50_000
    assert nice_top(7) == 10
    ticks = value_ticks(nice_top(29_800), 12, duration_label)
    assert ticks.labels[0] == "0"
    assert ticks.labels[-1] == "50 s"
    assert all(p >= 0 for p in ticks.positions)
    assert value_ticks(1, 12, rate_label).labels == ["0", "0.25", "0.5", "0.75", "1"]


def test_a_limit_line_gets_its_own_label_and_zero_stays() -> None:
    top, ticks = axis_ticks("duration", 29_800, 4, mark=30_000)
    assert top == 50_000
    assert "30 s" in ticks.labels
    assert "0" in ticks.labels
    # no two labels on one row: 25 s would sit on the timeout's row
    assert "25 s" not in ticks.labels
    top, ticks = axis_ticks("per_minute", 3, 8)
    assert (top, ticks.labels) == (5, ["0", "2.5", "5"])


def test_a_bucket_without_the_measure_leaves_a_gap() -> None:
    start = NOW.replace(second=0) - timedelta(minutes=5)
    samples = [Sample(key=KEY, start=start + timedelta(minutes=i), invocations=v)
               for i, v in enumerate([3, 4, None, 5])]
    samples.append(Sample(key=KEY, start=start + timedelta(minutes=6), invocations=2))  # minute 5 never reported
    runs = segments(samples, "invocations", 60)
    assert [ys for _, ys in runs] == [[3.0, 4.0], [5.0], [2.0]]


def test_counts_become_per_minute_rates_of_the_minutes_the_window_covers() -> None:
    """Steady traffic of 10 calls a minute, in 6-minute buckets over 11:55:30-12:07:30.

    The first bucket holds 11:56-11:59 (4 minutes), the last only 12:06 (12:07 is still open): as raw
    counts (40, 60, 10) the chart would show traffic dropping; per minute it is flat."""
    start, end = datetime(2025, 3, 4, 11, 55, 30, tzinfo=UTC), datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)
    buckets = [datetime(2025, 3, 4, 11, 54, tzinfo=UTC) + timedelta(minutes=6 * i) for i in range(3)]
    samples = [Sample(key=KEY, start=b, invocations=n) for b, n in zip(buckets, [40, 60, 10], strict=True)]
    ((_, rates),) = segments(samples, "invocations", 360, per_minute_of=(start, end))
    assert rates == [10.0, 10.0, 10.0]
