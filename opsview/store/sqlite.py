"""The embedded store: one SQLite file in WAL mode shared by collectors, viewers and checks.

One writer and many readers in other processes work at once (WAL); each thread gets its
own connection. Every write is one transaction, so a writer killed mid-batch leaves the
previous batches whole and the interrupted one absent.
"""

from __future__ import annotations

import contextlib
import json
import operator
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
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
    to_epoch,
)
from opsview.store.base import FleetFilter, FleetRow, MaintenanceResult
from opsview.store.migrations import LATEST_VERSION, MIGRATIONS
from opsview.store.sql import MEASURE_COLUMNS, aggregate_sql

_BUSY_TIMEOUT_MS = 15_000
_WRITE_CHUNK = 200_000  # rows per transaction: fewer, larger commits dirty far fewer pages
_ROLLUP_PERIOD_S = 3600

_UPSERT_SAMPLE = (
    f"INSERT INTO samples (fid, start, period_s, {MEASURE_COLUMNS}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in MEASURE_NAMES)}) "
    "ON CONFLICT (fid, start, period_s) DO UPDATE SET "
    # A re-collection refines a bucket; a value it does not carry keeps the stored one, so
    # two passes that fill different measures (metrics, then logs) merge instead of erase.
    + ", ".join(f"{m} = COALESCE(excluded.{m}, samples.{m})" for m in MEASURE_NAMES)
)


_MEASURES_OF = operator.attrgetter(*MEASURE_NAMES)
_PK_ORDER = operator.itemgetter(0, 1)


class StoreError(Exception):
    """The store cannot be opened or used; the message is meant for the user."""


