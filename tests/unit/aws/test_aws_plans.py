"""How a window is cut into GetMetricData segments and Logs Insights queries, checked against the services' rules.

- https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricStat.html (`Period`): a StartTime
  3 h-15 d old needs a multiple of 60 s, 15-63 d a multiple of 300 s, older a multiple of 3600 s; CloudWatch
  keeps 1-hour data 455 days (API_GetMetricData).
- https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html: at most 50 log
  groups a query; a query returns at most `limit` rows (10,000 here).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from opsview.collectors.aws.coldstarts import MAX_ROWS, ColdStartResult, ColdStats, QueryUnit, plan_queries
from opsview.collectors.aws.collector import _merge_cold
from opsview.collectors.aws.logsources import function_from_stream, group_readers, log_source
from opsview.collectors.aws.metrics import Segment, plan_segments
from opsview.schema import FunctionKey, Sample, from_epoch, to_epoch

NOW = datetime(2026, 6, 1, 12, 34, 56, tzinfo=UTC)


def _required_multiple(start: int, now: datetime) -> int:
    age = now - datetime.fromtimestamp(start, UTC)
    return 60 if age < timedelta(days=15) else 300 if age < timedelta(days=63) else 3600


@given(back=st.integers(min_value=0, max_value=500 * 24 * 60), length=st.integers(min_value=1, max_value=600 * 24 * 60),
       late=st.integers(min_value=0, max_value=9 * 60))
def test_segments_use_a_period_their_start_time_is_served_at(back: int, length: int, late: int) -> None:
    """However old the window, every segment's StartTime gets datapoints at its period, even if the request
    lands minutes after planning, and together the segments cover the window (back to 455 days)."""
    end = NOW.replace(second=0) - timedelta(minutes=back)
    start = end - timedelta(minutes=length)
    segments = plan_segments(start, end, NOW)
    sent_at = NOW + timedelta(seconds=late)
    for segment in segments:
        assert segment.period % _required_multiple(segment.start, sent_at) == 0
        assert segment.start % segment.period == 0
        assert segment.end % segment.period == 0
        assert segment.period in (60, 300, 3600)
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.end == after.start
    horizon = to_epoch(NOW - timedelta(days=455)) + 2 * 3600  # band edges sit on the next whole hour
    if segments:
        assert segments[0].start <= max(to_epoch(start), horizon)
        assert segments[-1].end >= to_epoch(end)
    else:
        assert to_epoch(end) <= horizon


def test_a_recent_window_is_one_segment_of_minutes() -> None:
    end = NOW.replace(second=0)
    assert plan_segments(end - timedelta(hours=6), end, NOW) == [
        Segment(to_epoch(end - timedelta(hours=6)), to_epoch(end), 60)]


def test_segment_buckets_count_from_their_start() -> None:
    segment = Segment(600, 600 + 3 * 300, 300)
    assert [segment.bucket(t) for t in (600, 899, 900, 1499)] == [600, 600, 900, 1200]


def _readers(default: int, shared: dict[str, int]) -> dict[str, object]:
    sources = [log_source(f"fn{i}", None) for i in range(default)]
    for group, writers in shared.items():
        sources += [log_source(f"{group}-w{i}", {"LogGroup": group}) for i in range(writers)]
    return group_readers(sources)  # type: ignore[return-value]


def _rows_bound(unit: QueryUnit, readers: dict[str, object]) -> int:
    bins = (unit.end - unit.start) // unit.bin_s
    return sum(len(readers[g].functions) if unit.by_stream else 1 for g in unit.groups) * bins  # type: ignore[attr-defined]


def test_queries_stay_below_the_row_cap_and_50_groups() -> None:
    readers = _readers(120, {"shop": 40, "ops": 3})
    segments = plan_segments(NOW - timedelta(days=20), NOW.replace(second=0), NOW)
    units = plan_queries(readers, segments)  # type: ignore[arg-type]
    for unit in units:
        assert len(unit.groups) <= 50
        assert _rows_bound(unit, readers) < MAX_ROWS
    covered: dict[str, int] = {}
    for unit in units:
        for group in unit.groups:
            covered[group] = covered.get(group, 0) + (unit.end - unit.start)
    window = segments[-1].end - segments[0].start
    assert covered == dict.fromkeys(readers, window)  # every group, over the whole window, exactly once


def test_logging_config_names_the_group_and_what_can_be_expected() -> None:
    assert log_source("a", None).group == "/aws/lambda/a"
    assert log_source("a", {"LogFormat": "Text", "LogGroup": "/aws/lambda/a"}).custom is False
    shared = log_source("a", {"LogFormat": "JSON", "LogGroup": "app", "SystemLogLevel": "INFO"})
    assert (shared.group, shared.custom, shared.readable) == ("app", True, True)
    quiet = log_source("a", {"LogFormat": "JSON", "SystemLogLevel": "WARN"})
    assert not quiet.readable
    assert function_from_stream("2024/05/01/orders[$LATEST]0a1b2c") == "orders"
    assert function_from_stream("2024/05/01/orders[7]0a1b2c") == "orders"
    assert function_from_stream("2024/05/01/[$LATEST]0a1b2c") is None


def test_cold_starts_merge_into_the_bucket_of_their_segment() -> None:
    """Minute bins of cold starts inside a 5-minute segment go to the 5-minute bucket that covers them; a
    bucket any part of which was not read keeps `None` rather than a partial count."""
    key = FunctionKey("aws", "1", "r", "fn")
    segment = Segment(3000, 3000 + 4 * 300, 300)
    samples = [Sample(key=key, start=from_epoch(t), period_s=300, invocations=10) for t in (3000, 3300, 3600, 3900)]
    cold = ColdStartResult(read={"fn"})
    cold.buckets[("fn", 3060)] = ColdStats(1, 100.0, 100.0)
    cold.buckets[("fn", 3240)] = ColdStats(3, 300.0, 400.0)
    cold.buckets[("fn", 3660)] = ColdStats(2, 50.0, 50.0)
    cold.mark_gap(["fn"], 3600, 3660)  # that query failed: the bucket at 3600 is not fully known
    merged = _merge_cold(samples, cold, {"fn": key}, [segment])
    assert [(to_epoch(s.start), s.cold_starts, s.init_avg_ms, s.init_p95_ms) for s in merged] == [
        (3000, 4, 250.0, 400.0), (3300, 0, None, None), (3600, None, None, None), (3900, 0, None, None)]
