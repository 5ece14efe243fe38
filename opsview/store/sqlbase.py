"""What every SQL store shares: the schema's reads and writes in SQL both SQLite and PostgreSQL speak.

Subclasses provide connections (`_conn`, `_write`), the bulk sample upsert and an
id-returning insert; queries here use `?` placeholders, which the PostgreSQL store
translates. Aggregation SQL comes from `opsview.store.sql`, generated from the schema.
"""

from __future__ import annotations

import json
import operator
import os
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from itertools import chain, islice
from typing import Any

from opsview.alerts.model import AlertChanges, AlertEvent, AlertRecord, AlertState, LedgerEntry, OutboxItem, Silence
from opsview.schema import (
    MEASURE_NAMES,
    CollectorHealth,
    FunctionInfo,
    FunctionKey,
    Measures,
    Sample,
    from_epoch,
    measures_from,
    measures_from_values,
    sample_from_row,
    to_epoch,
)
from opsview.store.base import FleetBuckets, FleetFilter, FleetRow, MaintenanceResult
from opsview.store.sql import MEASURE_COLUMNS, aggregate_sql

_WRITE_CHUNK = 200_000  # rows per transaction: fewer, larger commits dirty far fewer pages
_ROLLUP_PERIOD_S = 3600
_MEASURES_OF = operator.attrgetter(*MEASURE_NAMES)
_PK_ORDER = operator.itemgetter(0, 1, 2)  # the whole primary key: duplicates in a batch end up adjacent
# Fleet-wide reads split by function id across this many reader threads (one per core, at most 4):
# the database engine aggregates with the GIL released, so parts run on separate cores.
_READ_SPLIT = min(4, os.cpu_count() or 1)
_SPLIT_MIN_FUNCTIONS = 1_000  # below this a fleet read takes a few ms: one query, no hand-off
_BY_KEY = operator.itemgetter(0, 1, 2, 3)  # provider, account, region, name: the head of `fleet`'s rows

UPSERT_SAMPLE = (
    f"INSERT INTO samples (fid, start, period_s, {MEASURE_COLUMNS}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in MEASURE_NAMES)}) "
    "ON CONFLICT (fid, start, period_s) DO UPDATE SET "
    # A re-collection refines a bucket; a value it does not carry keeps the stored one, so
    # two passes that fill different measures (metrics, then logs) merge instead of erase.
    + ", ".join(f"{m} = COALESCE(excluded.{m}, samples.{m})" for m in MEASURE_NAMES)
)


