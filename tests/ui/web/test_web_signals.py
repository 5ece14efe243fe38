"""What the dashboard signals beside the numbers, in real Chromium: STALE data and failing sources on every
page, the firing-alert badge, and the Functions grid worst-first with rows over alert thresholds marked."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from opsview.alert_records import AlertState
from opsview.config import Config
from opsview.schema import FunctionInfo, FunctionKey
from opsview.store import SQLiteStore
from opsview.web.app import create_app

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


class Clock:
    """The server's clock, moved by the test: time passing without a collection makes data stale."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_status_strip_says_stale_as_the_tui_does_and_names_the_failing_source(
    page: Any, collected_store: SQLiteStore, serve_one: Callable[[Any], Any], artifacts_dir: Path
) -> None:
    last = max(h.at for h in collected_store.latest_health() if h.ok)
    clock = Clock(last + timedelta(minutes=2))
    server = serve_one(create_app(collected_store, Config.model_validate({"collect": {"interval": "60s"}}),
                                  clock=clock))
    page.clock.install()  # the status poll's timer, fast-forwarded below
    page.goto(server.url + "/functions")
    freshness = page.locator("#app-freshness")
    expect(freshness).to_have_text(f"data as of {last:%H:%M:%S} UTC (2m00s ago)")
    expect(freshness).not_to_have_class(re.compile(r"\bstale\b"))
    # a failed source reads as failing, in words, on every page
    failing = page.locator("#app-status .source-failing")
    expect(failing).to_have_text("✗ aws-prod/eu-west-1 failing")
    assert "AccessDenied" in (failing.get_attribute("title") or "")

    # Three collect intervals (the TUI's rule) pass without a success: the open page turns STALE by itself.
    clock.now = last + timedelta(minutes=3, seconds=5)
    page.clock.fast_forward(31_000)
    expect(freshness).to_have_text(f"STALE data as of {last:%H:%M:%S} UTC (3m05s ago)")
    expect(freshness).to_have_class(re.compile(r"\bstale\b"))
    page.screenshot(path=str(artifacts_dir / "web-stale.png"))
    # and a page opened now says so from its first paint
    page.goto(server.url + "/")
    expect(page.locator("#app-freshness")).to_have_text(re.compile(r"^STALE data as of"))


def test_nav_badge_counts_firing_alerts_and_opens_the_alerts_page(
    page: Any, live_rules: Any, alerting_store: SQLiteStore
) -> None:
    firing = [r for r in alerting_store.alert_records({AlertState.FIRING}) if not r.silenced]
    page.goto(live_rules.url + "/?range=6h")
    badge = page.locator("#nav-alerts-badge")
    expect(badge).to_have_text(f"{len(firing)} firing")
    expect(badge).to_be_visible()
    badge.click()
    page.wait_for_url(re.compile(r"/alerts\?range=6h$"))


def test_no_badge_without_firing_alerts(page: Any, live: Any) -> None:
    page.goto(live.url + "/")
    page.wait_for_selector("#kpi-total-invocations")
    expect(page.locator("#nav-alerts-badge")).to_be_hidden()
    assert page.inner_text("#nav-alerts") == "Alerts"


_GRID_ROWS = """() => {
    const rows = [];
    dash_ag_grid.getApi('functions-grid').forEachNodeAfterFilterAndSort(n => rows.push(n.data));
    return rows;
}"""


def _grid_rows(page: Any) -> list[dict[str, Any]]:
    page.wait_for_selector("#functions-grid .ag-row")
    rows: list[dict[str, Any]] = page.evaluate(_GRID_ROWS)
    return rows


