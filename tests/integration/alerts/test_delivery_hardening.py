"""Delivery against real local HTTP receivers, through the real `opsview check` (issue 16 items 11 and 12).

At-least-once with a stable id: every attempt of one notification carries the same `Idempotency-Key` header and
`id` in the body, so a receiver can drop copies; a receiver that times out (it may have got the notification) is
not sent it again within the same check. `user:password@` in a webhook URL is HTTP basic auth, and no channel
(stdout, stderr, the log file, the store) ever shows the password, a token in the query, or an Apprise token.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

API = FunctionKey("aws", "111", "us-east-1", "api")
PASSWORD = "pw-s3cr3t-9f2c"
QUERY_TOKEN = "qs-t0ken-77ab"
APPRISE_TOKEN = "TIiajkdnlazkcOXrIdevi7FQ"
APPRISE_HEADER = "hdr-s3cr3t-51d0"
SECRETS = (PASSWORD, QUERY_TOKEN, APPRISE_TOKEN, APPRISE_HEADER)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    url: str = ""
    port: int = 0
    delays: list[float] = field(default_factory=list)  # per request in order, then 0
    statuses: list[int] = field(default_factory=list)  # per request in order, then 200
    basic: str | None = None  # "user:password" the receiver demands
    requests: list[Request] = field(default_factory=list)  # every request that reached it, answered or not
    lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            with state.lock:
                state.requests.append(Request(self.path, dict(self.headers.items()), body))
                delay = state.delays.pop(0) if state.delays else 0.0
                status = state.statuses.pop(0) if state.statuses else 200
            expected = "Basic " + base64.b64encode(state.basic.encode()).decode() if state.basic else None
            if expected and self.headers.get("Authorization") != expected:
                status = 401
            time.sleep(delay)  # a slow receiver: it has the notification, the answer comes late
            try:
                self.send_response(status)
                self.end_headers()
            except OSError:
                pass  # the sender gave up waiting

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    state.url = f"http://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, notifier: str, *, resolved: bool = True) -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text(
        f'[store]\nurl = "{tmp_path / "store.db"}"\n\n[notifiers.oncall]\n{notifier}\n'
        f'send_resolved = {"true" if resolved else "false"}\n\n'
        '[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\nthreshold = 0.05\n'
        'severity = "critical"\nnotify = ["oncall"]\n',
        encoding="utf-8",
    )
    return path


def fill_store(tmp_path: Path, errors: int) -> None:
    store = SQLiteStore(tmp_path / "store.db")
    now = floor_time(utcnow(), 60)
    store.upsert_functions([FunctionInfo(API)])
    store.write_samples(Sample(key=API, start=now - timedelta(minutes=m), invocations=100, errors=errors)
                        for m in range(1, 10))
    store.close()


def check(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", "check", "--config", str(config), "--no-collect", *extra],
                          capture_output=True, text=True, timeout=120, check=False)


def store_text(tmp_path: Path) -> str:
    """Every row of every table of the store, as SQL text."""
    with sqlite3.connect(tmp_path / "store.db") as conn:
        return "\n".join(conn.iterdump())


def idempotency_key(request: Request) -> str:
    keys = [v for k, v in request.headers.items() if k.lower() == "idempotency-key"]
    assert len(keys) == 1, request.headers
    return keys[0]


def test_a_slow_receiver_gets_one_copy_per_check_and_every_copy_has_the_same_id(
    tmp_path: Path, receiver: Receiver
) -> None:
    # The case, scaled down: the receiver answers after 1.5 s, opsview waits 0.5 s, 3 retries allowed.
    config = write_config(tmp_path, f'type = "webhook"\nurl = "{receiver.url}"\ntimeout = "500ms"\nretries = 3\n'
                                    'backoff = "0s"')
    fill_store(tmp_path, errors=30)
    receiver.delays = [1.5]

    first = check(config)
    assert first.returncode == 2, first.stdout + first.stderr
    assert "1 undelivered (retried by the next check)" in first.stdout
    assert "no answer within 0.5s" in first.stdout
    time.sleep(1.6)  # the slow answer is written (to a sender that left) before counting
    assert len(receiver.received()) == 1  # not four: a timeout is not retried within the check

    second = check(config)
    assert "1 sent" in second.stdout, second.stdout + second.stderr
    third = check(config)
    assert "sent" not in third.stdout  # delivered: never again within repeat_interval

    copies = receiver.received()
    assert len(copies) == 2  # at-least-once: the receiver had it twice ...
    assert idempotency_key(copies[0]) == idempotency_key(copies[1])  # ... and can tell it is one notification
    assert copies[0].body["id"] == copies[1].body["id"] == idempotency_key(copies[0])
    assert copies[0].body == copies[1].body


def test_retries_within_a_check_carry_one_id_and_each_notification_its_own(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = write_config(tmp_path, f'type = "webhook"\nurl = "{receiver.url}"\nretries = 3\nbackoff = "0s"')
    fill_store(tmp_path, errors=30)
    receiver.statuses = [503, 503]  # an answer, not a timeout: retried at once

    fired = check(config)
    assert "1 sent" in fired.stdout, fired.stdout + fired.stderr
    attempts = receiver.received()
    assert len(attempts) == 3
    assert len({idempotency_key(r) for r in attempts}) == 1
    assert attempts[-1].body["status"] == "firing"

    fill_store(tmp_path, errors=0)
    assert "1 sent" in check(config).stdout
    resolved = receiver.received()[-1]
    assert resolved.body["status"] == "resolved"
    assert resolved.body["id"] == idempotency_key(resolved) != idempotency_key(attempts[0])


def test_alertmanager_format_webhooks_carry_the_id_in_the_header(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, f'type = "webhook"\nurl = "{receiver.url}"\nformat = "alertmanager"\n'
                                    'retries = 0')
    fill_store(tmp_path, errors=30)
    assert "1 sent" in check(config).stdout
    (request,) = receiver.received()
    assert request.body["version"] == "4"  # Alertmanager's documented shape, unchanged
    assert len(idempotency_key(request)) == 36


def test_basic_auth_from_the_url_delivers_and_no_channel_shows_the_password(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.basic = f"alice:{PASSWORD}"
    url = f"http://alice:{PASSWORD}@127.0.0.1:{receiver.port}/hook?token={QUERY_TOKEN}&team=ops"
    config = write_config(tmp_path, f'type = "webhook"\nurl = "{url}"\nretries = 0')
    fill_store(tmp_path, errors=30)
    receiver.statuses = [503]  # the first check fails: its error is printed, logged and stored

    failed = check(config, "--log-level", "DEBUG")
    assert "1 undelivered" in failed.stdout
    assert f"webhook http://***@127.0.0.1:{receiver.port}/hook?token=***&team=ops: HTTP 503" in failed.stdout
    stored = store_text(tmp_path)
    assert "HTTP 503" in stored  # the failure's last_error
    delivered = check(config, "--log-level", "DEBUG", "--format", "json")
    assert json.loads(delivered.stdout)["notifications"]["sent"] == 1, delivered.stdout + delivered.stderr

    first, second = receiver.received()
    assert second.path == f"/hook?token={QUERY_TOKEN}&team=ops"  # the query goes to the receiver, as written
    assert second.headers["Authorization"] == "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    for channel in (failed.stdout, failed.stderr, delivered.stdout, delivered.stderr, stored, store_text(tmp_path)):
        assert PASSWORD not in channel
        assert QUERY_TOKEN not in channel


def test_a_url_urllib_cannot_use_never_shows_its_password(tmp_path: Path) -> None:
    # No port: urllib read `alice:<password>@127.0.0.1` as host and port and put "<password>@127.0.0.1" in its
    # error, which went to stdout, stderr and the store's last_error.
    config = write_config(tmp_path, f'type = "webhook"\nurl = "http://alice:{PASSWORD}@127.0.0.1/hook"\n'
                                    'retries = 0')
    fill_store(tmp_path, errors=30)
    result = check(config, "--log-level", "DEBUG")
    assert result.returncode == 2
    assert "Traceback" not in result.stdout
    assert "1 undelivered" in result.stdout or "1 sent" in result.stdout  # port 80 here is refused, or answers
    for channel in (result.stdout, result.stderr, store_text(tmp_path)):
        assert PASSWORD not in channel


def test_apprise_debug_logging_never_prints_its_tokens(tmp_path: Path, receiver: Receiver) -> None:
    # Apprise logs at DEBUG every URL it loads and posts to (`json://...<token>?-X-Token=...`).
    target = (f"json://bob:{PASSWORD}@127.0.0.1:{receiver.port}/hook/{APPRISE_TOKEN}"
              f"?+X-Token={APPRISE_HEADER}")
    config = write_config(tmp_path, f'type = "apprise"\nurl = "{target}"\nretries = 0')
    fill_store(tmp_path, errors=30)
    result = check(config, "--log-level", "DEBUG")
    assert "1 sent" in result.stdout, result.stdout + result.stderr
    (request,) = receiver.received()
    assert request.path == f"/hook/{APPRISE_TOKEN}"
    assert request.headers["X-Token"] == APPRISE_HEADER
    for channel in (result.stdout, result.stderr, store_text(tmp_path)):
        for secret in SECRETS:
            assert secret not in channel


LOGGED_CHECK = """
import sys
from pathlib import Path
from opsview.logs import setup_logging
setup_logging("DEBUG", log_file=Path(sys.argv[1]), to_stderr=False)
from opsview.alerts.check import run_check
from opsview.alerts.rules import load_rules
from opsview.config import load_config
from opsview.store import open_store
config = load_config(sys.argv[2])
store = open_store(config.store.url)
print(run_check(config, load_rules(config), store, collect=False).delivery)
store.close()
"""


def test_the_log_file_never_holds_a_secret(tmp_path: Path, receiver: Receiver) -> None:
    """The file handler (the TUI's, a service's) at DEBUG, tracebacks included, for a failing webhook with a
    password and query token and an Apprise URL with tokens."""
    path = tmp_path / "opsview.toml"
    path.write_text(
        f'[store]\nurl = "{tmp_path / "store.db"}"\n\n'
        f'[notifiers.hook]\ntype = "webhook"\nurl = "http://alice:{PASSWORD}@127.0.0.1/x?token={QUERY_TOKEN}"\n'
        'retries = 0\n\n'
        f'[notifiers.chat]\ntype = "apprise"\nretries = 0\n'
        f'url = "json://bob:{PASSWORD}@127.0.0.1:{receiver.port}/hook/{APPRISE_TOKEN}?+X-Token={APPRISE_HEADER}"\n\n'
        '[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\nwindow = "5m"\nthreshold = 0.05\n'
        'notify = ["hook", "chat"]\n',
        encoding="utf-8",
    )
    fill_store(tmp_path, errors=30)
    receiver.statuses = [500]  # Apprise logs the failed answer too
    log_file = tmp_path / "logs" / "opsview.log"
    run = subprocess.run([sys.executable, "-c", LOGGED_CHECK, str(log_file), str(path)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "failed=2" in run.stdout
    logged = log_file.read_text(encoding="utf-8")
    assert "notification #1 to" in logged
    assert "Traceback" in logged  # the file keeps the details ...
    for channel in (logged, run.stdout, run.stderr, store_text(tmp_path)):
        for secret in SECRETS:
            assert secret not in channel  # ... never the secrets
