"""Several processes opening one fresh store at the same instant (two collectors started by one cron line):
every one of them opens it, migrates nothing twice and writes, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from pgcluster import PgCluster

from opsview.store import open_store
from opsview.store.migrations import LATEST_VERSION

pytestmark = pytest.mark.integration

PROCESSES = 6
ROUNDS = 3

# Each child imports everything first, says so, and opens the store only when the parent says go:
# the opens then start within a millisecond of each other instead of an import time apart.
CHILD = r"""
import sys
from datetime import UTC, datetime
from opsview.schema import FunctionInfo, FunctionKey, Sample
from opsview.store import open_store
print("ready", flush=True)
sys.stdin.readline()
key = FunctionKey("demo", "acct", "region", sys.argv[2])
store = open_store(sys.argv[1])
store.upsert_functions([FunctionInfo(key)])
store.write_samples([Sample(key=key, start=datetime(2026, 1, 1, tzinfo=UTC), invocations=1)])
store.close()
"""


def race(url: str) -> list[tuple[int, str]]:
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, url, f"fn-{i}"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(PROCESSES)]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [(proc.wait(timeout=120), proc.communicate()[1]) for proc in procs]


def assert_every_process_opened_and_wrote(url: str, outcomes: list[tuple[int, str]]) -> None:
    assert [code for code, _ in outcomes] == [0] * PROCESSES, [err.strip().splitlines()[-1:] for _, err in outcomes]
    store = open_store(url, read_only=True)
    try:
        assert sorted(info.key.name for info in store.functions()) == sorted(f"fn-{i}" for i in range(PROCESSES))
        assert store.schema_version == LATEST_VERSION  # type: ignore[attr-defined]
    finally:
        store.close()


def fresh_sqlite(tmp_path: Path) -> Callable[[], str]:
    names = iter(range(ROUNDS))
    return lambda: str(tmp_path / f"fresh-{next(names)}.db")


def fresh_postgres(cluster: PgCluster) -> Callable[[], str]:
    return lambda: cluster.new_database(f"race_{uuid.uuid4().hex[:12]}")


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_processes_racing_on_a_fresh_store_all_open_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Before, on SQLite: "database is locked" for most racers (22 of 30 in five rounds of six): the busy
    timeout was set after switching the new file to WAL, which needs a lock another racer held."""
    fresh = fresh_sqlite(tmp_path) if backend == "sqlite" else fresh_postgres(request.getfixturevalue("pg_cluster"))
    # PostgreSQL has migrated under an advisory lock from the start: fewer rounds keep it covered for less.
    for _ in range(ROUNDS if backend == "sqlite" else 2):
        url = fresh()
        assert_every_process_opened_and_wrote(url, race(url))
