"""`fleet_series` (one query for every sparkline) returns what `series` returns per function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsview.collectors.demo import build_fleet, window_samples
from opsview.store import FleetFilter, SQLiteStore, Store

NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)


def test_fleet_series_matches_per_function_series(store: Store) -> None:
    """On both backends: PostgreSQL reads through its own (LATERAL) query."""
    store.upsert_functions(f.info for f in build_fleet(42, 1))
    store.write_samples(window_samples(42, 1, NOW - timedelta(hours=1), NOW))
    start, end = NOW - timedelta(minutes=50), NOW

    batched = store.fleet_series(start, end, 600, measures=("invocations", "errors"))

    assert len(batched) >= 50  # idle functions have no buckets at all: absent, not zero-filled
    for key, points in batched.items():
        single = store.series(key, start, end, 600)
        assert [(p.start, p.invocations, p.errors) for p in single] == [
            (at, m.invocations, m.errors) for at, m in points
        ]
        assert all(m.duration_p99_ms is None for _, m in points)  # not asked for, not computed

    aws_only = store.fleet_series(start, end, 600, FleetFilter(provider="aws"))
    assert aws_only
    assert {k.provider for k in aws_only} == {"aws"}
    some = next(iter(aws_only.values()))
    assert any(m.duration_p99_ms is not None for _, m in some)  # every measure by default


def test_fleet_series_rejects_an_unknown_measure(sqlite_store: SQLiteStore) -> None:
    with pytest.raises(ValueError, match="unknown measure"):
        sqlite_store.fleet_series(NOW - timedelta(hours=1), NOW, 60, measures=("invocation",))
