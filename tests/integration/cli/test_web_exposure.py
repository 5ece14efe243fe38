"""What `opsview web` and `opsview exporter` expose (issue 16 item 14), as real processes and a real waitress:
`web --dev` (Werkzeug's debugger, which runs code from the browser outside [web.auth]) binds to loopback only;
the exporter beyond loopback takes the web's [web.auth] or an explicit --insecure; junk and traversal paths under
/_dash-component-suites/ answer 404, never 500."""

from __future__ import annotations

import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from waitress.server import create_server
from waitress_stop import stop_waitress

from opsview.config import Config
from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app, shutdown

pytestmark = pytest.mark.integration

TOKEN = "exp-t0ken-5e1f"
BEARER = '[web.auth]\ntype = "bearer"\ntoken_env = "OPSVIEW_TEST_TOKEN"\n'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    store = SQLiteStore(tmp_path / "store.db")
    key = FunctionKey("aws", "111", "us-east-1", "api")
    store.upsert_functions([FunctionInfo(key)])
    now = floor_time(utcnow(), 60)
    store.write_samples(Sample(key=key, start=now - timedelta(minutes=m), invocations=10) for m in range(1, 4))
    store.close()
    return tmp_path / "store.db"


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text(text, encoding="utf-8")
    return path


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def run_refused(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a command that must refuse to start. Should it serve instead (the old behaviour), stop it and its
    children (Flask's reloader) after 20 s, and fail."""
    proc = subprocess.Popen([sys.executable, "-m", "opsview", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=environ, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"`opsview {' '.join(args)}` started serving instead of refusing")
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


@pytest.mark.parametrize("how", ["--host", "[web] host"])
def test_web_dev_binds_to_loopback_only_whatever_auth_says(tmp_path: Path, store_path: Path, how: str) -> None:
    # [web.auth] is set and its token present: without --dev this would serve 0.0.0.0 with auth.
    host = ['--host', '0.0.0.0'] if how == "--host" else []
    path = config(tmp_path, (BEARER if how == "--host" else '[web]\nhost = "0.0.0.0"\n\n' + BEARER))
    result = run_refused(["web", "--dev", *host, "--port", str(free_port()), "--config", str(path),
                          "--store", str(store_path)], env(OPSVIEW_TEST_TOKEN=TOKEN))
    assert result.returncode == 2
    assert result.stderr.startswith("opsview: --dev binds to loopback only")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_exporter_beyond_loopback_without_auth_is_refused(tmp_path: Path, store_path: Path) -> None:
    result = run_refused(["exporter", "--host", "0.0.0.0", "--port", str(free_port()), "--store", str(store_path),
                          "--config", str(config(tmp_path, ""))], env())
    assert result.returncode == 2
    assert "would expose the fleet's metrics without authentication" in result.stderr
    assert "configure [web.auth]" in result.stderr


def test_exporter_names_a_missing_auth_secret(tmp_path: Path, store_path: Path) -> None:
    result = run_refused(["exporter", "--host", "0.0.0.0", "--port", str(free_port()), "--store", str(store_path),
                          "--config", str(config(tmp_path, BEARER))], {k: v for k, v in env().items()
                                                                      if k != "OPSVIEW_TEST_TOKEN"})
    assert result.returncode == 2
    assert "web.auth.token_env: environment variable OPSVIEW_TEST_TOKEN is not set or empty" in result.stderr


class Exporter:
    """`opsview exporter` as a process on 0.0.0.0, asked over loopback."""

    def __init__(self, args: list[str], environ: dict[str, str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "opsview", "exporter", "--host", "0.0.0.0", "--port", str(self.port), *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
        deadline = time.monotonic() + 30
        while self.get("/healthz")[0] != 200:
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "the exporter did not start"
            time.sleep(0.2)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            return response.status, headers, response.read().decode("utf-8", "replace")
        except OSError:
            return 0, {}, ""
        finally:
            conn.close()

    def stop(self) -> tuple[str, str]:
        self.proc.terminate()
        out, err = self.proc.communicate(timeout=20)
        return out, err


@pytest.fixture
def exporters() -> Iterator[list[Exporter]]:
    started: list[Exporter] = []
    yield started
    for exporter in started:
        if exporter.proc.poll() is None:
            exporter.stop()


def test_exporter_beyond_loopback_serves_metrics_only_with_the_web_credentials(
    tmp_path: Path, store_path: Path, exporters: list[Exporter]
) -> None:
    exporter = Exporter(["--store", str(store_path), "--config", str(config(tmp_path, BEARER))],
                        env(OPSVIEW_TEST_TOKEN=TOKEN))
    exporters.append(exporter)
    status, headers, body = exporter.get("/metrics")
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert "opsview_" not in body
    assert exporter.get("/metrics", {"Authorization": "Bearer wrong"})[0] == 401
    status, _, body = exporter.get("/metrics", {"Authorization": f"Bearer {TOKEN}"})
    assert status == 200
    assert 'opsview_invocations{' in body
    assert exporter.get("/healthz")[0] == 200  # load balancers need no secret
    _, err = exporter.stop()
    assert "bearer auth" in err
    assert TOKEN not in err


def test_exporter_insecure_is_an_explicit_choice(tmp_path: Path, store_path: Path,
                                                 exporters: list[Exporter]) -> None:
    exporter = Exporter(["--store", str(store_path), "--config", str(config(tmp_path, "")), "--insecure"], env())
    exporters.append(exporter)
    status, _, body = exporter.get("/metrics")
    assert status == 200
    assert "opsview_invocations{" in body


TRAVERSALS = [
    "/_dash-component-suites/../../etc/passwd",
    "/_dash-component-suites/dash/../../../../etc/passwd",
    "/_dash-component-suites/%2e%2e/%2e%2e/etc/passwd",
    "/_dash-component-suites/dash/..%2f..%2f..%2fetc%2fpasswd",
    "/_dash-component-suites/dash/%2e%2e%2f%2e%2e%2fsetup.py",
    "/_dash-component-suites/dash/..%5c..%5c..%5cwin.ini",
    "/_dash-component-suites/%252e%252e/%252e%252e/etc/passwd",
    "/_dash-component-suites/dash/deps/../../../etc/passwd.js",
    "/_dash-component-suites/dash/dcc/..%2F..%2F__init__.py",
    "/_dash-component-suites/plotly/package_data/../../../../../etc/passwd",
    "/_dash-component-suites/os/path.js",
    "/_dash-component-suites/nosuchpackage/x.js",
    "/_dash-component-suites/dash/nosuch.js",
    "/_dash-component-suites/dash/%00.js",
    "/_dash-component-suites/dash/dcc/dash_core_components.js%00.map",
]


@pytest.fixture
def dashboard(store_path: Path) -> Iterator[str]:
    store = SQLiteStore(store_path)
    app = create_app(store, Config())
    server = create_server(app.server, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.effective_port}"  # type: ignore[union-attr]
    stop_waitress(server, thread)
    shutdown(app)
    store.close()


def test_component_suite_traversal_and_junk_answer_404(dashboard: str, caplog: pytest.LogCaptureFixture) -> None:
    host, port = dashboard.split(":")
    caplog.set_level(logging.INFO)
    for path in TRAVERSALS:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", path)  # sent as written: no client-side normalisation of `..`
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        assert response.status == 404, (path, response.status, body[:200])
        assert "root:" not in body
        assert "Traceback" not in body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("GET", "/_dash-component-suites/dash/dcc/dash_core_components.js")
    assert conn.getresponse().status == 200  # the real files still load
    conn.close()
