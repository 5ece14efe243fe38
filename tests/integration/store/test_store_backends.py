"""The store contract against a real SQLite file and a real PostgreSQL server; SQLite-only process tests at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsview.collectors.demo import window_samples
from opsview.schema import CollectorHealth, FunctionInfo, FunctionKey, Measures, Sample, aggregate
from opsview.store import FleetFilter, SQLiteStore, Store, StoreError, open_store, top_n

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = FunctionKey("aws", "111111111111", "us-east-1", "checkout")
OTHER = FunctionKey("gcp", "proj", "us-central1", "indexer")


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def test_collecting_the_same_window_twice_never_duplicates(store: Store) -> None:
    batch = [Sample(key=KEY, start=minute(i), invocations=10, errors=1) for i in range(30)]
    store.write_samples(batch)
    store.write_samples(batch)
    [row] = store.fleet(T0, minute(30))
    assert row.measures.invocations == 300
    assert row.buckets == 30


def test_a_later_pass_fills_other_measures_without_erasing(store: Store) -> None:
    store.write_samples([Sample(key=KEY, start=T0, invocations=40, duration_p99_ms=120.0)])
    store.write_samples([Sample(key=KEY, start=T0, cold_starts=2, init_avg_ms=300.0)])  # from logs
    store.write_samples([Sample(key=KEY, start=T0, invocations=42)])  # CloudWatch revised the bucket
    [s] = store.series(KEY, T0, minute(1))
    assert (s.invocations, s.cold_starts, s.init_avg_ms, s.duration_p99_ms) == (42, 2, 300.0, 120.0)
    assert s.throttles is None  # never reported stays unreported


def test_sql_aggregation_matches_the_schema_rules(store: Store) -> None:
    samples = list(window_samples(7, 1, T0, T0 + timedelta(hours=2)))
    store.write_samples(samples)
    by_key: dict[FunctionKey, list[Sample]] = {}
    for s in samples:
        by_key.setdefault(s.key, []).append(s)
    rows = {r.key: r for r in store.fleet(T0, T0 + timedelta(hours=2))}
    assert len(rows) >= 50
    for key, bucket_list in by_key.items():
        expected = aggregate(bucket_list)
        got = rows[key].measures
        for name in Measures.__dataclass_fields__:
            want, have = getattr(expected, name), getattr(got, name)
            if want is None:
                assert have is None, (key, name)
            else:
                assert have == pytest.approx(want, rel=1e-9), (key, name)


def test_fleet_lists_idle_functions_with_no_data_not_zeros(store: Store) -> None:
    store.upsert_functions([FunctionInfo(KEY, "python3.12", 512, 30.0), FunctionInfo(OTHER, "go1.x", 256, 60.0)])
    store.write_samples([Sample(key=KEY, start=minute(1), invocations=5)])
    rows = {r.key: r for r in store.fleet(T0, minute(15))}
    assert rows[OTHER].buckets == 0
    assert rows[OTHER].measures.invocations is None
    assert rows[KEY].info.memory_mb == 512
    assert [r.key for r in store.fleet(T0, minute(15), FleetFilter(provider="gcp"))] == [OTHER]


def test_series_totals_and_top_n(store: Store) -> None:
    store.write_samples(
        [Sample(key=KEY, start=minute(i), invocations=10, errors=i % 3) for i in range(10)]
        + [Sample(key=OTHER, start=minute(i), invocations=100, errors=0) for i in range(10)]
    )
    five = store.series(KEY, T0, minute(10), step_s=300)
    assert [s.invocations for s in five] == [50, 50]
    assert five[0].period_s == 300
    totals = store.totals(T0, minute(10))
    assert totals["aws"].invocations == 100
    assert totals["gcp"].invocations == 1000
    series = store.provider_series(T0, minute(10), 300)
    assert [m.invocations for _, m in series["gcp"]] == [500, 500]
    top = top_n(store.fleet(T0, minute(10)), lambda r: r.measures.errors)
    assert top[0][0].key == KEY
    assert top[0][1] == 9


def test_provider_series_aggregates_only_the_measures_asked_for(store: Store) -> None:
    store.write_samples([
        Sample(key=KEY, start=minute(i), invocations=10 * (i + 1), errors=1, throttles=2, duration_p95_ms=100.0 + i)
        for i in range(10)
    ])
    full = store.provider_series(T0, minute(10), 300)
    lean = store.provider_series(T0, minute(10), 300, measures={"invocations", "duration_p95_ms"})
    assert [t for t, _ in lean["aws"]] == [t for t, _ in full["aws"]]
    for (_, everything), (_, few) in zip(full["aws"], lean["aws"], strict=True):
        assert few.invocations == everything.invocations
        assert few.duration_p95_ms == pytest.approx(everything.duration_p95_ms)
        assert (few.errors, few.throttles) == (None, None)
    assert (everything.errors, everything.throttles) == (5, 10)


def test_rollup_to_hours_and_retention(store: Store) -> None:
    store.write_samples(
        [Sample(key=KEY, start=minute(i), invocations=10, duration_p99_ms=float(100 + i)) for i in range(120)]
    )
    before = store.fleet(T0, minute(120))[0].measures
    result = store.maintain(T0 + timedelta(days=8), retention=timedelta(days=30), rollup_after=timedelta(days=7))
    assert result.rolled_up_buckets == 2
    hours = store.series(KEY, T0, minute(120))
    assert [(h.period_s, h.invocations) for h in hours] == [(3600, 600), (3600, 600)]
    after = store.fleet(T0, minute(120))[0].measures
    assert after.invocations == before.invocations
    assert after.duration_p99_ms == pytest.approx(before.duration_p99_ms)
    gone = store.maintain(T0 + timedelta(days=40), retention=timedelta(days=30), rollup_after=timedelta(days=7))
    assert gone.deleted_samples == 2
    assert store.series(KEY, T0, minute(120)) == []


def test_retention_also_trims_alert_history(store: Store) -> None:
    from opsview.alert_records import AlertChanges, AlertEvent, AlertState

    def event(at: datetime) -> AlertEvent:
        return AlertEvent(at, "errors", KEY, AlertState.PENDING, AlertState.FIRING, 5.0, "critical")

    store.apply_alert_changes(AlertChanges(events=(event(T0), event(T0 + timedelta(days=35)))))
    result = store.maintain(T0 + timedelta(days=40), retention=timedelta(days=30), rollup_after=timedelta(days=7))
    assert result.deleted_alert_history == 1
    assert [e.at for e in store.alert_events(KEY)] == [T0 + timedelta(days=35)]


def test_health_latest_per_source_and_history(store: Store) -> None:
    store.record_health([CollectorHealth("aws-prod", "aws", T0, True, scope="1/us-east-1", samples=10)])
    store.record_health(
        [CollectorHealth("aws-prod", "aws", minute(1), False, "AccessDenied: not allowed", scope="1/us-east-1")]
    )
    [latest] = store.latest_health()
    assert not latest.ok
    assert latest.error == "AccessDenied: not allowed"
    assert [h.ok for h in store.health_history("aws-prod")] == [False, True]


def test_last_bucket_drives_incremental_collection(store: Store) -> None:
    assert store.last_bucket("aws") is None
    store.write_samples([Sample(key=KEY, start=minute(i), invocations=1) for i in range(5)])
    assert store.last_bucket("aws", "111111111111", "us-east-1") == minute(4)
    assert store.last_bucket("aws", "111111111111", "eu-west-1") is None


def test_open_store_by_path_url_and_clear_errors(tmp_path: Path) -> None:
    assert open_store(f"sqlite:///{tmp_path}/a.db").url.endswith("a.db")
    with pytest.raises(StoreError, match="unknown store URL scheme"):
        open_store("mysql://x/y")
    bogus = tmp_path / "not-a-db.db"
    bogus.write_text("hello, I am not SQLite" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite store"):
        open_store(bogus)
    with pytest.raises(StoreError, match="store not found"):
        open_store(tmp_path / "missing.db", read_only=True)


def test_newer_schema_is_refused_rather_than_corrupted(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store._conn().execute("UPDATE schema_version SET version = 999")
    store.close()
    with pytest.raises(StoreError, match="newer than this opsview"):
        SQLiteStore(tmp_path / "s.db")


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from opsview.schema import FunctionKey, Sample
    from opsview.store import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    batch = 0
    print("ready", flush=True)
    while True:
        keys = [FunctionKey("aws", "1", "us-east-1", f"fn-{i}") for i in range(200)]
        store.write_samples(
            Sample(key=k, start=t0 + timedelta(minutes=batch), invocations=7) for k in keys for _ in [0]
        )
        batch += 1
    """
)

