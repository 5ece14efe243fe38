"""The alerts page in real Chromium: values in their unit, rule names on one line, a row opens its function,
and "Silence…" adds the silence `opsview silence add` would (as the signed-in user when [web.auth] is set).

The app reads a store opened read-only, as `opsview web` opens it; its clock is frozen just after the demo
fleet's error spike and throttle burst, with the default rule pack evaluated every minute before.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from opsview.alerts.defaults import default_rules
from opsview.alerts.engine import evaluate
from opsview.collectors.demo import build_fleet, window_samples
from opsview.config import AlertsConfig, Config, StoreConfig
from opsview.schema import CollectorHealth
from opsview.store import SQLiteStore
from opsview.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)  # just after the demo's throttle burst and error spike
PAYMENTS = "aws/111111111111/us-east-1/payments-webhook"
PASSWORD_ENV = "OPSVIEW_TEST_WEB_PASSWORD"


@pytest.fixture(scope="module")
def alerts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web-alerts") / "alerts.db"
    store = SQLiteStore(path)
    store.upsert_functions(fn.info for fn in build_fleet(42, 1))
    store.write_samples(window_samples(42, 1, NOW - timedelta(hours=2), NOW))
    store.record_health([CollectorHealth("demo", "demo", NOW - timedelta(seconds=20), True, functions=60)])
    for minutes in range(30, -1, -1):
        evaluate(default_rules(), store, NOW - timedelta(minutes=minutes))
    store.close()
    return path


@pytest.fixture
def store_path(alerts_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "alerts.db"
    shutil.copy(alerts_db, target)
    return target


@pytest.fixture
def start_app(store_path: Path, serve: Callable[[Any], Any]) -> Iterator[Callable[..., Any]]:
    stores: list[SQLiteStore] = []

    def start(web: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Any:
        store = SQLiteStore(store_path, read_only=True)  # as `opsview web` opens it
        stores.append(store)
        config = Config(store=StoreConfig(url=str(store_path)), alerts=AlertsConfig(rules=default_rules()),
                        **({"web": web} if web else {}))
        return serve(create_app(store, config, clock=lambda: NOW, environ=environ or {}))

    yield start
    for store in stores:
        store.close()


def silences(store_path: Path) -> list[dict[str, Any]]:
    listed = subprocess.run(
        [sys.executable, "-m", "opsview", "silence", "list", "--all", "--store", str(store_path), "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    result: list[dict[str, Any]] = json.loads(listed.stdout)
    return result


def row(page: Any, section: str, rule: str, function: str) -> Any:
    return page.locator(f"#{section} tr", has=page.locator("td", has_text=re.compile(f"^{re.escape(rule)}$"))).filter(
        has_text=function)


def test_rows_read_in_their_unit_keep_rule_names_on_one_line_and_open_their_function(
    page: Any, start_app: Callable[..., Any], artifacts_dir: Path
) -> None:
    server = start_app()
    page.set_viewport_size({"width": 1000, "height": 900})  # narrow enough that a rule name would wrap
    page.goto(server.url + "/alerts")
    page.wait_for_selector("#alerts-firing table")
    errors = row(page, "alerts-firing", "high-error-rate", PAYMENTS)
    assert re.search(r"\b\d+\.\d % > 5\.0 %", errors.inner_text()), errors.inner_text()
    timeout = row(page, "alerts-firing", "near-timeout", "report-generator").inner_text()
    assert re.search(r"\d+\.\d % > 80\.0 % of timeout", timeout), timeout
    throttled = row(page, "alerts-firing", "throttled", "image-resize").inner_text()
    assert re.search(r"\b[\d,]+ > 0\b", throttled), throttled
    assert re.search(r"\d+\.\d %", page.inner_text("#alerts-history"))  # history values in their unit too
    # every rule cell is one line of text
    lines = page.eval_on_selector_all(
        "#alerts-firing tbody td:first-child, #alerts-pending tbody td:first-child",
        """cells => cells.map(td => {
            const range = document.createRange(); range.selectNodeContents(td);
            return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size;
        })""",
    )
    assert lines
    assert set(lines) == {1}
    page.screenshot(path=str(artifacts_dir / "web-alerts-firing.png"), full_page=True)

    # a click on the row, not on its link, opens the function with the view
    errors.locator("td").nth(5).click()  # the summary
    page.wait_for_url(re.compile("/function/" + re.escape(quote(PAYMENTS, safe=""))))
    page.wait_for_selector("#function-alerts table")
    assert page.inner_text("#function-title") == PAYMENTS
    history = page.inner_text("#function-alerts")
    assert re.search(r"high-error-rate\s+critical\s+pending\s+firing\s+\d+\.\d %", history), history


def test_silence_from_the_alerts_page_is_what_silence_add_records(
    page: Any, start_app: Callable[..., Any], store_path: Path
) -> None:
    server = start_app()
    page.goto(server.url + "/alerts")
    page.wait_for_selector("#alerts-firing table")
    page.get_by_role("button", name=f"Silence high-error-rate for {PAYMENTS}").click()
    form = page.locator("#alerts-silence-form")
    form.wait_for(state="visible")
    assert form.locator("h3").inner_text() == f"Silence high-error-rate for {PAYMENTS}"
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'alerts-silence-duration'")
    form.get_by_label("How long").fill("5x")
    form.get_by_role("button", name="Silence", exact=True).click()
    page.wait_for_selector("#alerts-silence-status:has-text('invalid duration')")
    assert silences(store_path) == []

    form.get_by_label("How long").fill("2h")
    form.get_by_label("Comment").fill("rolling back the deploy")
    form.get_by_label("Comment").press("Enter")
    page.wait_for_selector("#alerts-silence-status:has-text('Silence 1 added by web')")
    assert form.is_hidden()
    # shown as silenced at once, no longer among the firing rows
    row(page, "alerts-silenced", "high-error-rate", PAYMENTS).wait_for()
    assert row(page, "alerts-firing", "high-error-rate", PAYMENTS).count() == 0

    (silence,) = silences(store_path)
    assert {k: silence[k] for k in ("rule", "function", "comment", "created_by", "starts", "ends")} == {
        "rule": "high-error-rate", "function": PAYMENTS, "comment": "rolling back the deploy", "created_by": "web",
        "starts": NOW.isoformat(), "ends": (NOW + timedelta(hours=2)).isoformat(),
    }


def test_with_web_auth_only_a_signed_in_user_silences_and_is_recorded(
    page: Any, start_app: Callable[..., Any], store_path: Path
) -> None:
    server = start_app({"auth": {"type": "basic", "username": "oncall", "password_env": PASSWORD_ENV}},
                       {PASSWORD_ENV: "s3cret"})
    # without credentials the silence request is refused before it reaches the page's code
    refused = page.request.post(server.url + "/_dash-update-component", data="{}",
                                headers={"Content-Type": "application/json"})
    assert refused.status == 401
    assert silences(store_path) == []

    page.context.set_extra_http_headers({"Authorization": "Basic " + base64.b64encode(b"oncall:s3cret").decode()})
    page.goto(server.url + "/alerts")
    page.wait_for_selector("#alerts-pending table")
    row(page, "alerts-pending", "high-error-rate", "CancelOrder").locator("button.row-action").click()
    page.locator("#alerts-silence-form").get_by_label("How long").fill("30m")
    page.locator("#alerts-silence-form").get_by_role("button", name="Silence", exact=True).click()
    page.wait_for_selector("#alerts-silence-status:has-text('Silence 1 added by oncall')")
    (silence,) = silences(store_path)
    assert silence["created_by"] == "oncall"
    assert silence["function"].endswith("/orders-func/CancelOrder")
