"""Fixtures shared by every test area."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsview.store import SQLiteStore, Store, open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pgcluster import PgCluster, start_cluster  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


@pytest.fixture
def realdata() -> Path:
    """../shared/realdata: real provider output. Absent in a user's clone, so tests skip cleanly."""
    if not REALDATA.is_dir():
        pytest.skip("../shared/realdata is not present beside this checkout")
    return REALDATA


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "opsview.db")
    yield store
    store.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests keep screenshots and other things a person may want to look at after CI."""
    path = REPO / "artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster per test process (initdb + pg_ctl on a free local port)."""
    cluster = start_cluster()
    if cluster is None:
        pytest.skip("PostgreSQL server binaries are not installed (Debian package postgresql)")
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")  # type: ignore[arg-type]
    return pg_cluster.url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The same store contract on both backends."""
    if request.param == "sqlite":
        opened: Store = SQLiteStore(tmp_path / "opsview.db")
    else:
        opened = open_store(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()