READER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import UTC, datetime, timedelta
    from opsview.store import SQLiteStore
    store = SQLiteStore(sys.argv[1])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    reads = errors = 0
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        try:
            rows = store.fleet(t0, t0 + timedelta(days=30))
            for r in rows:
                inv = r.measures.invocations
                # each committed batch writes 7 per function: a torn batch would break this
                assert inv is None or inv % 7 == 0, inv
            reads += 1
        except Exception as exc:
            errors += 1
            print(repr(exc), file=sys.stderr)
    print(json.dumps({"reads": reads, "errors": errors}))
    """
)


def test_readers_in_other_processes_never_fail_while_a_writer_runs(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    SQLiteStore(db).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        procs = [subprocess.Popen([sys.executable, "-c", READER, str(db), "3"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        writer.kill()
        writer.wait()
    for out, err in outs:
        result = json.loads(out)
        assert result["errors"] == 0, err
        assert result["reads"] > 0


def test_a_writer_killed_mid_batch_leaves_the_store_consistent(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    SQLiteStore(db).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    time.sleep(1.5)
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    store = SQLiteStore(db)
    assert store._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = store.fleet(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    batches = {r.buckets for r in rows}
    assert len(batches) == 1
    assert batches.pop() > 0
    # and the store still takes writes
    store.write_samples([Sample(key=KEY, start=T0, invocations=1)])
    assert store.series(KEY, T0, minute(1))[0].invocations == 1


def test_fleet_can_aggregate_only_the_measures_a_reader_needs(store: Store) -> None:
    from opsview.schema import measure_inputs

    store.write_samples(window_samples(7, 1, T0, T0 + timedelta(minutes=30)))
    full = {r.key: r for r in store.fleet(T0, T0 + timedelta(minutes=30))}
    needed = measure_inputs(["error_rate", "timeout_ratio"])
    assert needed == {"errors", "invocations", "duration_p99_ms"}
    part = {r.key: r for r in store.fleet(T0, T0 + timedelta(minutes=30), measures=needed)}
    for key, row in part.items():
        assert row.measures.errors == full[key].measures.errors
        assert row.measures.duration_p99_ms == pytest.approx(full[key].measures.duration_p99_ms)
        assert row.measures.duration_max_ms is None  # not asked for, not aggregated
        assert row.buckets == full[key].buckets


def test_fleet_measures_matches_fleet_for_functions_with_data(store: Store) -> None:
    """The alert engine's read: the same numbers as `fleet`, keyed, idle functions left out."""
    store.upsert_functions([FunctionInfo(OTHER, "go1.x", 256, 60.0)])  # known, but silent in the window
    store.write_samples(window_samples(7, 1, T0, T0 + timedelta(minutes=30)))
    end = T0 + timedelta(minutes=30)
    full = {r.key: r for r in store.fleet(T0, end, measures={"errors", "duration_p99_ms"})}
    keyed = store.fleet_measures(T0, end, measures={"errors", "duration_p99_ms"})
    assert OTHER not in keyed
    assert set(keyed) == {k for k, r in full.items() if r.buckets}
    for key, measures in keyed.items():
        want = full[key].measures
        assert (measures.errors, measures.invocations) == (want.errors, None)  # only what was asked for
        assert measures.duration_p99_ms == pytest.approx(want.duration_p99_ms)  # PostgreSQL may sum in another order
    aws = store.fleet_measures(T0, end, FleetFilter(provider="aws"))
    assert aws
    assert {k.provider for k in aws} == {"aws"}
    # a function that appears after the first read is still named (the id -> key map grows)
    late = FunctionKey("azure", "sub", "westeurope", "late-app/fn")
    store.write_samples([Sample(key=late, start=T0, invocations=3)])
    assert store.fleet_measures(T0, end)[late].invocations == 3


