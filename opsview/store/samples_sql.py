"""The sample store in SQL both SQLite and PostgreSQL speak: functions, samples, collector health, meta.

One of the two faces of the store (`SampleStore`; `alerts_sql` is the other). Backends combine both
mixins and provide the connections (`SqlBackend`); queries use `?` placeholders, which the
PostgreSQL store translates. Aggregation SQL comes from `opsview.store.sql`, generated from the schema.
"""

from __future__ import annotations

import json
import operator
import os
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import chain, islice
from typing import Any

from opsview.schema import (
    MEASURE_NAMES,
    CollectorHealth,
    Coverage,
    FunctionInfo,
    FunctionKey,
    Measures,
    Sample,
    from_epoch,
    measures_from_values,
    sample_from_row,
    to_epoch,
)
from opsview.store.base import FleetBuckets, FleetFilter, FleetRow, MaintenanceResult
from opsview.store.sql import (
    MEASURE_COLUMNS,
    ROLLUP_PERIOD_S,
    UPSERT_SAMPLE,
    SqlBackend,
    function_rows,
    health_record,
    health_rows,
    present_measures,
    where_sql,
)

_WRITE_CHUNK = 200_000  # rows per transaction: fewer, larger commits dirty far fewer pages
_MEASURES_OF = operator.attrgetter(*MEASURE_NAMES)
_PK_ORDER = operator.itemgetter(0, 1, 2)  # the whole primary key: duplicates in a batch end up adjacent
# Fleet-wide reads split by function id across this many reader threads (one per core, at most 4):
# the database engine aggregates with the GIL released, so parts run on separate cores.
_READ_SPLIT = min(4, os.cpu_count() or 1)
_SPLIT_MIN_FUNCTIONS = 1_000  # below this a fleet read takes a few ms: one query, no hand-off
_BY_KEY = operator.itemgetter(0, 1, 2, 3)  # provider, account, region, name: the head of `fleet`'s rows


class SampleSql(SqlBackend):
    """`SampleStore` in portable SQL; see SQLiteStore and PostgresStore for the connections."""

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

    # --- what a backend may change ------------------------------------------------------------

    def _upsert_sample_rows(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(UPSERT_SAMPLE, rows)

    def _close_split_pool(self) -> None:
        with self._split_lock:
            pool, self._split_pool = self._split_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    # --- writes ----------------------------------------------------------------------------

    def upsert_functions(self, infos: Iterable[FunctionInfo]) -> int:
        rows = function_rows(infos)
        if rows:
            with self._write() as conn:
                self._upsert_function_rows(conn, rows)
        return len(rows)

    def _upsert_function_rows(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
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

    @contextmanager
    def _sample_write(self) -> Iterator[Any]:
        try:
            with self._write() as conn:
                yield conn
        except BaseException:
            # Ids `_fid_map` read inside a transaction that rolled back may never exist, and SQLite hands
            # the same ids to the next new functions: forget them, or samples land on another function.
            with self._fid_lock:
                self._fids.clear()
            raise

    def write_samples(self, samples: Iterable[Sample]) -> int:
        written = 0
        it = iter(samples)
        # islice fills each chunk in C: a Python append loop cost ~6% of a bulk write
        while batch := list(islice(it, _WRITE_CHUNK)):
            with self._sample_write() as conn:
                written += self._write_rows(conn, batch)
        return written

    def write_batch(
        self, infos: Iterable[FunctionInfo], samples: Iterable[Sample], health: Iterable[CollectorHealth] = (),
        coverage: Iterable[Coverage] = (),
    ) -> int:
        """Functions, their samples, health entries and coverage in one transaction: a process killed part
        way leaves all of them or none, never functions without their samples. Samples still reach the
        database chunk by chunk (memory stays flat); the chunks share the transaction."""
        functions, entries = function_rows(infos), health_rows(health)
        written = 0
        it = iter(samples)
        with self._sample_write() as conn:
            if functions:
                self._upsert_function_rows(conn, functions)
            while batch := list(islice(it, _WRITE_CHUNK)):
                written += self._write_rows(conn, batch)
            if entries:
                self._insert_health(conn, entries)
            self._insert_coverage(conn, coverage)
        return written

    def _write_rows(self, conn: Any, batch: Sequence[Sample]) -> int:
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
        rows = health_rows(entries)
        if rows:
            with self._write() as conn:
                self._insert_health(conn, rows)

    @staticmethod
    def _insert_health(conn: Any, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(
            "INSERT INTO health (source, provider, scope, at, ok, error, functions, samples, duration_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    def maintain(self, now: datetime, retention: timedelta, rollup_after: timedelta) -> MaintenanceResult:
        """Roll minute buckets older than `rollup_after` into hours; drop what is older than `retention`."""
        rollup_cutoff = to_epoch(now - rollup_after)
        rollup_cutoff -= rollup_cutoff % ROLLUP_PERIOD_S  # whole hours only, so an hour is rolled once
        retention_cutoff = to_epoch(now - retention)
        aggs = ", ".join(self._aggregates()[0])
        with self._write() as conn:
            rolled = self._roll_up(conn, "samples", "fid", MEASURE_COLUMNS, aggs, rollup_cutoff)
            deleted = self._changes(conn, "DELETE FROM samples WHERE start < ?", (retention_cutoff,))
            deleted_health = self._changes(conn, "DELETE FROM health WHERE at < ?", (retention_cutoff,))
            # Alert bookkeeping and error signatures follow the same retention, in the same transaction.
            deleted_history = self._prune_alerts(conn, retention_cutoff)
            self._prune_coverage(conn, retention_cutoff)
            errors = self._maintain_errors(conn, rollup_cutoff, retention_cutoff)
        return MaintenanceResult(rolled, deleted, deleted_health, deleted_history, *errors)

    # --- reads -----------------------------------------------------------------------------

    _where = staticmethod(where_sql)

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
        return [health_record(r) for r in rows]

    def health_history(
        self, source: str | None = None, since: datetime | None = None, limit: int = 200
    ) -> list[CollectorHealth]:
        rows = self._newest(
            "SELECT source, provider, scope, at, ok, error, functions, samples, duration_s FROM health",
            {"source": source}, since, limit,
        )
        return [health_record(r) for r in rows]

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
        names = present_measures(measures)
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

