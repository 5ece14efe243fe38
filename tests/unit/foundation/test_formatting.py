"""Numbers as the TUI, the status table and the web show them."""

from __future__ import annotations

from opsview import formatting as fmt


def test_unknown_is_a_dash_never_zero() -> None:
    assert {fmt.count(None), fmt.rate(None), fmt.percent(None), fmt.millis(None), fmt.usd(None)} == {fmt.MISSING}
    assert fmt.count(0) == "0"
    assert fmt.rate(0) == "0.00"


def test_rates_keep_their_decimals_so_a_column_lines_up() -> None:
    assert [fmt.rate(v) for v in (12, 14.7, 4, 4.07, 543, 0.4)] == ["12.0", "14.7", "4.00", "4.07", "543.0", "0.40"]
    assert fmt.rate(25_000) == "25.0k"


def test_counts_stay_whole() -> None:
    assert [fmt.count(v) for v in (12, 1_032, 25_000, 3_400_000)] == ["12", "1,032", "25.0k", "3.4M"]


def test_windows_are_named_as_people_say_them() -> None:
    """`opsview status --window 24h` used to title its table `last 1440m` (issue 15.13)."""
    from datetime import timedelta as td

    assert [fmt.window_label(w) for w in (td(minutes=5), td(minutes=90), td(hours=24), td(days=7), td(seconds=30))] == [
        "5m", "90m", "24h", "7d", "30s"]


def test_coverage_is_mentioned_only_when_it_falls_short_of_the_window() -> None:
    from datetime import timedelta as td

    day = td(hours=24)
    assert fmt.coverage_note(day, td(hours=6)) == "6h of data"
    assert fmt.coverage_note(day, td(hours=2, minutes=30), td(hours=6)) == "2h30m–6h of data"
    assert fmt.coverage_note(day, td(0)) == "no data collected"
    # the minute or two a live view has not collected yet is not worth a note
    assert fmt.coverage_note(td(minutes=15), td(minutes=14)) is None
    assert fmt.coverage_note(day, day - td(minutes=10)) is None  # within 1%
    assert fmt.coverage_note(day, day - td(minutes=15)) == "23h45m of data"  # never rounded up to the window
    assert fmt.coverage_note(td(hours=1), td(minutes=50)) == "50m of data"
    assert fmt.covered_of(day, td(hours=6)) == "6h of 24h"
    assert fmt.covered_of(day, td(hours=23, minutes=59)) == "all 24h"
    assert [fmt.span(td(minutes=m, seconds=59)) for m in (45, 330, 14 * 60 + 20, 76 * 60)] == [
        "45m", "5h30m", "14h20m", "3d4h"]
