"""The check lock dies with its holder: a `opsview check` killed while it holds the lock never blocks the
next one (SQLite: a file lock the kernel drops; PostgreSQL: an advisory lock the server drops)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsview.alerts.check import LOCK_NAME, LockBusyError, run_check
from opsview.alerts.rules import load_rules
from opsview.config import load_config
from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import Store, open_store

pytestmark = pytest.mark.integration

API = FunctionKey("aws", "111", "us-east-1", "api")
# The child that holds the lock the way `opsview check` does, then waits to be killed.
HOLDER = r"""
import sys, time
from datetime import timedelta
from opsview.alerts.check import acquire, lock_owner_id
from opsview.store import open_store
store = open_store(sys.argv[1])
acquire(store, lock_owner_id(), timedelta(0))
print("holding", flush=True)
time.sleep(600)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = str(tmp_path / "store.db") if request.param == "sqlite" else str(request.getfixturevalue("pg_url"))
    store = open_store(url)
    try:
        now = floor_time(utcnow(), 60)
        store.upsert_functions([FunctionInfo(API)])
        store.write_samples(Sample(key=API, start=now - timedelta(minutes=m), invocations=100, errors=30)
                            for m in range(1, 10))
    finally:
        store.close()
    return url


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0")))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_cloud() -> Iterator[tuple[str, threading.Event]]:
    """An endpoint that accepts connections and never answers: a collection against it hangs, lock held."""
    listener = socket.create_server(("127.0.0.1", 0))
    reached = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            reached.set()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", reached
    listener.close()
    for conn in held:
        conn.close()


def write_config(tmp_path: Path, store_url: str, hook: str, cloud: str) -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n\n[alerts]\nlock_wait = "1s"\n\n'
        f'[notifiers.oncall]\ntype = "webhook"\nurl = "{hook}"\nretries = 0\n\n'
        f'[[sources.aws]]\nname = "slow"\nendpoint_url = "{cloud}"\nregions = ["us-east-1"]\n\n'
        '[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\nthreshold = 0.05\n'
        'severity = "critical"\nnotify = ["oncall"]\n',
        encoding="utf-8",
    )
    return path


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x", AWS_MAX_ATTEMPTS="1", HOME=str(tmp_path))
    return env


def lock_holder(store: Store) -> str | None:
    return store.lock_owner(LOCK_NAME)


def test_a_killed_check_does_not_block_the_next_one(
    store_url: str, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]],
    silent_cloud: tuple[str, threading.Event],
) -> None:
    """Before, on SQLite: the killed check's lock row held for its 15-minute time to live, so the next
    check waited `lock_wait` and exited 3 UNKNOWN ("another check is running"): no alerting."""
    hook, bodies = receiver
    cloud, reached = silent_cloud
    config = write_config(tmp_path, store_url, hook, cloud)
    env = child_env(tmp_path)
    first = subprocess.Popen([sys.executable, "-m", "opsview", "check", "--config", str(config)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert reached.wait(timeout=120), "the first check never reached its source"
        store = open_store(store_url)
        try:
            assert lock_holder(store) is not None  # it is collecting, under the lock
        finally:
            store.close()
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=30)

    second = subprocess.run([sys.executable, "-m", "opsview", "check", "--config", str(config), "--no-collect"],
                            capture_output=True, text=True, timeout=120, env=env, check=False)
    assert second.returncode == 2, second.stdout + second.stderr  # CRITICAL, not UNKNOWN
    assert second.stdout.startswith("CRITICAL: 1 firing")
    assert "1 sent" in second.stdout
    third = subprocess.run([sys.executable, "-m", "opsview", "check", "--config", str(config), "--no-collect"],
                           capture_output=True, text=True, timeout=120, env=env, check=False)
    assert third.returncode == 2, third.stdout + third.stderr
    assert [(b["rule"], b["status"]) for b in bodies] == [("errors", "firing")]  # notified exactly once


def test_live_alerting_skips_while_a_check_runs_and_resumes_when_it_dies(
    store_url: str, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]],
    silent_cloud: tuple[str, threading.Event],
) -> None:
    """The TUI's pass (`run_check` with no wait) under the same lock: it leaves the evaluation to a check
    that holds the lock, and evaluates at once when that check is killed."""
    hook, bodies = receiver
    config = load_config(write_config(tmp_path, store_url, hook, silent_cloud[0]))
    rules = load_rules(config)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, store_url], stdout=subprocess.PIPE, text=True)
    store = open_store(store_url)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "holding\n"
        with pytest.raises(LockBusyError, match="another check is running"):
            run_check(config, rules, store, collect=False, lock_wait=timedelta(0))
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
        # SQLite: the kernel dropped the file lock as the process ended. PostgreSQL drops the advisory lock
        # when the server reads the end of the dead session, a moment later: allow it that moment.
        postgres = store_url.startswith("postgresql")
        if not postgres:
            assert lock_holder(store) is None
        wait = timedelta(seconds=10 if postgres else 0)
        result = run_check(config, rules, store, collect=False, lock_wait=wait)
        assert result.delivery.sent == 1
        assert len(bodies) == 1
        assert lock_holder(store) is None  # and released again
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        store.close()
