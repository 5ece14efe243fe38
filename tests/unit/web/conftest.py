from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from dash import Dash

from opsview.collectors.demo import build_fleet, window_coverage, window_samples
from opsview.config import Config
from opsview.schema import CollectorHealth, floor_time, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app, shutdown


@pytest.fixture
def filled_store(sqlite_store: SQLiteStore) -> SQLiteStore:
    now = utcnow()
    sqlite_store.upsert_functions(fn.info for fn in build_fleet(42, 1))
    sqlite_store.write_samples(window_samples(42, 1, floor_time(now - timedelta(minutes=90), 60), now))
    sqlite_store.record_coverage(window_coverage(42, 1, floor_time(now - timedelta(minutes=90), 60), now))
    sqlite_store.record_health([CollectorHealth("demo", "demo", now, True, functions=60)])
    return sqlite_store


@pytest.fixture
def app(filled_store: SQLiteStore) -> Iterator[Dash]:
    app = create_app(filled_store, Config())
    yield app
    shutdown(app)  # before the store closes