class SQLiteStore:
    """`Store` on SQLite."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        self._local = threading.local()
        self._fids: dict[FunctionKey, int] = {}
        self._fid_lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: cannot create store directory ({exc.strerror})") from None
        elif not self.path.exists():
            raise StoreError(f"{self.path}: store not found")
        self._migrate()

    # --- connections -----------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                if self.read_only:
                    conn = sqlite3.connect(
                        f"file:{self.path}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_MS / 1000,
                        isolation_level=None, check_same_thread=False,
                    )
                else:
                    conn = sqlite3.connect(
                        self.path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
                    )
                    # 16 KiB pages hold more 17-column rows per page (set before WAL; no-op on an existing file)
                    conn.execute("PRAGMA page_size=16384")
                    conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA cache_size=-65536")
                conn.execute("PRAGMA temp_store=MEMORY")
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.read_only:
            raise StoreError(f"{self.path}: store opened read-only")
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(sqlite3.ProgrammingError):  # closed by another thread's teardown
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        conn = self._conn()
        try:
            if self.read_only:
                version = self._schema_version(conn)
                if version < LATEST_VERSION:
                    raise StoreError(f"{self.path}: store schema v{version} is older than v{LATEST_VERSION}")
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                version = self._schema_version(conn)
                if version > LATEST_VERSION:
                    raise StoreError(
                        f"{self.path}: store schema v{version} is newer than this opsview "
                        f"(v{LATEST_VERSION}); upgrade opsview"
                    )
                for migration in MIGRATIONS:
                    if migration.version > version:
                        for statement in migration.statements:
                            conn.execute(statement)
                        conn.execute("DELETE FROM schema_version")
                        conn.execute("INSERT INTO schema_version VALUES (?)", (migration.version,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None

    @staticmethod
    def _schema_version(conn: sqlite3.Connection) -> int:
        try:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row and row[0] is not None else 0

    @property
    def schema_version(self) -> int:
        return self._schema_version(self._conn())

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
                "runtime = COALESCE(excluded.runtime, runtime), memory_mb = COALESCE(excluded.memory_mb, memory_mb), "
                "timeout_s = COALESCE(excluded.timeout_s, timeout_s), "
                "resource_id = COALESCE(excluded.resource_id, resource_id), "
                "labels = CASE WHEN excluded.labels = '{}' THEN labels ELSE excluded.labels END",
                rows,
            )
        return len(rows)

    def _fid_map(self, keys: set[FunctionKey], conn: sqlite3.Connection) -> dict[FunctionKey, int]:
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
        batch: list[Sample] = []
        written = 0
        for sample in samples:
            batch.append(sample)
            if len(batch) >= _WRITE_CHUNK:
                written += self._write_chunk(batch)
                batch = []
        if batch:
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
            conn.executemany(_UPSERT_SAMPLE, rows)
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
        aggs = ", ".join(aggregate_sql())
        with self._write() as conn:
            cur = conn.execute(
                f"INSERT INTO samples (fid, start, period_s, {MEASURE_COLUMNS}) "
                f"SELECT fid, start - start % {_ROLLUP_PERIOD_S}, {_ROLLUP_PERIOD_S}, {aggs} FROM samples "
                f"WHERE period_s < {_ROLLUP_PERIOD_S} AND start < ? GROUP BY fid, start - start % {_ROLLUP_PERIOD_S} "
                "ON CONFLICT (fid, start, period_s) DO NOTHING",
                (rollup_cutoff,),
            )
            rolled = cur.rowcount
            conn.execute(f"DELETE FROM samples WHERE period_s < {_ROLLUP_PERIOD_S} AND start < ?", (rollup_cutoff,))
            deleted = conn.execute("DELETE FROM samples WHERE start < ?", (retention_cutoff,)).rowcount
            deleted_health = conn.execute("DELETE FROM health WHERE at < ?", (retention_cutoff,)).rowcount
        return MaintenanceResult(rolled, deleted, deleted_health)

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

    @staticmethod
    def _info(row: Sequence[Any]) -> FunctionInfo:
        provider, account, region, name, runtime, memory_mb, timeout_s, resource_id, labels = row
        return FunctionInfo(
            FunctionKey(provider, account, region, name), runtime, memory_mb, timeout_s, resource_id,
            json.loads(labels) if labels else {},
        )

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

    def fleet(self, start: datetime, end: datetime, flt: FleetFilter | None = None) -> list[FleetRow]:
        where, params = self._where(flt)
        aggs = ", ".join(aggregate_sql("s."))
        # The correlated join lets SQLite seek (fid, start) per function instead of scanning.
        rows = self._conn().execute(
            f"SELECT {self._INFO_COLS}, COUNT(s.start), {aggs} FROM functions f "
            "LEFT JOIN samples s ON s.fid = f.id AND s.start >= ? AND s.start < ? "
            f"WHERE {where} GROUP BY f.id ORDER BY f.provider, f.account, f.region, f.name",
            [to_epoch(start), to_epoch(end), *params],
        )
        out = []
        for row in rows:
            out.append(FleetRow(self._info(row[:9]), _measures(row[10:]), int(row[9])))
        return out

    def series(self, key: FunctionKey, start: datetime, end: datetime, step_s: int | None = None) -> list[Sample]:
        fid = self._conn().execute(
            "SELECT id FROM functions WHERE provider=? AND account=? AND region=? AND name=?",
            (key.provider, key.account, key.region, key.name),
        ).fetchone()
        if fid is None:
            return []
        if step_s:
            rows = self._conn().execute(
                f"SELECT start - start % {int(step_s)}, MAX(period_s), {', '.join(aggregate_sql())} FROM samples "
                f"WHERE fid = ? AND start >= ? AND start < ? GROUP BY start - start % {int(step_s)} ORDER BY 1",
                (fid[0], to_epoch(start), to_epoch(end)),
            )
            return [
                Sample(key=key, start=from_epoch(r[0]), period_s=max(int(step_s), int(r[1])), **_measure_kwargs(r[2:]))
                for r in rows
            ]
        rows = self._conn().execute(
            f"SELECT start, period_s, {MEASURE_COLUMNS} FROM samples WHERE fid = ? AND start >= ? AND start < ? "
            "ORDER BY start",
            (fid[0], to_epoch(start), to_epoch(end)),
        )
        return [Sample(key=key, start=from_epoch(r[0]), period_s=r[1], **_measure_kwargs(r[2:])) for r in rows]

    def totals(self, start: datetime, end: datetime, flt: FleetFilter | None = None) -> dict[str, Measures]:
        where, params = self._where(flt)
        rows = self._conn().execute(
            f"SELECT f.provider, {', '.join(aggregate_sql('s.'))} FROM samples s JOIN functions f ON f.id = s.fid "
            f"WHERE s.start >= ? AND s.start < ? AND {where} GROUP BY f.provider ORDER BY f.provider",
            [to_epoch(start), to_epoch(end), *params],
        )
        return {r[0]: _measures(r[1:]) for r in rows}

    def provider_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None
    ) -> dict[str, list[tuple[datetime, Measures]]]:
        where, params = self._where(flt)
        step = int(step_s)
        rows = self._conn().execute(
            f"SELECT f.provider, s.start - s.start % {step}, {', '.join(aggregate_sql('s.'))} "
            "FROM samples s JOIN functions f ON f.id = s.fid "
            f"WHERE s.start >= ? AND s.start < ? AND {where} GROUP BY f.provider, s.start - s.start % {step} "
            "ORDER BY 1, 2",
            [to_epoch(start), to_epoch(end), *params],
        )
        out: dict[str, list[tuple[datetime, Measures]]] = {}
        for r in rows:
            out.setdefault(r[0], []).append((from_epoch(r[1]), _measures(r[2:])))
        return out

    def fleet_series(
        self, start: datetime, end: datetime, step_s: int, flt: FleetFilter | None = None
    ) -> dict[FunctionKey, list[tuple[datetime, Measures]]]:
        """Per-function series for the whole (filtered) fleet in one query, never one query per function."""
        where, params = self._where(flt)
        step = int(step_s)
        rows = self._conn().execute(
            f"SELECT f.id, f.provider, f.account, f.region, f.name, s.start - s.start % {step}, "
            f"{', '.join(aggregate_sql('s.'))} FROM functions f JOIN samples s ON s.fid = f.id "
            f"AND s.start >= ? AND s.start < ? WHERE {where} GROUP BY f.id, s.start - s.start % {step} ORDER BY 1, 6",
            [to_epoch(start), to_epoch(end), *params],
        )
        out: dict[FunctionKey, list[tuple[datetime, Measures]]] = {}
        keys: dict[int, FunctionKey] = {}
        for r in rows:
            key = keys.get(r[0])
            if key is None:
                key = keys[r[0]] = FunctionKey(r[1], r[2], r[3], r[4])
                out[key] = []
            out[key].append((from_epoch(r[5]), _measures(r[6:])))
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
        self, end: datetime, step_s: int, count: int, flt: FleetFilter | None = None
    ) -> dict[FunctionKey, list[Measures | None]]:
        """The last `count` spans of `step_s` ending at `end`, per function, newest first, in one query.

        A span without any bucket is `None`; functions without data in the whole range are absent.
        """
        where, params = self._where(flt)
        step = int(step_s)
        end_s = to_epoch(end)
        rows = self._conn().execute(
            f"SELECT f.provider, f.account, f.region, f.name, (? - 1 - s.start) / {step} AS idx, "
            f"{', '.join(aggregate_sql('s.'))} FROM functions f JOIN samples s ON s.fid = f.id "
            f"AND s.start >= ? AND s.start < ? WHERE {where} GROUP BY f.id, idx",
            [end_s, end_s - step * int(count), end_s, *params],
        )
        out: dict[FunctionKey, list[Measures | None]] = {}
        for r in rows:
            key = FunctionKey(r[0], r[1], r[2], r[3])
            spans = out.get(key)
            if spans is None:
                spans = out[key] = [None] * int(count)
            spans[int(r[4])] = _measures(r[5:])
        return out

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
        return [_alert_record(r) for r in rows]

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
            conn.executemany(
                f"INSERT OR REPLACE INTO alert_state ({self._ALERT_COLS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.rule, str(r.key), str(r.state), r.severity, to_epoch(r.since),
                        None if r.active_since is None else to_epoch(r.active_since), r.value, r.threshold, r.op,
                        r.summary, r.description, int(r.silenced), json.dumps(dict(r.labels), sort_keys=True),
                        None if r.evaluated_at is None else to_epoch(r.evaluated_at),
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
                    (to_epoch(e.at), e.rule, str(e.key), str(e.from_state), str(e.to_state), e.value, e.severity)
                    for e in changes.events
                ],
            )
            conn.executemany(
                "INSERT OR REPLACE INTO alert_ledger (notifier, rule, fkey, status, active_since, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
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
            cur = conn.execute(
                "INSERT INTO alert_silences (rule, function, starts, ends, comment, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (rule, function, to_epoch(starts), to_epoch(ends), comment, created_by),
            )
            silence_id = int(cur.lastrowid or 0)
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
            return conn.execute("DELETE FROM alert_silences WHERE id = ?", (silence_id,)).rowcount > 0

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take a named lock (free, expired, or already ours); BEGIN IMMEDIATE makes the test-and-set atomic."""
        with self._write() as conn:
            row = conn.execute("SELECT owner, expires FROM locks WHERE name = ?", (name,)).fetchone()
            if row is not None and row[0] != owner and row[1] > to_epoch(now):
                return False
            conn.execute(
                "INSERT OR REPLACE INTO locks (name, owner, expires) VALUES (?, ?, ?)",
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


def _measure_kwargs(values: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(MEASURE_NAMES, values, strict=True))


def _measures(values: Sequence[Any]) -> Measures:
    return Measures(**_measure_kwargs(values))


def _alert_record(r: Sequence[Any]) -> AlertRecord:
    return AlertRecord(
        rule=r[0], key=FunctionKey.parse(r[1]), state=AlertState(r[2]), severity=r[3], since=from_epoch(r[4]),
        active_since=None if r[5] is None else from_epoch(r[5]), value=r[6], threshold=r[7], op=r[8], summary=r[9],
        description=r[10], silenced=bool(r[11]), labels=json.loads(r[12]) if r[12] else {},
        evaluated_at=None if r[13] is None else from_epoch(r[13]),
    )


def _health(r: Sequence[Any]) -> CollectorHealth:
    return CollectorHealth(
        source=r[0], provider=r[1], scope=r[2], at=from_epoch(r[3]), ok=bool(r[4]), error=r[5],
        functions=r[6], samples=r[7], duration_s=r[8],
    )
