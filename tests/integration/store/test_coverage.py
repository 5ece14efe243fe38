"""Coverage in the store, on a real SQLite file and a real PostgreSQL server: what collections read, merged per
scope, trimmed by retention, and the rates the views derive from it (a minute never collected is unknown)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from opsview.collect import CollectionRunner
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.fleet import covered_time, fleet_status, function_detail
from opsview.schema import EVERY_REGION, Coverage, FunctionInfo, FunctionKey, Sample
from opsview.store import FleetFilter, Store, open_store

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AWS = ("aws", "111111111111", "us-east-1")
KEY = FunctionKey(*AWS, "checkout")


def minute(i: float) -> datetime:
    return T0 + timedelta(minutes=i)


def span(scope: tuple[str, str, str], first: float, last: float) -> Coverage:
    return Coverage(*scope, minute(first), minute(last))


def _rows(store: Store) -> int:
    return int(store._conn().execute("SELECT COUNT(*) FROM coverage").fetchone()[0])  # type: ignore[attr-defined]


def test_a_collector_refreshing_every_minute_keeps_one_interval_per_scope(store: Store) -> None:
    # each refresh re-reads the last few minutes (overlap), as the collectors do
    for i in range(30):
        store.record_coverage([span(AWS, max(0, i - 3), i + 1)])
    assert store.coverage(T0, minute(60)) == {AWS: 30 * 60.0}
    assert _rows(store) == 1


def test_a_gap_no_collection_read_stays_uncovered(store: Store) -> None:
    store.record_coverage([span(AWS, 0, 10), span(AWS, 20, 30)])
    store.record_coverage([span(AWS, 10, 12)])  # touching: joins the first interval
    assert store.coverage(T0, minute(30)) == {AWS: 22 * 60.0}
    assert store.coverage(minute(12), minute(20)) == {}  # an outage: nothing known, not zero traffic
    assert _rows(store) == 2
    store.record_coverage([span(AWS, 11, 21)])  # a late backfill bridges the gap
    assert store.coverage(T0, minute(30)) == {AWS: 30 * 60.0}
    assert _rows(store) == 1


def test_a_window_counts_covered_time_as_sample_reads_count_buckets(store: Store) -> None:
    """A bucket belongs to a window when it starts inside it: a window from 12:00:30 to 12:10:30 reads the
    buckets of 12:01 to 12:10, i.e. the ten minutes from 12:01 to 12:11."""
    store.record_coverage([span(AWS, 0, 60)])
    assert store.coverage(minute(0.5), minute(10.5)) == {AWS: 600.0}
    store.write_samples([Sample(key=KEY, start=minute(i), invocations=6) for i in range(60)])
    [row] = store.fleet(minute(0.5), minute(10.5))
    assert row.measures.invocations == 60  # ten buckets: 6 a minute over ten covered minutes


def test_filters_and_a_span_read_for_every_region(store: Store) -> None:
    gcp_a = FunctionKey("gcp", "proj", "us-central1", "indexer")
    gcp_b = FunctionKey("gcp", "proj", "europe-west1", "loader")
    store.upsert_functions([FunctionInfo(KEY), FunctionInfo(gcp_a), FunctionInfo(gcp_b)])
    store.record_coverage([
        span(AWS, 0, 60),
        Coverage("gcp", "proj", EVERY_REGION, minute(0), minute(30)),  # a project's logs: all its regions
        span(("gcp", "proj", "us-central1"), 20, 45),  # and one region read on its own as well
    ])
    assert store.coverage(T0, minute(60)) == {
        AWS: 3600.0, ("gcp", "proj", "us-central1"): 45 * 60.0, ("gcp", "proj", "europe-west1"): 30 * 60.0,
    }
    assert store.coverage(T0, minute(60), FleetFilter(provider="aws")) == {AWS: 3600.0}
    assert store.coverage(T0, minute(60), FleetFilter("gcp", "proj", "europe-west1")) == {
        ("gcp", "proj", "europe-west1"): 30 * 60.0}


def test_retention_trims_coverage_with_the_samples(store: Store) -> None:
    store.record_coverage([span(AWS, 0, 10), span(AWS, 20, 120)])
    now = minute(120)
    store.maintain(now, retention=timedelta(minutes=60), rollup_after=timedelta(days=7))
    assert store.coverage(T0, now) == {AWS: 3600.0}  # 12:00-12:10 dropped, 12:20-14:00 cut at 13:00
    assert _rows(store) == 1


def test_concurrent_writers_merge_without_losing_a_span(store: Store) -> None:
    """Sharded collectors write coverage at once (PostgreSQL: READ COMMITTED, several connections)."""
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: store.record_coverage([span(AWS, i, i + 1)]), range(40)))
    assert store.coverage(T0, minute(60)) == {AWS: 40 * 60.0}
    assert _rows(store) == 1


def test_a_store_from_before_coverage_keeps_its_rates(store: Store) -> None:
    """Upgrading: a store written before coverage was recorded counts each scope as collected from its first
    to its last sample (its old reading), rather than turning every rate unknown."""
    store.write_samples([Sample(key=KEY, start=minute(i), invocations=10) for i in range(10, 40)])
    with store._write() as conn:  # type: ignore[attr-defined]  # back to how the previous release left it
        for table in ("function_events", "error_watch", "error_counts", "error_signatures", "coverage"):
            conn.execute(f"DROP TABLE {table}")  # every table of migrations 5 (coverage) and later
        conn.execute("UPDATE schema_version SET version = 4")
    reopened = open_store(store.url)  # migrates
    try:
        assert reopened.coverage(T0, minute(60)) == {AWS: 30 * 60.0}
        [row] = fleet_status(reopened, Config().pricing, timedelta(minutes=60), minute(60))
        assert row.invocations_per_min == pytest.approx(10.0)
    finally:
        reopened.close()


END = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


def _six_hours_of_demo(store: Store) -> None:
    config = Config(sources=SourcesConfig(demo=[DemoSource(name="demo")]))
    with CollectionRunner(config, store) as runner:
        for hour in range(1, 7):  # as `opsview demo --hours 6` fills it: an hour at a time
            at = END - timedelta(hours=6) + timedelta(hours=hour)
            runner.run(now=at, since=at - (END - timedelta(hours=6)))


def test_six_hours_read_at_24h_give_the_rates_of_6h(store: Store) -> None:
    """The issue's case: `w` -> 24h showed a quarter of the traffic, as if the 18 uncollected hours had none."""
    _six_hours_of_demo(store)
    pricing = Config().pricing
    day = {s.key: s for s in fleet_status(store, pricing, timedelta(hours=24), END)}
    six = {s.key: s for s in fleet_status(store, pricing, timedelta(hours=6), END)}
    assert day.keys() == six.keys()
    busy = [k for k, s in six.items() if s.measures.invocations]
    assert len(busy) >= 50
    for key in busy:
        assert day[key].covered == timedelta(hours=6)
        assert day[key].invocations_per_min == pytest.approx(six[key].invocations_per_min, rel=1e-12)
        assert day[key].cost_per_hour == pytest.approx(six[key].cost_per_hour, rel=1e-12)
    spread = covered_time(day.values(), timedelta(hours=24))
    assert spread is not None
    assert spread.note == "6h of data"
    assert covered_time(six.values(), timedelta(hours=6)).note is None  # type: ignore[union-attr]
    detail = function_detail(store, pricing, busy[0], END - timedelta(hours=24), END, 3600)
    assert detail is not None
    assert detail.status.invocations_per_min == pytest.approx(six[busy[0]].invocations_per_min)
    assert {f.id: f.text for f in detail.calls()}["collected"] == "6h of 24h"
