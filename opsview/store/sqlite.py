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
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from itertools import chain, islice
from pathlib import Path
from typing import Any, TypeVar

import apsw

from opsview.store import oslock
from opsview.store.alerts_sql import AlertSql
from opsview.store.coverage_sql import CoverageSql
from opsview.store.errors import StoreError, register_unusable
from opsview.store.errors_events_sql import ErrorEventSql
from opsview.store.migrations import LATEST_VERSION, MIGRATIONS
from opsview.store.samples_sql import SampleSql
from opsview.store.sql import UPSERT_SAMPLE

_T = TypeVar("_T")
_MMAP_BYTES = 0x7FFF0000  # 2 GiB: the ceiling of most SQLite builds (SQLITE_MAX_MMAP_SIZE)
_WAL_KEEP_BYTES = 64 << 20
_BUSY_TIMEOUT_MS = 60_000  # several collectors queue for the one writer slot: wait rather than fail
_ROWS_PER_UPSERT = 128  # bulk writes bind this many rows per statement (fewer if the variable limit is low)
# What SQLite raises when the store itself fails rather than a statement: a command reports these in one line.
_UNUSABLE = (
    apsw.ReadOnlyError, apsw.FullError, apsw.IOError, apsw.CorruptError, apsw.NotADBError, apsw.CantOpenError,
    apsw.BusyError, apsw.LockedError, apsw.PermissionsError,
)
register_unusable(*_UNUSABLE)


@cache
def _multi_row_upsert(rows: int, width: int) -> str:
    """UPSERT_SAMPLE with `rows` VALUES tuples. SQLite applies them in order, so a key repeated
    within one statement updates the row its earlier tuple inserted, exactly as one row per statement."""
    one = f"({', '.join('?' * width)})"
    head, values, tail = UPSERT_SAMPLE.partition(f"VALUES {one} ")
    if not values:
        raise ValueError(f"UPSERT_SAMPLE does not take {width} values per row")
    return f"{head}VALUES {', '.join([one] * rows)} {tail}"


