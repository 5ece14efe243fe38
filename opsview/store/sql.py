"""SQL shared by every SQL backend: fragments generated from the schema's aggregation rules, the sample
upsert, records to rows and back, and what a backend provides to the faces of the store
(`samples_sql`, `alerts_sql`, `coverage_sql`, `errors_events_sql`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from opsview.schema import (
    AGGREGATION,
    COUNT_MEASURES,
    MEASURE_NAMES,
    Agg,
    CollectorHealth,
    Coverage,
    FunctionInfo,
    FunctionKey,
    Measures,
    from_epoch,
    measures_from,
    measures_from_values,
    to_epoch,
)
from opsview.store.base import FleetFilter

ROLLUP_PERIOD_S = 3600
"""Buckets older than `rollup_after` become hours: samples and error counts alike."""


def weight_sql(column: str, alias: str = "") -> str:
    """SQL twin of `schema.bucket_weight`."""
    col = f"{alias}{column}"
    return f"(CASE WHEN {col} > 0 THEN {col} ELSE 1 END)"


def aggregate_sql(
    alias: str = "", measures: Collection[str] | None = None, *, count_sum: str = "SUM({})"
) -> list[str]:
    """One expression per measure, in MEASURE_NAMES order, aggregating rows of `samples`.

    With `measures`, the others are NULL: each aggregate costs per row scanned, and a reader
    that needs two measures should not pay for fourteen. `count_sum` spells the sum of a count
    column (PostgreSQL sums BIGINT as NUMERIC, which its driver hands over as Decimal text).
    """
    out = []
    for name in MEASURE_NAMES:
        if measures is not None and name not in measures:
            out.append("NULL")
            continue
        rule = AGGREGATION[name]
        col = f"{alias}{name}"
        if rule.kind is Agg.SUM:
            out.append(count_sum.format(col) if name in COUNT_MEASURES else f"SUM({col})")
        elif rule.kind is Agg.MAX:
            out.append(f"MAX({col})")
        else:
            assert rule.weight is not None
            w = weight_sql(rule.weight, alias)
            wcol = f"{alias}{rule.weight}"
            # One flat CASE for the denominator and the float cast outside the SUM: ~5% of a fleet read.
            out.append(f"1.0 * SUM({col} * {w}) / "
                       f"SUM(CASE WHEN {col} IS NULL THEN NULL WHEN {wcol} > 0 THEN {wcol} ELSE 1 END)")
    return out


def aggregate_columns(
    alias: str = "", measures: Collection[str] | None = None, *, count_sum: str = "SUM({})"
) -> tuple[list[str], Callable[[Sequence[Any]], Measures]]:
    """SQL aggregating `measures` (every one if None), and what builds `Measures` from those columns.

    Only the measures asked for are columns: a NULL column per measure not asked for cost ~1/3 of a
    5,000 x 5 M-of-N read (its values still cross into Python one by one).
    """
    every = aggregate_sql(alias, None, count_sum=count_sum)
    if measures is None:
        return every, measures_from_values
    present = present_measures(measures)
    if not present:
        return ["NULL"], _no_measures  # nothing to aggregate; one column keeps the SQL well-formed
    return [sql for name, sql in zip(MEASURE_NAMES, every, strict=True) if name in measures], measures_from(present)


def present_measures(measures: Collection[str] | None) -> tuple[str, ...]:
    """The measures a read aggregates, in MEASURE_NAMES order (every one for None)."""
    return MEASURE_NAMES if measures is None else tuple(name for name in MEASURE_NAMES if name in measures)


_NO_MEASURES = Measures()


def _no_measures(_: Sequence[Any]) -> Measures:
    return _NO_MEASURES


MEASURE_COLUMNS = ", ".join(MEASURE_NAMES)

UPSERT_SAMPLE = (
    f"INSERT INTO samples (fid, start, period_s, {MEASURE_COLUMNS}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in MEASURE_NAMES)}) "
    "ON CONFLICT (fid, start, period_s) DO UPDATE SET "
    # A re-collection refines a bucket; a value it does not carry keeps the stored one, so
    # two passes that fill different measures (metrics, then logs) merge instead of erase.
    + ", ".join(f"{m} = COALESCE(excluded.{m}, samples.{m})" for m in MEASURE_NAMES)
)


def where_sql(flt: FleetFilter | None, alias: str = "f") -> tuple[str, list[Any]]:
    """A fleet filter as a WHERE condition over `functions` (aliased `alias`) and its parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if flt:
        for column in ("provider", "account", "region"):
            value = getattr(flt, column)
            if value is not None:
                clauses.append(f"{alias}.{column} = ?")
                params.append(value)
    return (" AND ".join(clauses) or "1=1"), params


def function_rows(infos: Iterable[FunctionInfo]) -> list[tuple[Any, ...]]:
    """Function records as rows of `functions` (labels as JSON)."""
    return [
        (
            i.key.provider, i.key.account, i.key.region, i.key.name,
            i.runtime, i.memory_mb, i.timeout_s, i.resource_id, json.dumps(dict(i.labels), sort_keys=True),
        )
        for i in infos
    ]


def health_rows(entries: Iterable[CollectorHealth]) -> list[tuple[Any, ...]]:
    """Collector health entries as rows of `health`, and back (`health_record`)."""
    return [
        (h.source, h.provider, h.scope, to_epoch(h.at), int(h.ok), h.error, h.functions, h.samples, h.duration_s)
        for h in entries
    ]