def test_fleet_buckets_are_the_last_spans_newest_first_with_gaps_as_none(store: Store) -> None:
    """M-of-N alert rules read these: one query for every function, the same numbers as its series."""
    store.write_samples(
        [Sample(key=KEY, start=minute(i), invocations=10 + i, errors=i % 2) for i in range(10) if i != 7]
        + [Sample(key=OTHER, start=minute(i), invocations=100) for i in range(3)]
    )
    spans = store.fleet_buckets(minute(10), 120, 4).by_function()  # [8,10) [6,8) [4,6) [2,4)
    assert [s.invocations if s else None for s in spans[KEY]] == [18 + 19, 16, 14 + 15, 12 + 13]
    assert spans[KEY][1] is not None
    assert spans[KEY][1].errors == 0  # minute 6 alone: minute 7 never reported
    assert spans[OTHER] == [None, None, None, spans[OTHER][3]]
    assert spans[OTHER][3] is not None
    assert spans[OTHER][3].invocations == 100  # minute 2 of [2, 4)
    assert set(store.fleet_buckets(minute(10), 120, 4, FleetFilter(provider="gcp")).keys) == {OTHER}
    # columns of only the measures asked for: what M-of-N rules read
    table = store.fleet_buckets(minute(10), 120, 4, measures={"invocations"})
    assert list(table.columns) == ["invocations"]
    rows = sorted(zip(table.keys, table.spans, table.columns["invocations"], strict=True))
    assert [(span, calls) for key, span, calls in rows if key == KEY] == [(0, 37), (1, 16), (2, 29), (3, 25)]
    assert table.measures(0).errors is None  # not read, not reported
    quiet = FunctionKey("azure", "sub", "westeurope", "quiet")
    store.upsert_functions([FunctionInfo(quiet)])
    assert quiet not in store.fleet_buckets(minute(10), 120, 4).keys  # no data in the range: absent


