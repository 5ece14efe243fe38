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


def test_ago_says_the_largest_whole_unit_and_dash_when_unknown() -> None:
    from datetime import timedelta

    assert fmt.ago(None) == "—"
    assert [fmt.ago(timedelta(seconds=s)) for s in (0, 59, 60, 3599, 3600, 86399, 86400 * 3)] == [
        "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "23h ago", "3d ago"]
    assert fmt.ago(timedelta(seconds=-5)) == "0s ago"  # a clock a little ahead is "now", not the future