def _patiently(step: Callable[[], _T]) -> _T:
    """`step`, run again while SQLite says "database is locked" without waiting out the busy timeout.

    It does so while another process runs WAL recovery on the file or cleans up after closing the last
    connection to it (https://www.sqlite.org/wal.html#sometimes_queries_return_sqlite_busy_in_wal_mode):
    brief states that processes opening one store at the same moment (two collectors, a check and a
    viewer started by one cron minute) run into.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return step()
        except apsw.BusyError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.005 + random.random() * 0.02)  # jittered, so racers do not retry in step


class SQLiteStore(SampleSql, CoverageSql, AlertSql, ErrorEventSql):
    """`Store` on SQLite: every face's SQL over APSW connections."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path).expanduser()
        self.url = f"sqlite:///{self.path}"
        self.read_only = read_only
        super().__init__()
        self._local = threading.local()
        self._connections: list[apsw.Connection] = []
        self._connections_lock = threading.Lock()
        self._lock_files: dict[str, int] = {}  # lock name -> the descriptor holding its file lock
        self._lock_files_lock = threading.Lock()
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
                writable = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
                flags = apsw.SQLITE_OPEN_READONLY if self.read_only else writable
                conn = apsw.Connection(str(self.path), flags=flags)
            except apsw.Error as exc:
                raise StoreError(f"{self.path}: cannot open the store ({exc})") from None
            try:
                _patiently(lambda: self._configure(conn))
            except apsw.Error as exc:
                conn.close()
                raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _configure(self, conn: apsw.Connection) -> None:
        # First: every statement below may need a lock that another process holds (two collectors
        # creating one fresh file, switching it to WAL), and without a busy timeout SQLite fails at once
        # with "database is locked" instead of waiting its turn.
        conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        if not self.read_only:
            # 16 KiB pages hold more 17-column rows per page (set before WAL; no-op on an existing file)
            conn.execute("PRAGMA page_size=16384")
            conn.execute("PRAGMA journal_mode=WAL")
            # A bulk write's WAL would otherwise keep the size of its largest transaction on disk
            # (~100 MB after bench/store.py) after every checkpoint; truncate it back to this.
            conn.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA temp_store=MEMORY")
        # Reads through a memory map skip copying each page into SQLite's cache: fleet-wide
        # reads (5,000 index seeks per window) take about half the time. Read-only mapping
        # (SQLite's default); pages past the first 2 GiB are read the usual way.
        conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")

    @contextmanager
    def _write(self) -> Iterator[apsw.Connection]:
        """One write transaction. A store that cannot take it (read-only file, full disk, damaged page,
        a lock held past the busy timeout) raises StoreError, so a command says so in one line; any
        other error (a bug) passes through as it is."""
        if self.read_only:
            raise StoreError(f"{self.path}: store opened read-only")
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except _UNUSABLE as exc:
            raise StoreError(f"{self.path}: cannot write the store ({exc})") from exc
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            # SQLite may have rolled back already (a full disk, an I/O error): then ROLLBACK has nothing to do.
            if not conn.getautocommit():
                with contextlib.suppress(apsw.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, _UNUSABLE):
                raise StoreError(f"{self.path}: cannot write the store ({exc})") from exc
            raise

    def close(self) -> None:
        self._close_split_pool()
        for name in list(self._lock_files):
            self._drop_lock(name)
        with self._connections_lock:
            for conn in self._connections:
                with contextlib.suppress(apsw.Error):  # in use by a thread that is going away
                    conn.close()
            self._connections.clear()
        self._local = threading.local()

    # --- schema ----------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to LATEST_VERSION, safely when several processes open a fresh file at once.

        The version is read first without a lock (every open after the first finds it current); only
        when a migration is due does this take the write lock (BEGIN IMMEDIATE: one writer at a time,
        readers go on) and read the version again under it, so of two processes racing on a fresh file
        one migrates and the other, waiting on the lock (busy timeout), then finds nothing to do.
        """
        conn = self._conn()
        try:
            version = _patiently(lambda: self._checked_version(conn))
            if self.read_only:
                if version < LATEST_VERSION:
                    raise StoreError(
                        f"{self.path}: store schema v{version} is older than v{LATEST_VERSION} "
                        "(nothing collected here yet, or by an older opsview: `opsview collect` upgrades it)"
                    )
                return
            if version == LATEST_VERSION:
                return
            _patiently(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                version = self._checked_version(conn)
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

    def _checked_version(self, conn: apsw.Connection) -> int:
        """The schema version, refused when no opsview can have written it or this one cannot read it."""
        try:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except apsw.SQLError as exc:
            if "no such table" not in str(exc):
                raise
            return 0  # a new file
        value = row[0] if row else None
        if value is None:
            return 0
        if not isinstance(value, int) or value < 0:
            raise StoreError(f"{self.path}: schema_version holds {value!r}, not a version number "
                             "(not an opsview store, or a damaged one)")
        if value > LATEST_VERSION:
            raise StoreError(f"{self.path}: store schema v{value} is newer than this opsview "
                             f"(v{LATEST_VERSION}); upgrade opsview")
        return value

    def probe(self, *, thorough: bool = False) -> None:
        """Raise StoreError unless the store is usable now.

        A fresh connection, not this thread's: a connection that is open keeps pages it read before,
        and would answer from them for a file overwritten or replaced since. It reads the header, the
        schema version (a newer opsview may have migrated the file) and the newest health entry.
        `thorough` also reads every page (PRAGMA quick_check: ~0.2 s per 100 MB, so not per request).
        """
        try:
            conn = apsw.Connection(str(self.path), flags=apsw.SQLITE_OPEN_READONLY)
        except apsw.Error as exc:
            raise StoreError(f"{self.path}: cannot open the store ({exc})") from None
        try:
            conn.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            version = _patiently(lambda: self._checked_version(conn))
            if version < LATEST_VERSION:
                raise StoreError(f"{self.path}: store schema v{version}, expected v{LATEST_VERSION} (file replaced?)")
            conn.execute("SELECT MAX(at) FROM health").fetchone()
            if thorough:
                problems = [str(row[0]) for row in conn.execute("PRAGMA quick_check(3)")]
                if problems != ["ok"]:
                    text = " ".join(" ".join(problems).split())
                    raise StoreError(f"{self.path}: store damaged ({text[:300]})")
        except apsw.Error as exc:
            raise StoreError(f"{self.path}: not a usable SQLite store ({exc})") from None
        finally:
            conn.close()

    @property
    def schema_version(self) -> int:
        return self._checked_version(self._conn())

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

    # --- locks: an OS file lock beside the store, dropped by the kernel if the holder dies (see oslock) -----

    def _lock_path(self, name: str) -> Path:
        return self.path.with_name(f"{self.path.name}-{name}.lock")

    def acquire_lock(self, name: str, owner: str, now: datetime, ttl: timedelta) -> bool:
        """Take a named lock across the processes on this host (free, or already ours). `ttl` is only
        recorded: the lock lasts as long as its holder's process, and not a moment longer."""
        with self._lock_files_lock:
            if name in self._lock_files:
                return True
            path = self._lock_path(name)
            try:
                fd = oslock.try_lock(path)
            except OSError as exc:
                raise StoreError(f"{path}: cannot take the {name} lock ({exc.strerror})") from None
            if fd is None:
                return False
            self._lock_files[name] = fd
        try:
            self._note_lock_owner(name, owner, now + ttl)  # who holds it, for other processes' messages
        except BaseException:
            self._drop_lock(name)
            raise
        return True

    def lock_owner(self, name: str) -> str | None:
        """The holder's owner string, or None when nobody holds the lock (whatever row a dead holder left)."""
        if name not in self._lock_files and not oslock.is_held(self._lock_path(name)):
            return None
        return self._noted_lock_owner(name) or "another process"

    def release_lock(self, name: str, owner: str) -> None:
        if name not in self._lock_files:
            return
        try:
            self._forget_lock_owner(name, owner)
        finally:
            self._drop_lock(name)

    def _drop_lock(self, name: str) -> None:
        with self._lock_files_lock:
            fd = self._lock_files.pop(name, None)
        if fd is not None:
            oslock.unlock(fd)

    def _insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        conn.execute(sql, params)
        return int(conn.last_insert_rowid())

    def _changes(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        conn.execute(sql, params)
        return int(conn.changes())
