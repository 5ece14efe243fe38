"""Layout and accessibility of the four pages in real Chromium: a phone's 390 px and a desktop's 1,400 px,
chart titles clear of Plotly's toolbar, keyboard access to the controls, and axe-core's WCAG rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from axe_playwright_python.sync_playwright import Axe

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

# payments-webhook fires high-error-rate in the alerting store: its page has an alert history.
WEBHOOK = "/function/" + quote("aws/111111111111/us-east-1/payments-webhook", safe="")
PAGES = {
    "overview": ("/", "#overview-durations .main-svg"),
    "functions": ("/functions", "#functions-grid .ag-row"),
    "function": (WEBHOOK, "#function-cost .main-svg"),
    "alerts": ("/alerts", "#alerts-history > *"),
}
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1400, "height": 1000}
# WCAG 2.0, 2.1 and 2.2 at levels A and AA, and axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def _open(page: Any, url: str, ready: str) -> None:
    page.goto(url)
    page.wait_for_selector(ready)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1400px", "390px"])
@pytest.mark.parametrize("name", list(PAGES))
def test_no_axe_violations(page: Any, live_rules: Any, name: str, viewport: dict[str, int],
                           artifacts_dir: Path) -> None:
    page.set_viewport_size(viewport)
    path, ready = PAGES[name]
    _open(page, live_rules.url + path, ready)
    page.wait_for_selector("#app-freshness")  # the status strip is checked too
    page.wait_for_load_state("networkidle")
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                       "resultTypes": ["violations"]})
    page.screenshot(path=str(artifacts_dir / f"web-{name}-{viewport['width']}.png"), full_page=True)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("name", list(PAGES))
def test_phone_width_scrolls_tables_and_grid_inside_not_the_page(page: Any, live_rules: Any, name: str) -> None:
    page.set_viewport_size(PHONE)
    path, ready = PAGES[name]
    _open(page, live_rules.url + path, ready)
    page.wait_for_load_state("networkidle")
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide in a {width[1]} px window"
    wide = {
        "overview": ("#overview-health .table-scroll", "#overview-new-errors .table-scroll"),
        "functions": ("#functions-grid .ag-body-horizontal-scroll-viewport",),
        "function": ("#function-errors .table-scroll",),
    }.get(name, ())
    for selector in wide:
        box = page.locator(selector)
        # wider than the screen, so it scrolls, and it scrolls itself rather than the page. AG Grid shows its
        # horizontal scrollbar asynchronously (in an animation frame, and again 500 ms after a layout change such
        # as new row data): wait until it overflows instead of sampling one moment (a loaded machine hit the gap).
        page.wait_for_function("sel => { const el = document.querySelector(sel); "
                               "return el !== null && el.scrollWidth > el.clientWidth; }", arg=selector)
        box.evaluate("el => { el.scrollLeft = 200; }")
        assert box.evaluate("el => el.scrollLeft") > 0
        assert page.evaluate("() => window.scrollX") == 0


_INTERSECT = """([a, b]) => {
    const r = a.getBoundingClientRect(), s = b.getBoundingClientRect();
    return !(r.right <= s.left || s.right <= r.left || r.bottom <= s.top || s.bottom <= r.top);
}"""
CHART_TITLES = {
    "/": ("Invocations by provider", "Errors by provider", "Duration percentiles (all selected functions)"),
    WEBHOOK: ("Invocations, errors, throttles", "Duration", "Cold starts and init duration", "Estimated cost"),
}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1400px", "390px"])
@pytest.mark.parametrize("path", list(CHART_TITLES), ids=["overview", "function"])
def test_chart_titles_clear_of_the_toolbar_and_legends_clear_of_the_axis(page: Any, live_rules: Any, path: str,
                                                  viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    _open(page, live_rules.url + path, ".js-plotly-plot .main-svg")
    for title in CHART_TITLES[path]:
        heading = page.get_by_text(title, exact=True)
        heading.scroll_into_view_if_needed()
        graph = page.locator(".js-plotly-plot").filter(has=page.locator(".main-svg")).nth(
            CHART_TITLES[path].index(title))
        graph.hover()  # the modebar shows while the pointer is over the chart
        modebar = graph.locator(".modebar")
        modebar.wait_for(state="visible")
        overlap = page.evaluate(_INTERSECT, [heading.element_handle(), modebar.element_handle()])
        assert not overlap, f"{title!r} runs under the toolbar"
        # nor does the legend cover the time axis's labels (a two-row legend on a phone did)
        legend = graph.locator(".infolayer .legend")  # not the hover label's
        for i in range(graph.locator(".xtick text").count() if legend.count() else 0):
            tick = graph.locator(".xtick text").nth(i)
            covered = page.evaluate(_INTERSECT, [legend.element_handle(), tick.element_handle()])
            assert not covered, f"{title!r}: the legend covers {tick.text_content()!r}"


def test_header_controls_work_from_the_keyboard(page: Any, live: Any) -> None:
    """Each dropdown is one Tab stop, and opens, moves and chooses with the keys."""
    page.goto(live.url + "/functions")
    page.wait_for_selector("#functions-grid .ag-row")
    page.focus("#nav-alerts")
    stops = []
    for _ in range(5):
        page.keyboard.press("Tab")
        stops.append(page.evaluate("() => document.activeElement.id"))
    assert stops == ["ctl-range", "ctl-provider", "ctl-account", "ctl-region", "ctl-refresh"]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.id") == "ctl-provider"
    # Each key waits for what a user would see before pressing the next: the list open with the focus in
    # its search box, then the focus on the option.
    page.keyboard.press("ArrowDown")  # opens the list
    page.wait_for_function("() => document.activeElement.classList.contains('dash-dropdown-search')")
    page.keyboard.press("ArrowDown")  # the first option: aws
    page.wait_for_function("() => document.activeElement.closest('[role=option]')?.innerText.trim() === 'aws'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"provider=aws"))
    page.wait_for_function("() => [...document.querySelectorAll('#functions-grid .ag-row [col-id=cloud]')]"
                           ".every(c => c.innerText === 'aws')")


def test_changes_are_signalled_by_arrows_beside_the_colour(page: Any, live: Any) -> None:
    page.goto(live.url + "/")
    page.wait_for_selector("#kpi-total-invocations")
    coloured = page.locator(".kpi-change.worse, .kpi-change.better").all_inner_texts()
    assert coloured, "the demo's windows differ: some change is coloured"
    assert all(re.fullmatch(r"[▲▼][\d.,]+(%| pt)|new", text) for text in coloured), coloured
    for text in page.locator(".kpi-change:not(.worse):not(.better)").all_inner_texts():
        # uncoloured: no change as shown, or invocations (neither good nor bad)
        assert text == "" or text.startswith("±") or re.fullmatch(r"[▲▼]\d+%", text), text
