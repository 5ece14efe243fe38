"""The embedded store: one SQLite file in WAL mode shared by collectors, viewers and checks.

One writer and many readers in other processes work at once (WAL); each thread gets its
own connection. Every write is one transaction, so a writer killed mid-batch leaves the
previous batches whole and the interrupted one absent.

Connections go through APSW, not the standard library's sqlite3: it ships a current SQLite and binds
values in C. On the same 5,000-function store a fleet read took 184 ms instead of 346, and bulk inserts
ran at 281k rows/s instead of 129k (bench/store.py measures both drivers).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import chain, islice
from pathlib import Path
from typing import Any

import apsw

from opsview.store.alerts_sql import AlertSql
from opsview.store.errors import StoreError
from opsview.store.errors_events_sql import ErrorEventSql
from opsview.store.migrations import LATEST_VERSION, MIGRATIONS
from opsview.store.samples_sql import SampleSql
from opsview.store.sql import UPSERT_SAMPLE

_MMAP_BYTES = 0x7FFF0000  # 2 GiB: the ceiling of most SQLite builds (SQLITE_MAX_MMAP_SIZE)
_WAL_KEEP_BYTES = 64 << 20
_BUSY_TIMEOUT_MS = 60_000  # several collectors queue for the one writer slot: wait rather than fail
_ROWS_PER_UPSERT = 128  # bulk writes bind this many rows per statement (fewer if the variable limit is low)


@cache
def _multi_row_upsert(rows: int, width: int) -> str:
    """UPSERT_SAMPLE with `rows` VALUES tuples. SQLite applies them in order, so a key repeated
    within one statement updates the row its earlier tuple inserted, exactly as one row per statement."""
    one = f"({', '.join('?' * width)})"
    head, values, tail = UPSERT_SAMPLE.partition(f"VALUES {one} ")
    if not values:
        raise ValueError(f"UPSERT_SAMPLE does not take {width} values per row")
    return f"{head}VALUES {', '.join([one] * rows)} {tail}"


class SQLiteStore(SampleSql, AlertSql, ErrorEventSql):
    """`Store` on SQLite: every face's SQL over APSW connections."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        super().__init__()
        self._local = threading.local()
        self._connections: list[apsw.Connection] = []
        self._connections_lock = threading.Lock()
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{self.path.parent}: cannot create store directory ({exc.strerror})") from None
        elif not self.path.exists():
            raise StoreError(f"{self.path}: store not found (nothing collected here yet? run `opsview collect`)")
        self._migrate()

    # --- connections -----------------------------------------------------------------------

    def _conn(self) -> apsw.Connection:
        conn: apsw.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Autocommit, as sqlite3 with isolation_level=None: `_write` brackets every write itself.
                if self.read_only:
                    conn = apsw.Connection(str(self.path), flags=apsw.SQLITE_OPEN_READONLY)
                else:
                    conn = apsw.Connection(str(self.path), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE)
                    # 16 KiB pages hold more 17-column rows per page (set before WAL; no-op on an existing file)
                    conn.execute("PRAGMA page_size=16384")
                    conn.execute("PRAGMA journal_mode=WAL")
                    # A bulk write's WAL would otherwise keep the size of its largest transaction on disk
                    # (~100 MB after bench/store.py) after every checkpoint; truncate it back to this.
                    conn.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}")
                conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA cache_size=-65536")
                conn.execute("PRAGMA temp_store=MEMORY")
                # Reads through a memory map skip copying each page into SQLite's cache: fleet-wide
                # reads (5,000 index seeks per window) take about half the time. Read-only mapping
                # (SQLite's default); pages past the first 2 GiB are read the usual way.
                conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
            except apsw.Error as exc:
                raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _write(self) -> Iterator[apsw.Connection]:
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
        self._close_split_pool()
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(apsw.Error):  # in use by a thread that is going away
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
        except apsw.Error as exc:
            raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None

    @staticmethod
    def _schema_version(conn: apsw.Connection) -> int:
        try:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except apsw.SQLError:  # no such table: a new file
            return 0
        return int(row[0]) if row and row[0] is not None else 0

    @property
    def schema_version(self) -> int:
        return self._schema_version(self._conn())

    def _upsert_sample_rows(self, conn: apsw.Connection, rows: list[tuple[Any, ...]]) -> None:
        # Many rows per statement: the upsert's per-execution cost made one row per statement run at
        # 232k rows/s, 128 rows per statement at 401k (1M samples, this upsert, same machine).
        width = len(rows[0]) if rows else 0
        per = min(_ROWS_PER_UPSERT, conn.limit(apsw.SQLITE_LIMIT_VARIABLE_NUMBER, -1) // max(width, 1))
        whole = len(rows) - len(rows) % per if per > 1 else 0
        if whole:
            flat = chain.from_iterable(rows[:whole])
            conn.executemany(
                _multi_row_upsert(per, width), [tuple(islice(flat, per * width)) for _ in range(whole // per)]
            )
        conn.executemany(UPSERT_SAMPLE, rows[whole:])

    def _insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        conn.execute(sql, params)
        return int(conn.last_insert_rowid())

    def _changes(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        conn.execute(sql, params)
        return int(conn.changes())