def test_functions_grid_opens_worst_error_rate_first_and_keeps_unknown_rates_last(
    page: Any, collected_store: SQLiteStore, serve_one: Callable[[Any], Any]
) -> None:
    # a function discovered but silent in the window: no error rate (—), never a 0 % at the bottom or top
    silent = FunctionInfo(FunctionKey("aws", "111111111111", "us-east-1", "zz-silent"))
    collected_store.upsert_functions([silent])
    server = serve_one(create_app(collected_store, Config()))
    page.goto(server.url + "/functions?range=6h")
    rows = _grid_rows(page)
    assert len(rows) == 61
    rates = [r["err"] for r in rows]
    known = [r for r in rates if r is not None]
    assert known == sorted(known, reverse=True)
    unknown = rows[len(known):]
    assert all(r["err"] is None for r in unknown)
    assert any("zz-silent" in r["function"] for r in unknown)
    assert page.get_attribute("#functions-grid [role=columnheader][col-id='err']", "aria-sort") == "descending"
    # the first row on screen is the worst
    first = page.locator("#functions-grid .ag-row[row-index='0'] [col-id='function']").inner_text()
    assert first in rows[0]["function"]
    # best first: the unknown rate still comes last, as in the TUI
    header = page.locator("#functions-grid [role=columnheader][col-id='err']")
    header.locator(".ag-header-cell-label").click()
    expect(header).to_have_attribute("aria-sort", "ascending")
    ascending = [r["err"] for r in page.evaluate(_GRID_ROWS)]
    assert ascending == [*sorted(known), *[None] * len(unknown)]
    # a first click on another measure shows its worst first too
    thr = page.locator("#functions-grid [role=columnheader][col-id='thr']")
    thr.locator(".ag-header-cell-label").click()
    expect(thr).to_have_attribute("aria-sort", "descending")
    throttles = [r["thr"] for r in page.evaluate(_GRID_ROWS) if r["thr"] is not None]
    assert throttles == sorted(throttles, reverse=True)
    # no rules configured: nothing to mark, and no empty column for it
    assert page.locator("#functions-grid .ag-header-cell[col-id='over']").count() == 0
    assert page.locator("#functions-grid .row-over").count() == 0


def _shown_row(page: Any, index: int) -> Any:
    page.evaluate(f"() => dash_ag_grid.getApi('functions-grid').ensureIndexVisible({index})")
    return page.locator(f"#functions-grid .ag-center-cols-container .ag-row[row-index='{index}']")


def test_functions_grid_marks_rows_over_an_alert_threshold(page: Any, live_rules: Any, artifacts_dir: Path) -> None:
    # 6h covers the store's two hours whatever the time: the numbers stay put while the test runs.
    page.goto(live_rules.url + "/functions?range=6h")
    rows = _grid_rows(page)
    # The default rules, judged from the grid's own numbers: error_rate > 5 %, cold_start_rate > 20 %, and
    # throttles > 0 over 5 minutes (any throttle in the window, on average more than none per 5 minutes).
    for r in rows:
        name = r["function"]
        assert ("high-error-rate" in r["over"]) is (r["err"] is not None and r["err"] > 0.05), name
        assert ("cold-starts" in r["over"]) is (r["cold"] is not None and r["cold"] > 0.2), name
        assert ("throttled" in r["over"]) is (r["thr"] is not None and r["thr"] > 0), name
    marked = [r for r in rows if r["over"]]
    assert marked
    assert len(marked) < len(rows)
    expect(page.locator("#functions-count")).to_contain_text(f"{len(marked)} over an alert threshold")

    # On screen: the worst row (first, sorted by error rate) is over high-error-rate
    assert "high-error-rate" in rows[0]["over"]
    worst = _shown_row(page, 0)
    expect(worst).to_have_class(re.compile(r"\brow-over\b"))
    err = worst.locator("[col-id='err']")
    expect(err).to_have_text(re.compile(r"^⚠ \d+\.\d\d%$"))  # the mark is a sign, not only a colour
    expect(err).to_have_class(re.compile(r"\bover\b"))
    expect(worst.locator("[col-id='over']")).to_contain_text("high-error-rate")
    # a throttled row with a low error rate: its throttle count carries the mark, its error rate does not
    index, throttled = next((i, r) for i, r in enumerate(rows) if r["over"] == "throttled")
    row = _shown_row(page, index)
    expect(row.locator("[col-id='thr']")).to_have_text(re.compile(r"^⚠ [\d,]+$"))
    expect(row.locator("[col-id='err']")).not_to_contain_text("⚠")
    assert throttled["over_cols"] == ["thr"]
    page.screenshot(path=str(artifacts_dir / "web-functions-marked.png"))
    # every row on screen is marked exactly when the grid's data says it is over a threshold
    _shown_row(page, 0)
    shown = page.locator("#functions-grid .ag-center-cols-container .ag-row")
    for i in range(shown.count()):
        row = shown.nth(i)
        data = rows[int(row.get_attribute("row-index") or "0")]
        assert ("row-over" in (row.get_attribute("class") or "").split()) is bool(data["over"]), data["function"]
        assert ("⚠" in row.inner_text()) is bool(data["over_cols"]), data["function"]
