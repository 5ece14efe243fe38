"""The web's "why" (issue 17, part 3) in real Chromium, on the demo fleet frozen at 12:07:30 (the app's clock
reads that instant): the function page's Top errors table with NEW, its console and logs links, the deploy on
every chart with its hover text, the since-deploy comparison; the overview's New error types linking to their
functions; axe-core on both with the new tables in them."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from opsview.collectors.demo import build_fleet, window_samples
from opsview.config import Config
from opsview.console_links import console_links
from opsview.error_records import EventKind
from opsview.fleet import function_detail
from opsview.schema import CollectorHealth, FunctionKey
from opsview.store import SQLiteStore
from opsview.web.app import create_app
from opsview.web.data import function_href

from .conftest import LiveServer, fill_demo_window
from .test_web_layout_a11y import AXE_TAGS, PHONE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)
WINDOW = timedelta(hours=1)  # the pages' default range
PAYMENTS = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
GRAPHS = ("function-counts", "function-durations", "function-cold", "function-cost")


@pytest.fixture(scope="module")
def frozen_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    """Two hours of the demo fleet up to NOW: samples, error signatures (every function's errors searched) and
    deploys; payments-webhook released at 12:00:17, and the release brought a TypeError of its own."""
    store = SQLiteStore(tmp_path_factory.mktemp("why") / "opsview.db")
    fill_demo_window(store, NOW - timedelta(hours=2), NOW)
    store.record_health([CollectorHealth("demo", "demo", NOW - timedelta(seconds=20), True, functions=60)])
    yield store
    store.close()


@pytest.fixture(scope="module")
def frozen(frozen_store: SQLiteStore, serve: Callable[[Any], LiveServer]) -> LiveServer:
    return serve(create_app(frozen_store, Config(), clock=lambda: NOW))


def _open_function(page: Any, server: LiveServer, key: FunctionKey) -> None:
    page.goto(server.url + function_href(key))
    page.wait_for_selector("#function-cost .main-svg")
    page.wait_for_selector("#function-errors table, #function-errors .empty-state")


def test_function_page_lists_the_top_errors_with_new_marked(page: Any, frozen: LiveServer,
                                                           frozen_store: SQLiteStore) -> None:
    expected = frozen_store.top_errors(PAYMENTS, NOW - WINDOW, NOW, 10)
    _open_function(page, frozen, PAYMENTS)
    rows = page.locator("#function-errors tbody tr")
    assert rows.count() == len(expected)
    for i, summary in enumerate(expected):
        cells = rows.nth(i).locator("td")
        assert cells.nth(0).inner_text() == f"{summary.count:,}"
        assert cells.nth(3).inner_text() == summary.signature
        assert cells.nth(1).inner_text().startswith("NEW") == bool(summary.new)
        assert f"request {summary.sample_id}" in cells.nth(4).inner_text()
    new = [s.signature for s in expected if s.new]
    assert len(new) == 1
    assert new[0].startswith("TypeError: send_receipt()")  # what the 12:00 release brought
    assert page.locator("#function-errors .badge-new").count() == 1


def test_function_page_links_to_the_console_and_the_logs_of_the_window(page: Any, frozen: LiveServer,
                                                                       frozen_store: SQLiteStore) -> None:
    info = frozen_store.function(PAYMENTS)
    assert info is not None
    links = console_links(info, NOW - WINDOW, NOW)
    _open_function(page, frozen, PAYMENTS)
    for link_id, label in (("console", "Lambda console"), ("logs", "Logs Insights")):
        link = page.locator(f"#function-link-{link_id}")
        expected = links.get(link_id)
        assert expected is not None
        assert link.inner_text() == label
        assert link.get_attribute("href") == expected.url
        assert link.get_attribute("target") == "_blank"
        assert link.get_attribute("rel") == "noopener noreferrer"
    assert "2025-03-04T11*3a07*3a30.000Z" in (page.locator("#function-link-logs").get_attribute("href") or "")


def test_deploys_are_markers_on_every_chart_with_what_was_deployed(page: Any, frozen: LiveServer,
                                                                  frozen_store: SQLiteStore) -> None:
    (deploy,) = frozen_store.events(PAYMENTS, NOW - WINDOW, NOW, {EventKind.DEPLOY})
    at = f"{deploy.at:%Y-%m-%d %H:%M:%S}"
    _open_function(page, frozen, PAYMENTS)
    for graph in GRAPHS:
        traces = page.evaluate(
            "id => document.querySelector(`#${id} .js-plotly-plot`).data"
            ".filter(t => t.name === 'deploy').map(t => ({x: t.x, text: t.text, axis: t.yaxis}))", graph)
        assert len(traces) == 1, graph
        assert traces[0]["x"] == [at, at, None], graph
        assert traces[0]["axis"] == "y3"
        hover = traces[0]["text"][0]
        assert f"at: {at} UTC" in hover
        assert f"version: {deploy.detail.version}" in hover
        assert f"code sha: {deploy.detail.code_sha}" in hover
        # drawn: the marker's path is in the plot, and the legend names it
        assert page.locator(f"#{graph} .legendtext", has_text="deploy").count() == 1


def test_function_page_compares_since_the_last_deploy(page: Any, frozen: LiveServer,
                                                      frozen_store: SQLiteStore) -> None:
    detail = function_detail(frozen_store, Config().pricing, PAYMENTS, NOW - WINDOW, NOW, 60)
    assert detail is not None
    assert detail.since_deploy is not None
    _open_function(page, frozen, PAYMENTS)
    shown = page.inner_text("#function-since-deploy")
    assert shown == detail.since_deploy.text()
    assert re.fullmatch(r"7m ago: err 21% \(was 0\.7%\), p95 \d+ms \(was \d+ms\) · version 718 · sha \S+", shown)


def test_function_without_error_search_says_unknown(page: Any, serve_one: Callable[[Any], LiveServer],
                                                    tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "metrics.db")
    try:
        store.upsert_functions(f.info for f in build_fleet(42, 1))
        store.write_samples(window_samples(42, 1, NOW - timedelta(hours=1), NOW))
        server = serve_one(create_app(store, Config(), clock=lambda: NOW))
        _open_function(page, server, PAYMENTS)
        assert page.locator("#function-errors table").count() == 0
        assert "Errors unknown" in page.inner_text("#function-errors-unknown")
        page.goto(server.url + "/")
        page.wait_for_selector("#overview-new-errors-unknown")
        assert "cannot be told" in page.inner_text("#overview-new-errors-unknown")
    finally:
        store.close()


def test_overview_lists_new_error_types_linking_to_their_functions(page: Any, frozen: LiveServer,
                                                                  frozen_store: SQLiteStore) -> None:
    expected = frozen_store.fleet_errors(NOW - WINDOW, NOW, new_only=True, limit=20)
    assert expected, "the demo's releases and quiet functions bring new error types in this hour"
    assert all(s.new for s in expected)
    page.goto(frozen.url + "/")
    page.wait_for_selector("#overview-new-errors tbody tr")
    rows = page.locator("#overview-new-errors tbody tr")
    assert rows.count() == len(expected)
    shown = [(rows.nth(i).locator("td").nth(3).inner_text(), rows.nth(i).locator("td").nth(4).inner_text())
             for i in range(rows.count())]
    assert shown == [(f"{s.key.provider}/{s.key.region}/{s.key.name}", s.signature) for s in expected]
    i = next(i for i, s in enumerate(expected) if s.key == PAYMENTS)
    rows.nth(i).locator("td").nth(3).locator("a").click()
    page.wait_for_url(re.compile(re.escape(function_href(PAYMENTS))))
    page.wait_for_selector("#function-errors .badge-new")
    assert expected[i].signature in page.inner_text("#function-errors")


@pytest.mark.parametrize("viewport", [{"width": 1400, "height": 1000}, PHONE], ids=["1400px", "390px"])
@pytest.mark.parametrize("path", ["/", function_href(PAYMENTS)], ids=["overview", "function"])
def test_new_panes_have_no_axe_violations(page: Any, frozen: LiveServer, path: str,
                                          viewport: dict[str, int], artifacts_dir: Path) -> None:
    page.set_viewport_size(viewport)
    page.goto(frozen.url + path)
    page.wait_for_selector("#overview-new-errors tbody tr, #function-errors .badge-new")
    page.wait_for_load_state("networkidle")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                       "resultTypes": ["violations"]})
    name = "overview" if path == "/" else "function"
    page.screenshot(path=str(artifacts_dir / f"web-why-{name}-{viewport['width']}.png"), full_page=True)
    assert results.violations_count == 0, results.generate_report()
