"""The team store: PostgreSQL behind the same interface as SQLite.

psycopg 3 with a connection pool; each thread keeps one pooled connection (as the SQLite
store keeps one connection per thread). The SQL is shared with SQLite (`samples_sql`, `alerts_sql`); here
live the differences: `%s` placeholders, COPY for bulk sample writes, identity ids,
session advisory locks for `opsview check`, and a TimescaleDB hypertable when the
extension is available.
"""

from __future__ import annotations

import functools
import logging
import threading
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool, PoolTimeout

from opsview.redact import redact_url
from opsview.schema import COUNT_MEASURES, MEASURE_NAMES
from opsview.store.alerts_sql import AlertSql
from opsview.store.coverage_sql import CoverageSql
from opsview.store.errors import StoreError, register_unusable
from opsview.store.errors_events_sql import ErrorEventSql
from opsview.store.migrations import LATEST_VERSION, MIGRATIONS, postgres_statements
from opsview.store.samples_sql import SampleSql
from opsview.store.sql import MEASURE_COLUMNS

log = logging.getLogger(__name__)

# What psycopg raises when the server or the database fails rather than a statement: one line for the user.
_UNUSABLE = (
    psycopg.OperationalError, psycopg.errors.InsufficientPrivilege, psycopg.errors.ReadOnlySqlTransaction,
    PoolTimeout,
)
register_unusable(*_UNUSABLE)
_MIGRATION_LOCK = 0x6F70737669657701  # advisory lock key: one migrator at a time across hosts
_STAGE_COLUMNS = f"fid, start, period_s, {MEASURE_COLUMNS}"
# The columns' types as migrations create them (INTEGER -> BIGINT, REAL -> DOUBLE PRECISION);
# binary COPY needs them exactly.
_STAGE_TYPES = ["int8"] * 3 + ["int8" if m in COUNT_MEASURES else "float8" for m in MEASURE_NAMES]


@functools.lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """`?` placeholders to `%s` (and literal `%` to `%%`, as psycopg requires with parameters)."""
    return sql.replace("%", "%%").replace("?", "%s")


class _NumericLoader(Loader):
    """SUM() over BIGINT is NUMERIC in PostgreSQL; hand back int (or float), as SQLite does."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


class _Conn:
    """A psycopg connection that speaks the `?` SQL the shared store code writes."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.raw = conn
        self.staged = False  # this transaction left rows in samples_stage (see `_upsert_sample_rows`)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        return self.raw.execute(translate(sql), params or None)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = list(rows)
        if batch:
            with self.raw.cursor() as cur:
                cur.executemany(translate(sql), batch)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumericLoader)
    # The fleet reads are planned above jit_above_cost but run in a few hundred ms, of which JIT
    # compilation took ~20 ms per query (measured): not worth it for reads repeated every refresh.
    conn.execute("SET jit = off")


