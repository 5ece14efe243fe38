"""A real waitress server on loopback and Debian's Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import shutil
import threading
import tomllib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from waitress.server import create_server
from waitress_stop import stop_waitress

from opsview.alert_records import AlertState
from opsview.alerts.defaults import DEFAULT_RULES_TOML
from opsview.alerts.engine import evaluate
from opsview.collectors.demo import build_fleet, window_coverage, window_errors, window_samples
from opsview.config import Config
from opsview.error_records import ErrorCoverage, ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.schema import CollectorHealth, FunctionKey, floor_time, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app, shutdown

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def fill_demo_window(store: SQLiteStore, start: datetime, end: datetime) -> None:
    """The demo fleet (60 functions over AWS, Azure and GCP) from `start` to `end`: samples and coverage, error
    signatures with every function's errors searched, and deploys."""
    fleet = build_fleet(42, 1)
    store.upsert_functions(fn.info for fn in fleet)
    store.write_samples(window_samples(42, 1, start, end))
    store.record_coverage(window_coverage(42, 1, start, end))
    errors, deploys = window_errors(42, 1, start, end)
    store.write_errors(errors)
    store.write_events(deploys)
    store.record_error_coverage([ErrorCoverage(tuple(fn.info.key for fn in fleet), start, end)])


def fill_demo(store: SQLiteStore, hours: float = 2.0) -> None:
    """Two hours of the demo fleet up to now (`fill_demo_window`), a release with a new error type, and one
    failing collector."""
    now = utcnow()
    fill_demo_window(store, floor_time(now - timedelta(hours=hours), 60), now)
    add_release(store, now)
    store.record_health([
        CollectorHealth("demo", "demo", now - timedelta(minutes=1), True, functions=60, samples=7000),
        CollectorHealth("aws-prod", "aws", now - timedelta(minutes=2), False, "AccessDenied: lambda:ListFunctions",
                        scope="eu-west-1"),
    ])


WEBHOOK_KEY = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
RELEASE_BUG = "TypeError: refund() got an unexpected keyword argument 'memo'"


def add_release(store: SQLiteStore, now: datetime) -> None:
    """Whenever the suite runs, payments-webhook deployed 20 minutes ago and the release brought an error type
    of its own (the demo's own releases come every two hours, so a window may hold none): the pages always have
    a deploy marker, a NEW signature and a new error type to show."""
    deployed = floor_time(now, 60) - timedelta(minutes=20)
    store.write_events([FunctionEvent(WEBHOOK_KEY, deployed + timedelta(seconds=12), EventKind.DEPLOY,
                                      EventDetail(version="9001", code_sha="Zm9vYmFyYmF6cXV4cXV1eA=="))])
    store.write_errors(
        ErrorObservation.of(WEBHOOK_KEY, deployed + timedelta(minutes=m, seconds=30), "TypeError",
                            "refund() got an unexpected keyword argument 'memo'", count=m % 3 + 1,
                            sample_id=f"3f1c2a9e-0000-4000-8000-{m:012d}")
        for m in range(2, 19)
    )


class LiveServer:
    def __init__(self, app: Any) -> None:
        self._app = app
        self._server = create_server(app.server, host="127.0.0.1", port=0, threads=4)
        self.url = f"http://127.0.0.1:{self._server.effective_port}"  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        stop_waitress(self._server, self._thread)
        shutdown(self._app)  # reads a page load started in the background end before the store closes


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path_factory.mktemp("web") / "opsview.db")
    fill_demo(store)
    yield store
    store.close()


@pytest.fixture(scope="module")
def serve() -> Iterator[Callable[[Any], LiveServer]]:
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def serve_one() -> Iterator[Callable[[Any], LiveServer]]:
    """Like `serve`, for one test: its server stops (and its reads end) before the test's store closes."""
    servers: list[LiveServer] = []

    def start(app: Any) -> LiveServer:
        server = LiveServer(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def collected_store(tmp_path: Path) -> Iterator[SQLiteStore]:
    """Half an hour of the demo fleet: demo collected a minute ago, aws-prod/eu-west-1 failed two minutes ago."""
    store = SQLiteStore(tmp_path / "opsview.db")
    fill_demo(store, hours=0.5)
    yield store
    store.close()


@pytest.fixture(scope="module")
def live(demo_store: SQLiteStore, serve: Callable[[Any], LiveServer]) -> LiveServer:
    return serve(create_app(demo_store, Config()))


RULES_CONFIG = Config.model_validate({"alerts": {"rules": tomllib.loads(DEFAULT_RULES_TOML)["rules"]}})
"""The default rule pack (what `opsview demo` watches): the Functions grid marks rows over its thresholds."""


@pytest.fixture(scope="module")
def alerting_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """The demo fleet with the default rules evaluated as `opsview check` would, three times ten minutes apart,
    so the rules with a `for` have fired: the nav badge, the Alerts page and alert history have content."""
    store = SQLiteStore(tmp_path_factory.mktemp("web-alerts") / "opsview.db")
    fill_demo(store)
    now = utcnow()
    for minutes_ago in (20, 10, 0):
        evaluate(RULES_CONFIG.alerts.rules, store, now - timedelta(minutes=minutes_ago))
    assert store.alert_records({AlertState.FIRING}), "the demo fleet should trip some default rules"
    yield store
    store.close()


@pytest.fixture(scope="module")
def live_rules(alerting_store: SQLiteStore, serve: Callable[[Any], LiveServer]) -> LiveServer:
    return serve(create_app(alerting_store, RULES_CONFIG))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser tab; an uncaught JavaScript exception in it fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    uncaught: list[str] = []
    pg.on("pageerror", lambda exc: uncaught.append(str(exc)))
    yield pg
    context.close()
    assert not uncaught, f"uncaught JavaScript errors: {uncaught}"