def test_a_bulk_write_applies_repeated_keys_in_arrival_order(store: Store) -> None:
    """Bulk writes bind many rows per statement (SQLite) or stage through COPY (PostgreSQL): a key
    repeated inside one batch still ends as if each sample were written alone, in order."""
    keys = [FunctionKey("aws", "111111111111", "us-east-1", f"fn-{i:03d}") for i in range(7)]
    first = [Sample(key=k, start=minute(m), invocations=m, duration_p99_ms=100.0 + m) for m in range(60) for k in keys]
    # the second pass revises invocations and adds cold starts, but carries no p99: the first one's stays
    second = [
        Sample(key=k, start=minute(m), invocations=m + 1000, cold_starts=1) for m in range(0, 60, 2) for k in keys
    ]
    batch = first + second  # 630 rows: several full multi-row statements and a remainder
    assert store.write_samples(batch) == len(batch)
    for key in (keys[0], keys[-1]):
        points = store.series(key, T0, minute(60))
        assert [p.invocations for p in points] == [m + 1000 if m % 2 == 0 else m for m in range(60)]
        assert [p.cold_starts for p in points] == [1 if m % 2 == 0 else None for m in range(60)]
        assert [p.duration_p99_ms for p in points] == [100.0 + m for m in range(60)]


def test_a_large_fleet_read_in_parts_returns_what_one_query_returns(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fleet-wide reads of a large fleet are split by function id over reader threads; the split
    must not change a single row, the order, or what a filter keeps."""
    from opsview.store import samples_sql

    samples = list(window_samples(11, 1, T0, T0 + timedelta(minutes=30)))
    store.write_samples(samples)
    start, end = T0 + timedelta(minutes=5), T0 + timedelta(minutes=30)
    aws = FleetFilter(provider="aws")

    def reads() -> tuple[object, ...]:
        return (
            store.fleet(start, end), store.fleet(start, end, aws, measures=("invocations",)),
            store.fleet_series(start, end, 300), store.fleet_series(start, end, 300, aws),
        )

    store._read_split = 1  # type: ignore[attr-defined]
    whole = reads()
    monkeypatch.setattr(samples_sql, "_SPLIT_MIN_FUNCTIONS", 2)
    store._read_split = 3  # type: ignore[attr-defined]
    split = reads()

    assert store._split_pool is not None  # type: ignore[attr-defined]  # the parts did run on reader threads
    assert split == whole
    # callers at once (the web app's requests): whichever split and whichever read in one query, all agree
    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(lambda _: store.fleet(start, end), range(8))) == [whole[0]] * 8
    fleet, aws_fleet = split[0], split[1]
    assert isinstance(fleet, list)
    assert isinstance(aws_fleet, list)
    assert len(fleet) >= 50
    assert [r.key for r in fleet] == sorted(r.key for r in fleet)  # provider, account, region, name
    assert {r.key.provider for r in aws_fleet} == {"aws"}
