"""The dashboard in real headless Chromium against waitress on loopback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from opsview.config import Config
from opsview.store import SQLiteStore
from opsview.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


def _overview_ready(page: Any) -> None:
    page.wait_for_selector("#kpi-total-invocations")
    page.wait_for_selector("#overview-invocations .main-svg")
    page.wait_for_selector("#overview-durations .main-svg")


def _choose(page: Any, dropdown_id: str, option: str) -> None:
    page.click(f"#{dropdown_id}")
    page.get_by_role("option", name=option, exact=True).click()


def test_overview_renders_cards_graphs_tables_and_health(page: Any, live: Any, artifacts_dir: Path) -> None:
    page.goto(live.url + "/")
    _overview_ready(page)
    for provider in ("total", "aws", "azure", "gcp"):
        assert page.locator(f"#kpi-card-{provider}").is_visible()
    assert re.fullmatch(r"[\d.,]+k?M?", page.inner_text("#kpi-total-invocations"))
    # stacked traces: one filled area per provider
    assert page.locator("#overview-invocations .scatterlayer .trace").count() == 3
    assert page.locator(".top-box").count() == 5
    assert "payments-webhook" in page.inner_text(".top-grid")  # the demo's error spike is the top erroring
    health = page.inner_text("#overview-health")
    assert "failing" in health
    assert "AccessDenied" in health
    page.screenshot(path=str(artifacts_dir / "web-overview.png"), full_page=True)


def test_provider_filter_changes_the_numbers_and_the_url(page: Any, live: Any) -> None:
    page.goto(live.url + "/")
    _overview_ready(page)
    total_before = page.inner_text("#kpi-total-invocations")
    assert page.inner_text("#kpi-aws-invocations") != total_before
    _choose(page, "ctl-provider", "aws")
    page.wait_for_function("() => !document.querySelector('#kpi-card-gcp')")
    # the window ends "now", so compare within one render: the total is now AWS's alone
    assert page.inner_text("#kpi-total-invocations") == page.inner_text("#kpi-aws-invocations")
    assert page.locator("#kpi-card-azure").count() == 0
    assert "24 functions" in page.inner_text("#kpi-card-total")
    # the stacked chart redraws with AWS alone
    page.wait_for_function("() => document.querySelectorAll('#overview-invocations .scatterlayer .trace').length === 1")
    page.wait_for_url(re.compile(r"provider=aws"))


def test_function_page_opens_from_the_grid(page: Any, live: Any, artifacts_dir: Path) -> None:
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("warning", "error") else None)
    page.goto(live.url + "/functions?range=6h")
    page.wait_for_selector("#functions-grid .ag-row")
    assert not [m for m in console if "AG Grid" in m or m.startswith("error")], console
    page.fill("#functions-search", "no-such-function-anywhere")
    page.wait_for_selector("#functions-grid .ag-overlay-no-rows-center, #functions-grid .ag-overlay")
    assert "No functions match the filters." in page.inner_text("#functions-grid")
    page.screenshot(path=str(artifacts_dir / "web-functions.png"), full_page=True)
    assert "60 functions" in page.inner_text("#functions-count")
    # an Azure function: its name holds a slash, so the key must survive URL encoding
    page.fill("#functions-search", "ProcessOrder")
    link = page.locator("#functions-grid a", has_text="orders-func/ProcessOrder")
    link.click()
    page.wait_for_url(re.compile(r"/function/azure%2F.*ProcessOrder"))
    page.wait_for_selector("#function-counts .main-svg")
    assert "azure/" in page.inner_text("#function-title")
    assert page.inner_text("#function-fact-runtime") != "—"
    assert page.locator("#function-cold .main-svg").count() >= 1
    assert "No alert history" in page.inner_text("#function-alerts")
    assert page.input_value("#ctl-from") == ""  # the 6h range travelled with the link
    assert "6h" in page.inner_text("#ctl-range")
    page.screenshot(path=str(artifacts_dir / "web-function.png"), full_page=True)


def test_url_restores_the_view(page: Any, live: Any) -> None:
    page.goto(live.url + "/?range=6h&provider=gcp&refresh=30s")
    _overview_ready(page)
    assert "6h" in page.inner_text("#ctl-range")
    assert "gcp" in page.inner_text("#ctl-provider")
    assert "30s" in page.inner_text("#ctl-refresh")
    assert page.locator("#kpi-card-gcp").is_visible()
    assert page.locator("#kpi-card-aws").count() == 0
    # the nav keeps the view: Functions shows the same filter
    page.click("#nav-functions")
    page.wait_for_selector("#functions-grid .ag-row")
    clouds = set(page.locator("#functions-grid .ag-row [col-id='cloud']").all_inner_texts())
    assert clouds == {"gcp"}
    assert "provider=gcp" in page.url


def test_alerts_page_shows_a_clear_empty_state(page: Any, live: Any, artifacts_dir: Path) -> None:
    page.goto(live.url + "/alerts")
    page.wait_for_selector("#alerts-empty")
    assert "No alerts" in page.inner_text("#alerts-empty")
    page.screenshot(path=str(artifacts_dir / "web-alerts.png"), full_page=True)


def test_unauthenticated_request_is_refused_when_auth_is_set(
    page: Any, demo_store: SQLiteStore, serve: Callable[[Any], Any], artifacts_dir: Path
) -> None:
    config = Config.model_validate({"web": {"auth": {"type": "bearer", "token_env": "OPSVIEW_TEST_TOKEN"}}})
    server = serve(create_app(demo_store, config, environ={"OPSVIEW_TEST_TOKEN": "s3cret-token"}))
    response = page.goto(server.url + "/")
    assert response is not None
    assert response.status == 401
    assert "kpi" not in page.content()
    assert page.request.get(server.url + "/healthz").status == 200  # load balancers need no token
    page.context.set_extra_http_headers({"Authorization": "Bearer s3cret-token"})
    response = page.goto(server.url + "/function/" + quote("aws/111111111111/us-east-1/checkout-api", safe=""))
    assert response is not None
    assert response.status == 200
    page.wait_for_selector("#function-counts .main-svg")