def health_record(r: Sequence[Any]) -> CollectorHealth:
    return CollectorHealth(
        source=r[0], provider=r[1], scope=r[2], at=from_epoch(r[3]), ok=bool(r[4]), error=r[5],
        functions=r[6], samples=r[7], duration_s=r[8],
    )


class SqlBackend:
    """What a backend (SQLiteStore, PostgresStore) provides to the shared SQL of both faces.

    Queries use `?` placeholders; the PostgreSQL store translates them.
    """

    url: str

    def _conn(self) -> Any:
        """This thread's connection: `.execute(sql, params)` returning a cursor, and `.executemany`."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction on this thread's connection (committed on exit, rolled back on error)."""
        raise NotImplementedError

    def _insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    def _changes(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run a write statement; how many rows it inserted, updated or deleted."""
        return int(conn.execute(sql, params).rowcount)

    def _roll_up(self, conn: Any, table: str, key: str, columns: str, aggregates: str, cutoff: int) -> int:
        """Fold `table`'s buckets shorter than an hour that start before `cutoff` into one bucket per `key` and
        hour (`aggregates` over `columns`; an hour already stored stays as it is), and delete them; the hours
        written. Within the caller's write transaction."""
        hour = ROLLUP_PERIOD_S
        rolled = self._changes(
            conn,
            f"INSERT INTO {table} ({key}, start, period_s, {columns}) "
            f"SELECT {key}, start - start % {hour}, {hour}, {aggregates} FROM {table} "
            f"WHERE period_s < {hour} AND start < ? GROUP BY {key}, start - start % {hour} "
            f"ON CONFLICT ({key}, start, period_s) DO NOTHING",
            (cutoff,),
        )
        conn.execute(f"DELETE FROM {table} WHERE period_s < {hour} AND start < ?", (cutoff,))
        return rolled

    def _newest(self, select: str, equal: Mapping[str, Any], since: datetime | None, limit: int) -> list[Any]:
        """Rows of `select` (`SELECT ... FROM` a table with `at` and `id` columns), newest first, at most `limit`:
        those whose columns in `equal` hold the value given (a `None` value filters nothing), at or after
        `since`."""
        clauses = ["1=1"]
        params: list[Any] = []
        for column, value in equal.items():
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("at >= ?")
            params.append(to_epoch(since))
        return list(self._conn().execute(
            f"{select} WHERE {' AND '.join(clauses)} ORDER BY at DESC, id DESC LIMIT ?", [*params, limit]
        ))

    # --- SQL a backend may spell its own way ---------------------------------------------------------

    _COUNT_SUM = "SUM({})"  # how this backend sums a count column (see `aggregate_sql`)

    def _aggregates(
        self, alias: str = "", measures: Collection[str] | None = None
    ) -> tuple[list[str], Callable[[Sequence[Any]], Measures]]:
        return aggregate_columns(alias, measures, count_sum=self._COUNT_SUM)

    def _per_function_sql(self, head: str, aggs: Sequence[str], where: str, *, idle: bool, group: str = "") -> str:
        """Aggregates over `samples` per function (and per `group` expression, if given), in one query.

        Parameters: the window's start and end, then the filter's. Columns: `head` (columns of
        `functions f`), then `group` (an expression over `s.start`) if given, the number of buckets,
        and the aggregates. With `idle`, functions without data in the window are kept (count 0, NULL
        aggregates). The correlated join lets SQLite seek (fid, start) per function instead of
        scanning; PostgreSQL overrides this with a LATERAL join, as its planner would otherwise
        hash-join a scan of the whole window.
        """
        join = "LEFT JOIN" if idle else "JOIN"
        grouped = f", {group}" if group else ""
        return (
            f"SELECT {head}{grouped}, COUNT(s.start), {', '.join(aggs)} FROM functions f {join} samples s "
            f"ON s.fid = f.id AND s.start >= ? AND s.start < ? WHERE {where} GROUP BY f.id{grouped}"
        )

    def _fid_map(self, keys: set[FunctionKey], conn: Any) -> dict[FunctionKey, int]:
        """Function ids of `keys` (and more), adding functions not stored yet; within a write transaction."""
        raise NotImplementedError

    def _maintain_errors(self, conn: Any, rollup_cutoff: int, retention_cutoff: int) -> tuple[int, int, int, int]:
        """Roll error counts up and drop error signatures, counts and events past retention, within the sample
        store's maintenance transaction: (counts rolled up, counts deleted, signatures deleted, events
        deleted). Nothing without the errors face (`ErrorEventSql`)."""
        return 0, 0, 0, 0

    def _prune_alerts(self, conn: Any, cutoff: int) -> int:
        """Drop alert bookkeeping older than `cutoff` (epoch s) within the sample store's maintenance
        transaction; the alert history rows deleted. Nothing without the alerting face (`AlertSql`)."""
        return 0

    def _insert_coverage(self, conn: Any, spans: Iterable[Coverage]) -> None:
        """Record coverage within a write transaction the caller holds (`coverage_sql`)."""

    def _prune_coverage(self, conn: Any, cutoff: int) -> None:
        """Forget coverage older than `cutoff` (epoch s) within the maintenance transaction (`coverage_sql`)."""

    def close(self) -> None:
        raise NotImplementedError