class SqlStore:
    """`Store` in portable SQL; see SQLiteStore and PostgresStore for the connections."""

    url: str

    def __init__(self) -> None:
        self._fids: dict[FunctionKey, int] = {}
        self._fid_lock = threading.Lock()
        self._infos: dict[tuple[Any, ...], FunctionInfo] = {}
        self._fid_keys: dict[int, FunctionKey] = {}
        self._read_split = _READ_SPLIT
        self._split_pool: ThreadPoolExecutor | None = None
        self._split_reads = 0  # split reads in progress
        self._split_lock = threading.Lock()
        self._split_worker = threading.local()

    # --- what a backend provides --------------------------------------------------------------

    _COUNT_SUM = "SUM({})"  # how this backend sums a count column (see `aggregate_sql`)

    def _aggregates(
        self, alias: str = "", measures: Collection[str] | None = None
    ) -> tuple[list[str], Callable[[Sequence[Any]], Measures]]:
        """SQL aggregating `measures` (every one if None), and what builds `Measures` from those columns.

        Only the measures asked for are columns: a NULL column per measure not asked for cost ~1/3 of a
        5,000 x 5 M-of-N read (its values still cross into Python one by one).
        """
        every = aggregate_sql(alias, None, count_sum=self._COUNT_SUM)
        if measures is None:
            return every, measures_from_values
        present = _present(measures)
        if not present:
            return ["NULL"], _no_measures  # nothing to aggregate; one column keeps the SQL well-formed
        return [sql for name, sql in zip(MEASURE_NAMES, every, strict=True) if name in measures], measures_from(present)

    def _conn(self) -> Any:
        """This thread's connection: `.execute(sql, params)` returning a cursor, and `.executemany`."""
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        """A write transaction on this thread's connection (committed on exit, rolled back on error)."""
        raise NotImplementedError

    def _upsert_sample_rows(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(UPSERT_SAMPLE, rows)

    def _insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        raise NotImplementedError

    def _changes(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run a write statement; how many rows it inserted, updated or deleted."""
        return int(conn.execute(sql, params).rowcount)

    def close(self) -> None:
        raise NotImplementedError

    def _close_split_pool(self) -> None:
        with self._split_lock:
            pool, self._split_pool = self._split_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # --- writes ----------------------------------------------------------------------------

    def upsert_functions(self, infos: Iterable[FunctionInfo]) -> int:
        rows = [
            (
                i.key.provider, i.key.account, i.key.region, i.key.name,
                i.runtime, i.memory_mb, i.timeout_s, i.resource_id, json.dumps(dict(i.labels), sort_keys=True),
            )
            for i in infos
        ]
        if not rows:
            return 0
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO functions "
                "(provider, account, region, name, runtime, memory_mb, timeout_s, resource_id, labels) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (provider, account, region, name) DO UPDATE SET "
                "runtime = COALESCE(excluded.runtime, functions.runtime), "
                "memory_mb = COALESCE(excluded.memory_mb, functions.memory_mb), "
                "timeout_s = COALESCE(excluded.timeout_s, functions.timeout_s), "
                "resource_id = COALESCE(excluded.resource_id, functions.resource_id), "
                "labels = CASE WHEN excluded.labels = '{}' THEN functions.labels ELSE excluded.labels END",
                rows,
            )
        return len(rows)

    def _fid_map(self, keys: set[FunctionKey], conn: Any) -> dict[FunctionKey, int]:
        with self._fid_lock:
            missing = [k for k in keys if k not in self._fids]
            if missing:
                conn.executemany(
                    "INSERT INTO functions (provider, account, region, name) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (provider, account, region, name) DO NOTHING",
                    [(k.provider, k.account, k.region, k.name) for k in missing],
                )
                for fid, provider, account, region, name in conn.execute(
                    "SELECT id, provider, account, region, name FROM functions"
                ):
                    self._fids[FunctionKey(provider, account, region, name)] = fid
            return self._fids

    def write_samples(self, samples: Iterable[Sample]) -> int:
        written = 0
        it = iter(samples)
        # islice fills each chunk in C: a Python append loop cost ~6% of a bulk write
        while batch := list(islice(it, _WRITE_CHUNK)):
            written += self._write_chunk(batch)
        return written

    def _write_chunk(self, batch: Sequence[Sample]) -> int:
        with self._write() as conn:
            fids = self._fid_map({s.key for s in batch}, conn)
            measures = _MEASURES_OF
            epoch: dict[datetime, int] = {}  # a batch shares few bucket starts; convert each once
            rows = [
                (fids[s.key], epoch.get(s.start) or epoch.setdefault(s.start, int(s.start.timestamp())), s.period_s,
                 *measures(s))
                for s in batch
            ]
            # Inserting in primary-key order keeps B-tree appends local: ~25% faster than arrival order.
            rows.sort(key=_PK_ORDER)
            self._upsert_sample_rows(conn, rows)
        return len(batch)

    def record_health(self, entries: Iterable[CollectorHealth]) -> None:
        rows = [
            (h.source, h.provider, h.scope, to_epoch(h.at), int(h.ok), h.error, h.functions, h.samples, h.duration_s)
            for h in entries
        ]
        if rows:
            with self._write() as conn:
                conn.executemany(
                    "INSERT INTO health (source, provider, scope, at, ok, error, functions, samples, duration_s) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )

    def maintain(self, now: datetime, retention: timedelta, rollup_after: timedelta) -> MaintenanceResult:
        """Roll minute buckets older than `rollup_after` into hours; drop what is older than `retention`."""
        rollup_cutoff = to_epoch(now - rollup_after)
        rollup_cutoff -= rollup_cutoff % _ROLLUP_PERIOD_S  # whole hours only, so an hour is rolled once
        retention_cutoff = to_epoch(now - retention)
        aggs = ", ".join(self._aggregates()[0])
        with self._write() as conn:
            rolled = self._changes(
                conn,
                f"INSERT INTO samples (fid, start, period_s, {MEASURE_COLUMNS}) "
                f"SELECT fid, start - start % {_ROLLUP_PERIOD_S}, {_ROLLUP_PERIOD_S}, {aggs} FROM samples "
                f"WHERE period_s < {_ROLLUP_PERIOD_S} AND start < ? GROUP BY fid, start - start % {_ROLLUP_PERIOD_S} "
                "ON CONFLICT (fid, start, period_s) DO NOTHING",
                (rollup_cutoff,),
            )
            conn.execute(f"DELETE FROM samples WHERE period_s < {_ROLLUP_PERIOD_S} AND start < ?", (rollup_cutoff,))
            deleted = self._changes(conn, "DELETE FROM samples WHERE start < ?", (retention_cutoff,))
            deleted_health = self._changes(conn, "DELETE FROM health WHERE at < ?", (retention_cutoff,))
            # Alert bookkeeping follows the same retention, or a store watched for a year keeps every
            # transition, delivered notification and long-expired silence forever.
            deleted_history = self._changes(conn, "DELETE FROM alert_history WHERE at < ?", (retention_cutoff,))
            conn.execute(
                "DELETE FROM alert_outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?", (retention_cutoff,)
            )
            conn.execute("DELETE FROM alert_silences WHERE ends < ?", (retention_cutoff,))
        return MaintenanceResult(rolled, deleted, deleted_health, deleted_history)

    # --- reads -----------------------------------------------------------------------------

    @staticmethod
    def _where(flt: FleetFilter | None, alias: str = "f") -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if flt:
            for column in ("provider", "account", "region"):
                value = getattr(flt, column)
                if value is not None:
                    clauses.append(f"{alias}.{column} = ?")
                    params.append(value)
        return (" AND ".join(clauses) or "1=1"), params

    def _info(self, row: Sequence[Any]) -> FunctionInfo:
        # Fleet reads run every refresh over thousands of functions whose info rarely changes:
        # reuse the decoded record (labels are JSON) while its row is unchanged.
        cache_key = tuple(row)
        info = self._infos.get(cache_key)
        if info is None:
            provider, account, region, name, runtime, memory_mb, timeout_s, resource_id, labels = row
            info = FunctionInfo(
                FunctionKey(provider, account, region, name), runtime, memory_mb, timeout_s, resource_id,
                json.loads(labels) if labels and labels != "{}" else {},  # most functions have no labels
            )
            if len(self._infos) > 200_000:
                self._infos.clear()
            self._infos[cache_key] = info
        return info

    _INFO_COLS = "f.provider, f.account, f.region, f.name, f.runtime, f.memory_mb, f.timeout_s, f.resource_id, f.labels"

    def functions(self, flt: FleetFilter | None = None) -> list[FunctionInfo]:
        where, params = self._where(flt)
        rows = self._conn().execute(
            f"SELECT {self._INFO_COLS} FROM functions f WHERE {where} ORDER BY provider, account, region, name", params
        )
        return [self._info(r) for r in rows]

    def function(self, key: FunctionKey) -> FunctionInfo | None:
        row = self._conn().execute(
            f"SELECT {self._INFO_COLS} FROM functions f WHERE provider=? AND account=? AND region=? AND name=?",
            (key.provider, key.account, key.region, key.name),
        ).fetchone()
        return self._info(row) if row else None

    def _per_function_rows(
        self, head: str, aggs: Sequence[str], where: str, window: Sequence[Any], params: Sequence[Any], *, idle: bool
    ) -> list[Sequence[Any]]:
        """The rows of `_per_function_sql`, unordered; read in parts by function id range on the store's
        reader threads when the fleet is large (5,000 functions: 384 -> 260 ms on 2 cores).

        Only for reads grouped by function alone: SQLite walks the functions in id order and needs no
        sorter. Parts are separate statements: a write committed between them shows in later parts
        only, as it would in a read that started a moment later.
        """
        ranges = self._fid_ranges(where, params)
        if ranges is None:
            sql = self._per_function_sql(head, aggs, where, idle=idle)
            rows: list[Sequence[Any]] = self._conn().execute(sql, [*window, *params]).fetchall()
            return rows
        sql = self._per_function_sql(head, aggs, f"({where}) AND f.id >= ? AND f.id < ?", idle=idle)

        def part(bounds: tuple[int, int]) -> list[Sequence[Any]]:
            self._split_worker.active = True
            return list(self._conn().execute(sql, [*window, *params, *bounds]).fetchall())

        with self._split_lock:
            self._split_reads += 1
        try:
            return list(chain.from_iterable(self._split_pool_get().map(part, ranges)))
        finally:
            with self._split_lock:
                self._split_reads -= 1

    def _fid_ranges(self, where: str, params: Sequence[Any]) -> list[tuple[int, int]] | None:
        """Id ranges of about equal width over the filtered functions, or None to read in one query."""
        if self._read_split < 2 or self._split_reads or getattr(self._split_worker, "active", False):
            # One core; or another split read holds the reader threads (concurrent callers already
            # share the cores: each reads in one query); or on a reader thread (it would wait on itself).
            return None
        lo, hi = self._conn().execute(f"SELECT MIN(f.id), MAX(f.id) FROM functions f WHERE {where}", params).fetchone()
        if lo is None or hi - lo + 1 < _SPLIT_MIN_FUNCTIONS:
            return None
        width = -(-(hi - lo + 1) // self._read_split)
        return [(first, min(first + width, hi + 1)) for first in range(lo, hi + 1, width)]

    def _split_pool_get(self) -> ThreadPoolExecutor:
        with self._split_lock:
            if self._split_pool is None:
                self._split_pool = ThreadPoolExecutor(self._read_split, thread_name_prefix="opsview-store-read")
            return self._split_pool

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

    def fleet(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, measures: Collection[str] | None = None
    ) -> list[FleetRow]:
        """Every function aggregated over [start, end); `measures` limits the aggregation (others are None)."""
        where, params = self._where(flt)
        aggs, build = self._aggregates("s.", measures)
        rows = self._per_function_rows(
            self._INFO_COLS, aggs, where, [to_epoch(start), to_epoch(end)], params,
            idle=True,
        )
        # Sorted here, not by ORDER BY: SQLite's sorter spooled 5,000 wide rows (+30% of the read), and
        # code-point order is the same on every backend whatever PostgreSQL's collation.
        rows.sort(key=_BY_KEY)
        out = []
        for row in rows:
            out.append(FleetRow(self._info(row[:9]), build(row[10:]), int(row[9])))
        return out

    def fleet_measures(
        self, start: datetime, end: datetime, flt: FleetFilter | None = None, measures: Collection[str] | None = None
    ) -> dict[FunctionKey, Measures]:
        """`fleet` without the function records, for readers that hold them already (the alert engine):
        only functions with data in [start, end) appear. Nine text columns per function less to read."""
        where, params = self._where(flt)
        aggs, build = self._aggregates("s.", measures)
        rows = self._conn().execute(
            self._per_function_sql("f.id", aggs, where, idle=False), [to_epoch(start), to_epoch(end), *params],
        ).fetchall()
        keys = self._keys_by_fid({r[0] for r in rows})
        return {keys[r[0]]: build(r[2:]) for r in rows}

    def _keys_by_fid(self, fids: Collection[int]) -> dict[int, FunctionKey]:
        """fid -> key; a function's id and key never change, so the map only grows."""
        known = self._fid_keys
        if any(fid not in known for fid in fids):
            for fid, provider, account, region, name in self._conn().execute(
                "SELECT id, provider, account, region, name FROM functions"
            ):
                known[fid] = FunctionKey(provider, account, region, name)
        return known

    def series(self, key: FunctionKey, start: datetime, end: datetime, step_s: int | None = None) -> list[Sample]:
        fid = self._conn().execute(
            "SELECT id FROM functions WHERE provider=? AND account=? AND region=? AND name=?",
            (key.provider, key.account, key.region, key.name),
        ).fetchone()
        if fid is None:
            return []
        if step_s:
            rows = self._conn().execute(
                f"SELECT start - start % {int(step_s)}, MAX(period_s), {', '.join(self._aggregates()[0])} FROM samples "
                f"WHERE fid = ? AND start >= ? AND start < ? GROUP BY start - start % {int(step_s)} ORDER BY 1",
                (fid[0], to_epoch(start), to_epoch(end)),
            )
            return [sample_from_row(key, from_epoch(r[0]), max(int(step_s), int(r[1])), r[2:]) for r in rows]
        rows = self._conn().execute(
            f"SELECT start, period_s, {MEASURE_COLUMNS} FROM samples WHERE fid = ? AND start >= ? AND start < ? "
            "ORDER BY start",
            (fid[0], to_epoch(start), to_epoch(end)),
        )
        return [sample_from_row(key, from_epoch(r[0]), r[1], r[2:]) for r in rows]

    def totals(self, start: datetime, end: datetime, flt: FleetFilter | None = None) -> dict[str, Measures]:
        where, params = self._where(flt)
        aggs = ", ".join(self._aggregates("s.")[0])
        rows = self._conn().execute(
            f"SELECT f.provider, {aggs} FROM samples s JOIN functions f ON f.id = s.fid "
            f"WHERE s.start >= ? AND s.start < ? AND {where} GROUP BY f.provider ORDER BY f.provider",
            [to_epoch(start), to_epoch(end), *params],
        )
        return {r[0]: _measures(r[1:]) for r in rows}

    def provider_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None,
        measures: Collection[str] | None = None,
    ) -> dict[str, list[tuple[datetime, Measures]]]:
        """Per-provider buckets; `measures` limits the aggregation (others are None): the overview's
        charts need five of the fourteen, and each aggregate costs per sample scanned."""
        where, params = self._where(flt)
        step = int(step_s)
        aggs, build = self._aggregates("s.", measures)
        rows = self._conn().execute(
            f"SELECT f.provider, s.start - s.start % {step}, {', '.join(aggs)} "
            "FROM samples s JOIN functions f ON f.id = s.fid "
            f"WHERE s.start >= ? AND s.start < ? AND {where} GROUP BY f.provider, s.start - s.start % {step} "
            "ORDER BY 1, 2",
            [to_epoch(start), to_epoch(end), *params],
        )
        out: dict[str, list[tuple[datetime, Measures]]] = {}
        for r in rows:
            out.setdefault(r[0], []).append((from_epoch(r[1]), build(r[2:])))
        return out

    def fleet_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None,
        measures: Sequence[str] | None = None,
    ) -> dict[FunctionKey, list[tuple[datetime, Measures]]]:
        """Per-function series for the whole (filtered) fleet in one query, never one query per function.

        `measures` limits the aggregation to those names (the others stay None): sparklines need two.
        """
        if measures is not None and not set(measures) <= set(MEASURE_NAMES):
            raise ValueError(f"unknown measure in {sorted(set(measures) - set(MEASURE_NAMES))}")
        where, params = self._where(flt)
        step = int(step_s)
        bucket = f"s.start - s.start % {step}"
        aggs, build = self._aggregates("s.", measures)
        # One query, not split over reader threads: grouping by bucket runs SQLite's sorter, and two
        # sorters at once were slower than one (5,000 functions: 750 ms in one query, 980 in two parts).
        rows = self._conn().execute(
            self._per_function_sql("f.id", aggs, where, idle=False, group=bucket)
            + " ORDER BY 1, 2",
            [to_epoch(start), to_epoch(end), *params],
        ).fetchall()
        keys = self._keys_by_fid({r[0] for r in rows})
        times: dict[int, datetime] = {}  # every function shares the same few bucket starts
        out: dict[FunctionKey, list[tuple[datetime, Measures]]] = {}
        for r in rows:
            at = times.get(r[1]) or times.setdefault(r[1], from_epoch(r[1]))
            key = keys[r[0]]
            series = out.get(key)
            if series is None:
                series = out[key] = []
            series.append((at, build(r[3:])))
        return out

    def last_bucket(self, provider: str, account: str | None = None, region: str | None = None) -> datetime | None:
        where, params = self._where(FleetFilter(provider, account, region))
        row = self._conn().execute(
            f"SELECT MAX(s.start) FROM functions f JOIN samples s ON s.fid = f.id WHERE {where}", params
        ).fetchone()
        return from_epoch(row[0]) if row and row[0] is not None else None

    def latest_health(self) -> list[CollectorHealth]:
        rows = self._conn().execute(
            "SELECT source, provider, scope, at, ok, error, functions, samples, duration_s FROM health h "
            "WHERE id = (SELECT id FROM health h2 WHERE h2.source = h.source AND h2.scope = h.scope "
            "ORDER BY at DESC, id DESC LIMIT 1) ORDER BY source, scope"
        )
        return [_health(r) for r in rows]

    def health_history(
        self, source: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[CollectorHealth]:
        clauses: list[str] = ["1=1"]
        params: list[Any] = []
        if source is not None:
            clauses.append("source = ?")
            params.append(source)
        if since is not None:
            clauses.append("at >= ?")
            params.append(to_epoch(since))
        rows = self._conn().execute(
            "SELECT source, provider, scope, at, ok, error, functions, samples, duration_s FROM health "
            f"WHERE {' AND '.join(clauses)} ORDER BY at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [_health(r) for r in rows]

    def fleet_buckets(
        self, end: datetime, step_s: int, count: int, flt: FleetFilter | None = None,
        measures: Collection[str] | None = None,
    ) -> FleetBuckets:
        """The last `count` spans of `step_s` ending at `end`, for every function, in one query.

        `measures` limits the aggregation (the others are not read), as in `fleet`.
        """
        where, params = self._where(flt)
        step = int(step_s)
        end_s = to_epoch(end)
        # The span index is a literal: it is computed before the window's parameters.
        idx = f"({end_s} - 1 - s.start) / {step}"
        aggs, _ = self._aggregates("s.", measures)
        names = _present(measures)
        rows = self._conn().execute(
            self._per_function_sql("f.id", aggs, where, idle=False, group=idx),
            [end_s - step * int(count), end_s, *params],
        ).fetchall()
        if not rows:
            return FleetBuckets(int(count), (), (), dict.fromkeys(names, ()))
        fids, spans, _n, *columns = zip(*rows, strict=True)  # rows to columns in C
        keys = self._keys_by_fid(set(fids))
        by_name = dict(zip(names, columns, strict=True)) if names else {}  # no names: one NULL column
        return FleetBuckets(int(count), tuple(map(keys.__getitem__, fids)), spans, by_name)

    # --- alert state ---------------------------------------------------------------------------

    _ALERT_COLS = (
        "rule, fkey, state, severity, since, active_since, value, threshold, op, summary, description, silenced, "
        "labels, evaluated_at"
    )

    def alert_records(self, states: set[AlertState] | None = None) -> list[AlertRecord]:
        params: list[Any] = []
        where = "1=1"
        if states is not None:
            if not states:
                return []
            where = f"state IN ({', '.join('?' for _ in states)})"
            params = [str(s) for s in sorted(states)]
        rows = self._conn().execute(
            f"SELECT {self._ALERT_COLS} FROM alert_state WHERE {where} ORDER BY rule, fkey", params
        )
        # Thousands of records name the same few thousand functions and label sets: parse each once.
        keys: dict[str, FunctionKey] = {}
        labels: dict[str, Mapping[str, str]] = {}
        return [
            _alert_record(
                r,
                keys.get(r[1]) or keys.setdefault(r[1], FunctionKey.parse(r[1])),
                labels[r[12]] if r[12] in labels else labels.setdefault(r[12], json.loads(r[12]) if r[12] else {}),
            )
            for r in rows
        ]

    def alert_events(
        self, key: FunctionKey | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[AlertEvent]:
        clauses = ["1=1"]
        params: list[Any] = []
        if key is not None:
            clauses.append("fkey = ?")
            params.append(str(key))
        if since is not None:
            clauses.append("at >= ?")
            params.append(to_epoch(since))
        rows = self._conn().execute(
            "SELECT at, rule, fkey, from_state, to_state, value, severity FROM alert_history "
            f"WHERE {' AND '.join(clauses)} ORDER BY at DESC, id DESC LIMIT ?",
            [*params, limit],
        )
        return [
            AlertEvent(from_epoch(r[0]), r[1], FunctionKey.parse(r[2]), AlertState(r[3]), AlertState(r[4]), r[5], r[6])
            for r in rows
        ]

    def apply_alert_changes(self, changes: AlertChanges) -> None:
        """Write one evaluation's state, history, ledger and queued notifications atomically."""
        with self._write() as conn:
            if changes.drop_rules_except is not None:
                keep = sorted(changes.drop_rules_except)
                # `NOT IN ()` is not SQL; with no rules left every state goes.
                where = f"rule NOT IN ({', '.join('?' for _ in keep)})" if keep else "1=1"
                conn.execute(f"DELETE FROM alert_state WHERE {where}", keep)
                conn.execute(f"DELETE FROM alert_ledger WHERE {where}", keep)
            labels_json: dict[int, str] = {}  # records of one rule share its labels mapping: serialise it once
            # Thousands of rows share a few timestamps and name each function several times: convert each once.
            epochs: dict[datetime, int] = {}
            names: dict[FunctionKey, str] = {}

            def epoch(at: datetime) -> int:
                value = epochs.get(at)
                return value if value is not None else epochs.setdefault(at, to_epoch(at))

            def name(key: FunctionKey) -> str:
                return names.get(key) or names.setdefault(key, str(key))

            conn.executemany(
                f"INSERT INTO alert_state ({self._ALERT_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (rule, fkey) DO UPDATE SET "
                + ", ".join(f"{c} = excluded.{c}" for c in self._ALERT_COLS.replace(" ", "").split(",")[2:]),
                [
                    (
                        r.rule, name(r.key), r.state.value, r.severity, epoch(r.since),
                        None if r.active_since is None else epoch(r.active_since), r.value, r.threshold, r.op,
                        r.summary, r.description, int(r.silenced),
                        labels_json.get(id(r.labels)) or labels_json.setdefault(
                            id(r.labels), json.dumps(dict(r.labels), sort_keys=True)),
                        None if r.evaluated_at is None else epoch(r.evaluated_at),
                    )
                    for r in changes.upsert
                ],
            )
            conn.executemany("DELETE FROM alert_state WHERE rule = ? AND fkey = ?",
                             [(rule, str(key)) for rule, key in changes.delete])
            conn.executemany("DELETE FROM alert_ledger WHERE rule = ? AND fkey = ?",
                             [(rule, str(key)) for rule, key in changes.delete])
            conn.executemany(
                "INSERT INTO alert_history (at, rule, fkey, from_state, to_state, value, severity) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (epoch(e.at), e.rule, name(e.key), e.from_state.value, e.to_state.value, e.value, e.severity)
                    for e in changes.events
                ],
            )
            conn.executemany(
                "INSERT INTO alert_ledger (notifier, rule, fkey, status, active_since, at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (notifier, rule, fkey) DO UPDATE SET status = excluded.status, "
                "active_since = excluded.active_since, at = excluded.at",
                [
                    (
                        e.notifier, e.rule, str(e.key), e.status,
                        None if e.active_since is None else to_epoch(e.active_since), to_epoch(e.at),
                    )
                    for e in changes.ledger
                ],
            )
            conn.executemany(
                "INSERT INTO alert_outbox (notifier, status, grp, payload, created) VALUES (?, ?, ?, ?, ?)",
                [
                    (o.notifier, o.status, o.group, json.dumps(dict(o.payload), sort_keys=True), to_epoch(o.created))
                    for o in changes.outbox
                ],
            )

    def alert_ledger(self) -> list[LedgerEntry]:
        rows = self._conn().execute("SELECT notifier, rule, fkey, status, active_since, at FROM alert_ledger")
        return [
            LedgerEntry(r[0], r[1], FunctionKey.parse(r[2]), r[3], None if r[4] is None else from_epoch(r[4]),
                        from_epoch(r[5]))
            for r in rows
        ]

    def outbox(self, *, undelivered: bool = True, limit: int = 1000) -> list[OutboxItem]:
        where = "delivered_at IS NULL" if undelivered else "1=1"
        rows = self._conn().execute(
            "SELECT id, notifier, status, grp, payload, created, attempts, last_error, delivered_at FROM alert_outbox "
            f"WHERE {where} ORDER BY id LIMIT ?",
            (limit,),
        )
        return [
            OutboxItem(r[0], r[1], r[2], r[3], json.loads(r[4]), from_epoch(r[5]), r[6], r[7],
                       None if r[8] is None else from_epoch(r[8]))
            for r in rows
        ]

    def mark_outbox(self, item_id: int, now: datetime, error: str | None = None) -> None:
        """Record one delivery attempt: delivered when `error` is None, else kept for the next check."""
        with self._write() as conn:
            if error is None:
                conn.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, delivered_at = ?, last_error = NULL WHERE id = ?",
                    (to_epoch(now), item_id),
                )
            else:
                conn.execute(
                    "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?", (error, item_id)
                )

    def add_silence(
        self, rule: str, function: str, starts: datetime, ends: datetime, comment: str = "", created_by: str = ""
    ) -> Silence:
        with self._write() as conn:
            silence_id = self._insert_id(
                conn,
                "INSERT INTO alert_silences (rule, function, starts, ends, comment, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (rule, function, to_epoch(starts), to_epoch(ends), comment, created_by),
            )
        return Silence(silence_id, rule, function, from_epoch(to_epoch(starts)), from_epoch(to_epoch(ends)), comment,
                       created_by)

    def silences(self, active_at: datetime | None = None) -> list[Silence]:
        where, params = "1=1", []
        if active_at is not None:
            where, params = "starts <= ? AND ends > ?", [to_epoch(active_at)] * 2
        rows = self._conn().execute(
            f"SELECT id, rule, function, starts, ends, comment, created_by FROM alert_silences WHERE {where} "
            "ORDER BY id",
            params,
        )
        return [Silence(r[0], r[1], r[2], from_epoch(r[3]), from_epoch(r[4]), r[5], r[6]) for r in rows]

    def remove_silence(self, silence_id: int) -> bool:
        with self._write() as conn:
            return self._changes(conn, "DELETE FROM alert_silences WHERE id = ?", (silence_id,)) > 0

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take a named lock (free, expired, or already ours); BEGIN IMMEDIATE makes the test-and-set atomic."""
        with self._write() as conn:
            row = conn.execute("SELECT owner, expires FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > to_epoch(now):
                return False
            conn.execute(
                "INSERT INTO locks (name, owner, expires) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires",
                (name, owner, to_epoch(now + ttl)),
            )
            return True

    def lock_owner(self, name: str) -> str | None:
        row = self._conn().execute("SELECT owner FROM locks WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def release_lock(self, name: str, owner: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM locks WHERE name = ? AND owner = ?", (name, owner))

    # --- small key/value state (last refresh time, etc.) ------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


_measures = measures_from_values
_NO_MEASURES = Measures()


def _present(measures: Collection[str] | None) -> tuple[str, ...]:
    """The measures a read aggregates, in MEASURE_NAMES order (every one for None)."""
    return MEASURE_NAMES if measures is None else tuple(name for name in MEASURE_NAMES if name in measures)


def _no_measures(_: Sequence[Any]) -> Measures:
    return _NO_MEASURES


def _alert_record(r: Sequence[Any], key: FunctionKey, labels: Mapping[str, str]) -> AlertRecord:
    return AlertRecord(
        rule=r[0], key=key, state=AlertState(r[2]), severity=r[3], since=from_epoch(r[4]),
        active_since=None if r[5] is None else from_epoch(r[5]), value=r[6], threshold=r[7], op=r[8], summary=r[9],
        description=r[10], silenced=bool(r[11]), labels=labels,
        evaluated_at=None if r[13] is None else from_epoch(r[13]),
    )


def _health(r: Sequence[Any]) -> CollectorHealth:
    return CollectorHealth(
        source=r[0], provider=r[1], scope=r[2], at=from_epoch(r[3]), ok=bool(r[4]), error=r[5],
        functions=r[6], samples=r[7], duration_s=r[8],
    )