class PostgresStore(SampleSql, CoverageSql, AlertSql, ErrorEventSql):
    """`Store` on PostgreSQL: every face's SQL over a psycopg pool, with its own locks and bulk path."""

    def __init__(self, url: str, *, read_only: bool = False, max_connections: int = 16) -> None:
        super().__init__()
        self.url = redact_url(url, keep_user=True)
        self._conninfo = url  # may hold a password: used to connect, never shown or logged
        self.read_only = read_only
        self._local = threading.local()
        self._held: list[psycopg.Connection[Any]] = []
        self._held_lock = threading.Lock()
        self._lock_conns: dict[str, psycopg.Connection[Any]] = {}
        try:
            # One direct connection first: it fails fast with the server's own reason, where the
            # pool would retry quietly until its timeout.
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise StoreError(f"{self.url}: cannot connect to PostgreSQL ({self._scrub(exc)})") from None
        try:
            self._pool = ConnectionPool(
                url, min_size=1, max_size=max_connections, kwargs={"autocommit": True}, configure=_configure,
                open=True, timeout=15, name="opsview",
            )
            self._pool.wait(timeout=15)
        except Exception as exc:
            raise StoreError(f"{self.url}: cannot connect to PostgreSQL ({self._scrub(exc)})") from None
        self._migrate()

    def _scrub(self, exc: BaseException) -> str:
        """An error as one line, with the password (if the URL held one) blanked out."""
        text = " ".join(str(exc).split())
        secret = self._conninfo.partition("://")[2].rpartition("@")[0].partition(":")[2]
        return text.replace(secret, "***") if secret else text

    # --- connections -----------------------------------------------------------------------------

    def _conn(self) -> _Conn:
        conn: _Conn | None = getattr(self._local, "conn", None)
        if conn is None or conn.raw.closed:
            raw = self._pool.getconn()
            with self._held_lock:
                self._held.append(raw)
            conn = self._local.conn = _Conn(raw)
        return conn

    @contextmanager
    def _write(self) -> Iterator[_Conn]:
        """One write transaction; a server that cannot take it (gone, full, read-only, no privilege)
        raises StoreError so a command says so in one line."""
        if self.read_only:
            raise StoreError(f"{self.url}: store opened read-only")
        conn = self._conn()
        conn.staged = False
        try:
            with conn.raw.transaction():
                yield conn
        except _UNUSABLE as exc:
            raise StoreError(f"{self.url}: cannot write the store ({self._scrub(exc)})") from exc

    def close(self) -> None:
        self._close_split_pool()
        with self._held_lock:
            for raw in self._held:
                if not raw.closed:
                    self._pool.putconn(raw)
            self._held.clear()
        for raw in self._lock_conns.values():
            raw.close()
        self._lock_conns.clear()
        self._local = threading.local()
        self._pool.close()

    def _insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        row = conn.execute(sql + " RETURNING id", params).fetchone()
        return int(row[0])

    # --- schema ----------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to LATEST_VERSION. The version is read and migrated under a transaction-scoped
        advisory lock, so of several processes (on any host) opening a fresh database at once one migrates
        and the others, waiting on the lock, then find the schema current."""
        conn = self._conn()
        try:
            with conn.raw.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))
                if not self.read_only:
                    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                exists = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
                read = exists is not None and exists[0]
                row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone() if read else None
                version = int(row[0]) if row and row[0] is not None else 0
                if version > LATEST_VERSION:
                    raise StoreError(
                        f"{self.url}: store schema v{version} is newer than this opsview (v{LATEST_VERSION}); "
                        "upgrade opsview"
                    )
                if self.read_only:
                    if version < LATEST_VERSION:
                        raise StoreError(
                            f"{self.url}: store schema v{version} is older than v{LATEST_VERSION} "
                            "(nothing collected here yet? run `opsview collect` against it first)"
                        )
                    return
                for migration in MIGRATIONS:
                    if migration.version > version:
                        for statement in migration.statements:
                            conn.raw.execute(postgres_statements(statement))
                        for statement in migration.postgres_only:
                            conn.raw.execute(statement)
                        if migration.version == 1:
                            self._try_hypertable(conn)
                        conn.execute("DELETE FROM schema_version")
                        conn.execute("INSERT INTO schema_version VALUES (?)", (migration.version,))
        except psycopg.Error as exc:
            raise StoreError(f"{self.url}: cannot prepare the store ({self._scrub(exc)})") from None

    @staticmethod
    def _try_hypertable(conn: _Conn) -> None:
        available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        if not available:
            return
        # A savepoint, so a TimescaleDB that refuses (permissions, version) leaves a plain table behind.
        try:
            with conn.raw.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                conn.execute(
                    "SELECT create_hypertable('samples', 'start', chunk_time_interval => 86400, if_not_exists => TRUE)"
                )
            log.info("samples is a TimescaleDB hypertable")
        except psycopg.Error as exc:
            log.warning("TimescaleDB present but not usable, keeping a plain table: %s", exc)

    def probe(self, *, thorough: bool = False) -> None:
        """Raise StoreError unless the server answers and the schema is the one this opsview reads.
        (`thorough` adds nothing here: the server checks its own pages.)"""
        try:
            with self._pool.connection(timeout=10) as raw:
                row = raw.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except (psycopg.Error, PoolTimeout) as exc:
            raise StoreError(f"{self.url}: store unreachable ({self._scrub(exc)})") from None
        version = int(row[0]) if row and row[0] is not None else 0
        if version != LATEST_VERSION:
            raise StoreError(f"{self.url}: store schema v{version}, this opsview reads v{LATEST_VERSION}")

    @property
    def schema_version(self) -> int:
        row = self._conn().execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    # --- reads -----------------------------------------------------------------------------------

    # SUM over BIGINT is NUMERIC, parsed from text into Decimal per value: a third of a fleet read's
    # client time at 5,000 functions. Counts of invocations fit a BIGINT with room to spare.
    _COUNT_SUM = "SUM({})::bigint"

    def _per_function_sql(self, head: str, aggs: Sequence[str], where: str, *, idle: bool, group: str = "") -> str:
        # LATERAL: one primary-key range scan per function. A plain join is planned as a hash join over
        # every sample in the window found through the time index, and BRIN ranges not yet summarised
        # (the newest, which is what viewers read) match every window: 2x slower at 1 M samples.
        cols = ", ".join(f"{agg} AS m{i}" for i, agg in enumerate(aggs))
        outer = ", ".join(f"a.m{i}" for i in range(len(aggs)))
        if group:
            inner = (f"SELECT {group} AS g, COUNT(s.start) AS n, {cols} FROM samples s "
                     f"WHERE s.fid = f.id AND s.start >= ? AND s.start < ? GROUP BY 1")
            join = "LEFT JOIN" if idle else "JOIN"
            return f"SELECT {head}, a.g, a.n, {outer} FROM functions f {join} LATERAL ({inner}) a ON true WHERE {where}"
        inner = f"SELECT COUNT(s.start) AS n, {cols} FROM samples s WHERE s.fid = f.id AND s.start >= ? AND s.start < ?"
        kept = "" if idle else " AND a.n > 0"  # an aggregate without GROUP BY gives a row even for no samples
        return f"SELECT {head}, a.n, {outer} FROM functions f CROSS JOIN LATERAL ({inner}) a WHERE {where}{kept}"

    def _lock_coverage(self, conn: Any) -> None:
        # Merging reads a scope's rows and rewrites them: two sharded collectors doing it at once under READ
        # COMMITTED would both miss the other's row. Blocks only other coverage writers (and for milliseconds).
        conn.execute("LOCK TABLE coverage IN SHARE ROW EXCLUSIVE MODE")

    # --- bulk writes -----------------------------------------------------------------------------

    def _upsert_sample_rows(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        """COPY into a temporary table, then one INSERT ... ON CONFLICT: several times executemany's rate."""
        raw: psycopg.Connection[Any] = conn.raw
        # A commit lost in a crash is re-collected by the next refresh (collection restarts from the
        # newest stored bucket minus a look-back), so sample writes need not wait for the WAL flush.
        raw.execute("SET LOCAL synchronous_commit = off")
        raw.execute(
            "CREATE TEMP TABLE IF NOT EXISTS samples_stage (LIKE samples INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        if conn.staged:  # a second chunk in one transaction (`write_batch`): the first's rows are still there
            raw.execute("TRUNCATE samples_stage")
        conn.staged = True
        # Binary COPY: psycopg encodes each value in C instead of formatting text that the server
        # then parses: 2.7x the rows/s of text COPY (measured, 250k rows of this shape).
        with raw.cursor().copy(f"COPY samples_stage ({_STAGE_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_STAGE_TYPES)
            previous: tuple[Any, ...] | None = None
            for row in rows:
                # Sorted by key, so a bucket sent twice in one batch is adjacent. ON CONFLICT may touch a
                # row only once per statement: merge the two here as consecutive upserts would (the later
                # value wins, a missing one keeps the earlier).
                if previous is not None:
                    if previous[:3] != row[:3]:
                        copy.write_row(previous)
                    else:
                        row = tuple(p if r is None else r for p, r in zip(previous, row, strict=True))
                previous = row
            if previous is not None:
                copy.write_row(previous)
        updates = ", ".join(f"{m} = COALESCE(excluded.{m}, samples.{m})" for m in MEASURE_NAMES)
        raw.execute(
            f"INSERT INTO samples ({_STAGE_COLUMNS}) SELECT {_STAGE_COLUMNS} FROM samples_stage "
            f"ON CONFLICT (fid, start, period_s) DO UPDATE SET {updates}"
        )

    # --- locks: session advisory locks, released by PostgreSQL if the holder dies ---------------

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take a named lock across hosts; `ttl` is not needed: the lock dies with its session."""
        if name in self._lock_conns:
            return True
        raw = psycopg.connect(self._conninfo, autocommit=True)
        got = raw.execute("SELECT pg_try_advisory_lock(%s)", (_lock_key(name),)).fetchone()
        if not got or not got[0]:
            raw.close()
            return False
        self._lock_conns[name] = raw
        self._note_lock_owner(name, owner, now + ttl)
        return True

    def lock_owner(self, name: str) -> str | None:
        unsigned = _lock_key(name) & 0xFFFFFFFFFFFFFFFF
        row = self._conn().execute(
            "SELECT l.owner FROM locks l WHERE l.name = ? AND EXISTS (SELECT 1 FROM pg_locks p "
            "WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 1 "
            "AND p.classid::bigint = ? AND p.objid::bigint = ?)",
            (name, unsigned >> 32, unsigned & 0xFFFFFFFF),
        ).fetchone()
        return str(row[0]) if row else None

    def release_lock(self, name: str, owner: str) -> None:
        raw = self._lock_conns.pop(name, None)
        if raw is None:
            return
        self._forget_lock_owner(name, owner)
        raw.execute("SELECT pg_advisory_unlock(%s)", (_lock_key(name),))
        raw.close()


def _lock_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same on every host)."""
    high = zlib.crc32(b"opsview")
    low = zlib.crc32(name.encode())
    value = (high << 32) | low
    return value - (1 << 64) if value >= 1 << 63 else value
