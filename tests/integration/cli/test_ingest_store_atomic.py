"""`opsview ingest --store` killed while it writes: the store holds all of that ingest or none of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw
import pytest

from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

FUNCTIONS = 100
MINUTES = 120  # one REPORT per function and minute: FUNCTIONS x MINUTES minute samples
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def write_log(path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for minute in range(MINUTES):
            at = (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            for i in range(FUNCTIONS):
                f.write(f"/aws/lambda/fn-{i}\t{at}\tREPORT RequestId: r-{minute}-{i}\tDuration: {10 + i % 50}.00 ms\t"
                        f"Billed Duration: {11 + i % 50} ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB\n")


def counts(path: Path) -> tuple[int, int]:
    conn = apsw.Connection(str(path))
    try:
        (functions,) = conn.execute("SELECT COUNT(*) FROM functions").fetchone()
        (samples,) = conn.execute("SELECT COUNT(*) FROM samples").fetchone()
    finally:
        conn.close()
    return int(functions), int(samples)


def kill_while_writing(proc: subprocess.Popen[bytes], store: Path, into_write_s: float = 0.02) -> bool:
    """SIGKILL `proc` once it has held the store's write lock for `into_write_s`; False if it ended first.

    The probe asks for the write lock without waiting: refused means a write transaction is open."""
    probe = apsw.Connection(str(store))
    probe.execute("PRAGMA busy_timeout=0")
    writing_since: float | None = None
    try:
        while proc.poll() is None:
            try:
                probe.execute("BEGIN IMMEDIATE")
                probe.execute("ROLLBACK")
                writing_since = None
            except apsw.BusyError:
                writing_since = writing_since or time.monotonic()
                if time.monotonic() - writing_since >= into_write_s:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                    return True
            time.sleep(0.002)
        return False
    finally:
        probe.close()


def test_a_kill_during_the_write_leaves_all_of_the_ingest_or_none(tmp_path: Path) -> None:
    """Before: functions were committed first and samples after, so a kill between left 100 functions with
    no samples (or some of them), which every view then showed as idle."""
    log = tmp_path / "exported.log"
    write_log(log)
    outcomes = []
    for round_ in range(2):
        store = tmp_path / f"postmortem-{round_}.db"
        SQLiteStore(store).close()  # an existing store: the only write the ingest makes is its own
        proc = subprocess.Popen([sys.executable, "-m", "opsview", "ingest", "--provider", "aws", "--store", str(store),
                                 "--format", "json", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        killed = kill_while_writing(proc, store)
        assert killed, "the ingest finished before the probe saw it write; the test did not test anything"
        outcome = counts(store)
        assert outcome in ((0, 0), (FUNCTIONS, FUNCTIONS * MINUTES)), outcome
        outcomes.append(outcome)
    assert (0, 0) in outcomes  # at least one kill landed inside the write, and left nothing behind

    finished = subprocess.run([sys.executable, "-m", "opsview", "ingest", "--provider", "aws", "--store",
                               str(tmp_path / "postmortem-0.db"), "--format", "json", str(log)],
                              capture_output=True, text=True, timeout=300, check=False)
    assert finished.returncode == 0, finished.stderr
    assert counts(tmp_path / "postmortem-0.db") == (FUNCTIONS, FUNCTIONS * MINUTES)  # and a rerun completes it
