"""Error signatures, error coverage and function events on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw
import pytest

from opsview.error_records import (
    ErrorCoverage,
    ErrorObservation,
    EventDetail,
    EventKind,
    FunctionEvent,
)
from opsview.schema import FunctionKey, Sample
from opsview.signatures import MAX_SAMPLE_BYTES
from opsview.store import FleetFilter, SQLiteStore, Store
from opsview.store.migrations import LATEST_VERSION, MIGRATIONS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PAY = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
IDX = FunctionKey("gcp", "shop", "us-central1", "search-indexer")
TIMEOUT = "Task timed out after <n> seconds"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def key_error(
    key: FunctionKey, minutes: float, name: str, count: int = 1, request: str | None = None
) -> ErrorObservation:
    return ErrorObservation.of(key, at(minutes), "KeyError", f"'{name}'", count=count,
                               sample=f"KeyError: '{name}'", sample_id=request)


def timeout(key: FunctionKey, minutes: float, count: int = 1) -> ErrorObservation:
    return ErrorObservation.of(key, at(minutes), None, "Task timed out after 30.00 seconds", count=count)


def watched(store: Store, *keys: FunctionKey, since: float = -120, until: float = 180) -> None:
    store.record_error_coverage([ErrorCoverage(keys, at(since), at(until))])


def test_a_recollected_minute_replaces_its_count_and_repeats_in_one_batch_add_up(store: Store) -> None:
    watched(store, PAY)
    store.write_errors([key_error(PAY, 1, "user_1"), key_error(PAY, 1.5, "user_2"), key_error(PAY, 2, "user_3")])
    # the next refresh looks back over minute 2, which by then holds 5 occurrences: 5, not 1 + 5
    store.write_errors([key_error(PAY, 2, "user_9", count=5)])
    [top] = store.top_errors(PAY, T0, at(60))
    assert top.signature == "KeyError: <str>"
    assert top.count == 2 + 5
    assert store.error_counts(PAY, top.signature, T0, at(60)) == [(at(1), 2), (at(2), 5)]


def test_first_and_last_seen_only_widen_and_the_newest_sample_wins(store: Store) -> None:
    watched(store, PAY)
    store.write_errors([key_error(PAY, 10.2, "cart_7", request="req-new")])
    store.write_errors([key_error(PAY, 3.5, "cart_1", request="req-old")])  # an older minute collected late
    [top] = store.top_errors(PAY, T0, at(60))
    assert top.first_seen == at(3)
    assert top.last_seen == at(10.2)
    assert (top.sample, top.sample_id, top.sample_at) == ("KeyError: 'cart_7'", "req-new", at(10.2))


def test_distinct_failures_are_listed_apart_most_frequent_first(store: Store) -> None:
    watched(store, PAY)
    store.write_errors([timeout(PAY, i, count=3) for i in range(5)] + [key_error(PAY, i, f"k{i}") for i in range(4)])
    tops = store.top_errors(PAY, T0, at(60))
    assert [(t.signature, t.count) for t in tops] == [(TIMEOUT, 15), ("KeyError: <str>", 4)]
    assert [t.signature for t in store.top_errors(PAY, T0, at(60), limit=1)] == [TIMEOUT]
    assert store.top_errors(PAY, at(10), at(60)) == []  # nothing occurred in that window


def test_new_means_first_seen_inside_the_window_of_a_function_watched_before_it(store: Store) -> None:
    watched(store, PAY, since=-600)
    store.write_errors([timeout(PAY, -300), timeout(PAY, 20), key_error(PAY, 25, "currency")])
    window = (at(0), at(60))
    news = {s.signature: s.new for s in store.top_errors(PAY, *window)}
    assert news == {TIMEOUT: False, "KeyError: <str>": True}
    [fresh] = store.fleet_errors(*window, new_only=True)
    assert (fresh.key, fresh.signature, fresh.count) == (PAY, "KeyError: <str>", 1)


@pytest.mark.parametrize(("watched_since", "new"), [(0, None), (-54, None), (-55, True)])
def test_new_needs_a_window_of_watching_before_the_window(store: Store, watched_since: float, new: bool | None) -> None:
    """A fresh store (or a new source) sees every signature for the first time: that is not news. New in the
    last hour means not seen in (at least) the hour before it first appeared (at minute 5 here)."""
    watched(store, IDX, since=watched_since)
    store.write_errors([timeout(IDX, 5)])
    [summary] = store.top_errors(IDX, at(0), at(60))
    assert summary.new is new
    assert len(store.fleet_errors(at(0), at(60), new_only=True)) == (1 if new else 0)


def test_fleet_errors_filter_by_provider_keys_and_min_count(store: Store) -> None:
    watched(store, PAY, IDX)
    store.write_errors([timeout(PAY, 1, count=4), timeout(IDX, 1, count=2), key_error(IDX, 2, "x")])
    everything = store.fleet_errors(T0, at(60))
    assert [(s.key, s.signature, s.count) for s in everything] == [
        (PAY, TIMEOUT, 4), (IDX, TIMEOUT, 2), (IDX, "KeyError: <str>", 1),
    ]
    assert {s.key for s in store.fleet_errors(T0, at(60), FleetFilter(provider="gcp"))} == {IDX}
    assert {s.key for s in store.fleet_errors(T0, at(60), keys=[PAY])} == {PAY}
    assert [s.count for s in store.fleet_errors(T0, at(60), min_count=2)] == [4, 2]
    assert len(store.fleet_errors(T0, at(60), limit=2)) == 2


def test_coverage_tells_no_errors_from_errors_not_collected(store: Store) -> None:
    watched(store, PAY, since=0, until=30)
    watched(store, PAY, since=20, until=90)  # a later refresh widens the span
    coverage = store.error_coverage()
    assert coverage == {PAY: (at(0), at(90))}
    assert store.top_errors(PAY, T0, at(60)) == []  # watched, nothing found: no errors
    assert IDX not in store.error_coverage([IDX, PAY])  # never searched: unknown


def test_samples_are_capped_and_hostile_text_is_stored(store: Store) -> None:
    watched(store, PAY)
    huge = "ValueError: bad row \x00 \ud800 " + "é" * 5000
    store.write_errors([ErrorObservation.of(PAY, at(1), "ValueError", huge, sample_id="r\x00" + "x" * 500)])
    [top] = store.top_errors(PAY, T0, at(60))
    assert top.sample is not None
    assert len(top.sample.encode()) <= MAX_SAMPLE_BYTES
    assert top.sample.endswith("…")
    assert "\x00" not in top.sample
    assert top.sample_id is not None
    assert len(top.sample_id) <= 200
    assert top.signature.startswith("ValueError: bad row")


def test_events_are_kept_once_and_read_by_function_kind_and_time(store: Store) -> None:
    deploy = FunctionEvent(PAY, at(5), EventKind.DEPLOY, EventDetail(version="41", code_sha="abc="))
    later = FunctionEvent(PAY, at(50), EventKind.DEPLOY, EventDetail(version="42", code_sha="def="))
    start = FunctionEvent(IDX, at(7), EventKind.INSTANCE_START, EventDetail(revision="idx-00042-abc",
                                                                           reason="DEPLOYMENT_ROLLOUT"))
    store.write_events([deploy, start])
    store.write_events([deploy, later])  # the next discovery reports the same deploy again
    assert store.events(PAY, T0, at(60)) == [deploy, later]
    assert store.events(PAY, T0, at(60), kinds=[EventKind.INSTANCE_START]) == []
    assert store.fleet_events(T0, at(60)) == [deploy, start, later]
    assert store.fleet_events(T0, at(60), FleetFilter(provider="gcp")) == [start]
    assert store.last_events(EventKind.DEPLOY, at(30)) == {PAY: deploy}
    assert store.last_events(EventKind.DEPLOY, at(60)) == {PAY: later}


def test_maintenance_rolls_counts_into_hours_and_forgets_past_retention(store: Store) -> None:
    watched(store, PAY, since=-60, until=600)
    store.write_errors([timeout(PAY, m, count=2) for m in range(0, 180, 7)])
    store.write_events([FunctionEvent(PAY, at(5), EventKind.DEPLOY, EventDetail(version="1"))])
    before = store.top_errors(PAY, T0, at(180))[0].count
    result = store.maintain(T0 + timedelta(days=8), retention=timedelta(days=30), rollup_after=timedelta(days=7))
    assert result.rolled_up_error_counts == 3  # three hours of minutes
    [after] = store.top_errors(PAY, T0, at(180))
    assert after.count == before  # a rollup keeps the totals
    assert store.error_counts(PAY, TIMEOUT, T0, at(180), step_s=3600) == [
        (at(0), 18), (at(60), 18), (at(120), 16),
    ]
    gone = store.maintain(T0 + timedelta(days=40), retention=timedelta(days=30), rollup_after=timedelta(days=7))
    assert (gone.deleted_signatures, gone.deleted_events) == (1, 1)
    assert store.top_errors(PAY, T0, T0 + timedelta(days=41)) == []
    assert store.events(PAY, T0, T0 + timedelta(days=41)) == []


def test_collected_errors_share_function_rows_with_samples(store: Store) -> None:
    """Errors may arrive for a function discovery has not written yet, and samples after: one function."""
    store.write_errors([timeout(IDX, 1)])
    store.write_samples([Sample(key=IDX, start=at(1), invocations=10, errors=1)])
    assert [f.key for f in store.functions()] == [IDX]
    assert [r.key for r in store.fleet(T0, at(5)) if r.buckets] == [IDX]


def test_an_existing_store_gains_the_tables_and_keeps_its_samples(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = apsw.Connection(str(path))
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for migration in MIGRATIONS[:-1]:  # the store as the release before the errors tables left it
        for statement in migration.statements:
            conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (?)", (MIGRATIONS[-2].version,))
    conn.execute("INSERT INTO functions (provider, account, region, name) VALUES ('aws', '1', 'r', 'old')")
    conn.execute("INSERT INTO samples (fid, start, period_s, invocations) VALUES (1, ?, 60, 7)", (int(T0.timestamp()),))
    conn.close()
    store = SQLiteStore(path)
    try:
        assert store.schema_version == LATEST_VERSION
        [row] = store.fleet(T0, at(1))
        assert row.measures.invocations == 7
        assert store.top_errors(row.key, T0, at(1)) == []
    finally:
        store.close()
