"""`write_batch` on both backends: one transaction across chunks, all or nothing, and a failed write that
never sends later samples to another function."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from opsview.schema import CollectorHealth, FunctionInfo, FunctionKey, Sample
from opsview.store import Store, samples_sql

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, tzinfo=UTC)
A = FunctionKey("aws", "1", "eu-west-1", "a")
B = FunctionKey("aws", "1", "eu-west-1", "b")


def minutes(key: FunctionKey, count: int, **measures: int) -> list[Sample]:
    return [Sample(key=key, start=T0 + timedelta(minutes=m), **measures) for m in range(count)]  # type: ignore[arg-type]


def test_one_transaction_across_chunks_merges_a_bucket_sent_in_two_chunks(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(samples_sql, "_WRITE_CHUNK", 100)
    first = minutes(A, 250, invocations=10)
    again = [Sample(key=A, start=T0, errors=3)]  # the first bucket again, in the last chunk, another measure
    written = store.write_batch([FunctionInfo(A, memory_mb=512)], [*first, *again],
                                [CollectorHealth("ingest", "aws", T0, True, functions=1, samples=251)])
    assert written == 251
    series = store.series(A, T0, T0 + timedelta(hours=5))
    assert len(series) == 250
    assert (series[0].invocations, series[0].errors) == (10, 3)  # merged, as two upserts would
    assert store.function(A) == FunctionInfo(A, memory_mb=512)
    assert [h.source for h in store.latest_health()] == ["ingest"]


def test_a_failure_part_way_leaves_nothing_of_the_batch(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(samples_sql, "_WRITE_CHUNK", 100)

    def samples() -> Iterator[Sample]:
        yield from minutes(A, 250, invocations=1)  # two chunks reach the database first
        raise OSError("the export ended mid-file")

    with pytest.raises(OSError, match="mid-file"):
        store.write_batch([FunctionInfo(A)], samples())
    assert store.functions() == []
    assert store.series(A, T0, T0 + timedelta(hours=5)) == []


def test_after_a_failed_write_new_samples_land_on_their_own_function(store: Store) -> None:
    """The id a rolled-back write gave a new function is not that function's: SQLite hands it to the next
    new function, PostgreSQL to nobody. Before, the store kept it, and A's later samples were shown as B's
    (SQLite) or stored under no function at all (PostgreSQL)."""
    too_big = Sample(key=A, start=T0, invocations=2**70)  # no database integer holds it: the write fails
    with pytest.raises(Exception):  # noqa: B017, PT011 - each driver has its own overflow error
        store.write_samples([*minutes(A, 3, invocations=1), too_big])
    store.write_samples(minutes(B, 3, invocations=7))
    store.write_samples(minutes(A, 3, invocations=1))
    window = (T0, T0 + timedelta(hours=1))
    assert [s.invocations for s in store.series(B, *window)] == [7, 7, 7]
    assert [s.invocations for s in store.series(A, *window)] == [1, 1, 1]
