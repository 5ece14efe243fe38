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


def test_alert_values_read_in_their_unit() -> None:
    shown = {
        ("error_rate", 0.2204): "22.0 %",
        ("cold_start_rate", 0.0004): "0.040 %",  # small, never "0.0 %"
        ("duration_p99_ms", 850): "850 ms",
        ("duration_p99_ms", 2599.4): "2.60 s",
        ("duration_max_ms", 900_000): "15.0 min",
        ("cost_usd", 0.0042): "$0.0042",  # a threshold reads exactly, not "<$0.01"
        ("cost_usd", 12.5): "$12.50",
        ("throttles", 12_345): "12,345",  # counts stay whole, never "12.3k"
        ("timeout_ratio", 0.85): "85.0 % of timeout",
        ("memory_used_max_mb", 512): "512 MB",
        (None, 0.212766): "0.2128",  # a rule gone from the config: the plain number
    }
    assert {key: fmt.measure_text(*key) for key in shown} == shown
    assert fmt.measure_text("error_rate", None) == fmt.MISSING
    assert fmt.measure_text("error_rate", None, missing="no data") == "no data"


def test_condition_states_what_holds_with_the_proper_symbol() -> None:
    assert fmt.condition_text("error_rate", 0.2204, ">", 0.05, "firing") == "22.0 % > 5.0 %"
    assert fmt.condition_text("error_rate", 0.0, ">", 0.05, "resolved") == "0.0 % ≤ 5.0 %"
    assert fmt.condition_text("duration_p99_ms", 900, ">=", 1000, "resolved") == "900 ms < 1.00 s"
    assert fmt.condition_text("invocations", 12, "==", 0, "resolved") == "12 ≠ 0"
    assert fmt.condition_text("timeout_ratio", 0.85, ">", 0.8, "firing") == "85.0 % > 80.0 % of timeout"
    assert fmt.condition_text("throttles", None, ">", 0, "firing") == "no data"
    # resolved for another reason (`previous`, M of N, no longer matched): it does not read as still alerting
    assert fmt.condition_text("error_rate", 0.2, ">", 0.05, "resolved") == "20.0 % > 5.0 % (no longer alerting)"


def test_two_different_numbers_never_read_the_same() -> None:
    assert fmt.condition_text("error_rate", 0.0504, ">", 0.05) == "5.04 % > 5.00 %"
    assert fmt.condition_text("duration_p99_ms", 1000.4, ">", 1000) == "1.0004 s > 1.0000 s"
    assert fmt.condition_text("error_rate", 0.05, ">=", 0.05) == "5.0 % ≥ 5.0 %"


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


def test_ago_says_the_largest_whole_unit_and_dash_when_unknown() -> None:
    from datetime import timedelta

    assert fmt.ago(None) == "—"
    assert [fmt.ago(timedelta(seconds=s)) for s in (0, 59, 60, 3599, 3600, 86399, 86400 * 3)] == [
        "0s ago", "59s ago", "1m ago", "59m ago", "1h ago", "23h ago", "3d ago"]
    assert fmt.ago(timedelta(seconds=-5)) == "0s ago"  # a clock a little ahead is "now", not the future
