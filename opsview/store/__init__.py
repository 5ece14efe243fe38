"""The store: where collectors write and viewers read (SQLite by default)."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir

from opsview.redact import redact_url
from opsview.store.base import (
    AlertStore,
    CollectStore,
    ErrorEventStore,
    FleetBuckets,
    FleetFilter,
    FleetRow,
    MaintenanceResult,
    SampleStore,
    Scope,
    Store,
    top_n,
)
from opsview.store.errors import StoreError, as_store_error
from opsview.store.sqlite import SQLiteStore

__all__ = [
    "AlertStore",
    "CollectStore",
    "ErrorEventStore",
    "FleetFilter",
    "FleetBuckets",
    "FleetRow",
    "MaintenanceResult",
    "SQLiteStore",
    "SampleStore",
    "Scope",
    "Store",
    "StoreError",
    "as_store_error",
    "default_store_path",
    "open_store",
    "redact_url",
    "top_n",
]


def default_store_path() -> Path:
    return Path(user_data_dir("opsview", appauthor=False)) / "opsview.db"


def open_store(url: str | Path | None = None, *, read_only: bool = False) -> Store:
    """Open a store by path or URL (`sqlite:///path`, a bare path, or `postgresql://...`)."""
    text = str(url) if url is not None else str(default_store_path())
    if text.startswith(("postgresql://", "postgres://")):
        from opsview.store.postgres import PostgresStore  # psycopg loads only for teams that use it

        return PostgresStore(text, read_only=read_only)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite://")
    elif "://" in text:
        raise StoreError(f"{text}: unknown store URL scheme (expected a file path, sqlite:///path or postgresql://...)")
    return SQLiteStore(text, read_only=read_only)
