"""Team scale: alert state on both backends, and several collectors and checks sharing one PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState, OutboxItem
from opsview.schema import FunctionKey
from opsview.store import Store, open_store

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEY = FunctionKey("azure", "sub", "westeurope", "orders-func/ProcessOrder")


def test_alert_state_outbox_silences_and_locks(store: Store, tmp_path: Path) -> None:
    firing = AlertRecord("errors-high", KEY, AlertState.FIRING, "critical", NOW, NOW - timedelta(minutes=5), 0.12,
                         0.05, ">", summary="ProcessOrder errors at 12%", labels={"team": "orders"})
    store.apply_alert_changes(AlertChanges(
        upsert=(firing,),
        events=(AlertEvent(NOW, "errors-high", KEY, AlertState.PENDING, AlertState.FIRING, 0.12, "critical"),),
        outbox=(OutboxItem(0, "oncall", "firing", "errors-high", {"rule": "errors-high"}, NOW),),
    ))
    # a second evaluation updates the same (rule, function) instead of duplicating it
    store.apply_alert_changes(AlertChanges(upsert=(AlertRecord(
        "errors-high", KEY, AlertState.FIRING, "critical", NOW, NOW - timedelta(minutes=5), 0.2, 0.05, ">"),)))
    [record] = store.alert_records({AlertState.FIRING})
    assert record.key == KEY
    assert record.value == pytest.approx(0.2)
    assert store.alert_records({AlertState.PENDING}) == []
    [event] = store.alert_events(key=KEY)
    assert event.to_state is AlertState.FIRING
    [item] = store.outbox()
    store.mark_outbox(item.id, NOW, error="503 Service Unavailable")
    assert store.outbox()[0].attempts == 1
    store.mark_outbox(item.id, NOW)
    assert store.outbox() == []

    silence = store.add_silence("errors-high", "orders-func/*", NOW, NOW + timedelta(hours=2), "deploy")
    assert [s.id for s in store.silences(active_at=NOW + timedelta(hours=1))] == [silence.id]
    assert store.silences(active_at=NOW + timedelta(hours=3)) == []
    assert store.remove_silence(silence.id)
    assert not store.remove_silence(silence.id)

    other = open_store(store.url)
    try:
        assert store.acquire_lock("check", "host-a", NOW, timedelta(minutes=5))
        assert not other.acquire_lock("check", "host-b", NOW, timedelta(minutes=5))
        assert store.lock_owner("check") == "host-a"
        store.release_lock("check", "host-a")
        assert other.acquire_lock("check", "host-b", NOW, timedelta(minutes=5))
        other.release_lock("check", "host-b")
    finally:
        other.close()


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        type(self).bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    handler = type("Receiver", (_Receiver,), {"bodies": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", handler.bodies
    server.shutdown()


def _opsview(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "opsview", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@pytest.mark.postgres
def test_two_collectors_and_two_checks_share_one_postgres(
    pg_url: str, tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = receiver
    sources = "".join(f"[[sources.demo]]\nname = 'team-{i}'\nseed = {i}\ninclude = ['*-{i}', 'checkout-api']\n"
                      f"scale = 2\n" for i in range(4))
    cfg = tmp_path / "opsview.toml"
    cfg.write_text(sources + f"""
[notifiers.oncall]
type = "webhook"
url = "{url}"

[[alerts.rules]]
name = "aws-busy"
measure = "invocations"
match = {{ provider = "aws" }}
window = "24h"
op = ">"
threshold = 0
for = "0s"
severity = "critical"
notify = ["oncall"]
""")
    common = ["--config", str(cfg), "--store", pg_url]
    collectors = [_opsview("collect", "--shard", f"{i}/2", "--since", "20m", *common) for i in (1, 2)]
    outs = [p.communicate(timeout=180) for p in collectors]
    assert [p.returncode for p in collectors] == [0, 0], outs
    lines = [line.split()[0] for out, _ in outs for line in out.splitlines() if line.strip()]
    assert sorted(lines) == [f"team-{i}" for i in range(4)]  # every source once, no overlap

    checks = [_opsview("check", "--no-collect", "--format", "json", *common) for _ in range(2)]
    results = [p.communicate(timeout=180) for p in checks]
    codes = sorted(p.returncode for p in checks)
    # one check evaluates and notifies (CRITICAL); the other either waited for it and found nothing new
    # to send (CRITICAL again) or gave up on the lock (UNKNOWN) - never a second notification
    assert codes[0] == 2, results
    assert codes[1] in (2, 3), results
    assert len(bodies) == 1, bodies
    assert bodies[0]["rule"] == "aws-busy"
    assert bodies[0]["status"] == "firing"
    store = open_store(pg_url)
    try:
        assert {h.source for h in store.latest_health()} == {f"team-{i}" for i in range(4)}
        assert store.alert_records({AlertState.FIRING})
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres_errors_are_one_line_without_secrets(pg_url: str) -> None:
    """An empty database read-only, and a wrong password, as a user would meet them on the CLI."""
    empty = subprocess.run([sys.executable, "-m", "opsview", "status", "--store", pg_url], capture_output=True,
                           text=True, timeout=60)
    assert empty.returncode == 2
    assert "older than" in empty.stderr
    assert "Traceback" not in empty.stderr
    wrong = pg_url.replace("opsview@", "opsview:s3cret-pw@").rsplit(":", 1)[0]
    wrong += ":1/nope"  # nothing listens on port 1
    refused = subprocess.run([sys.executable, "-m", "opsview", "status", "--store", wrong], capture_output=True,
                             text=True, timeout=60)
    assert refused.returncode == 2
    assert "cannot connect to PostgreSQL" in refused.stderr
    assert "s3cret-pw" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
def test_postgres_sessions_and_time_index_are_set_up_for_repeated_fleet_reads(pg_url: str) -> None:
    """The store's sessions skip JIT (it cost more than the reads it sped up), and its BRIN time index
    is summarised as data arrives rather than only by VACUUM (unsummarised ranges match every window)."""
    from opsview.store.postgres import PostgresStore

    store = open_store(pg_url)
    try:
        assert isinstance(store, PostgresStore)
        conn = store._conn()
        assert conn.execute("SHOW jit").fetchone()[0] == "off"
        options = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'samples_by_start'").fetchone()[0]
        assert "autosummarize=on" in options
    finally:
        store.close()
