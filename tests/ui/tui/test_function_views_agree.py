"""The TUI's detail screen and the web's function page show the same facts for the same store, and
they are the numbers of the function's row in the fleet: figures, the since-deploy comparison, the top error
signatures and the console links."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from shown_text import dash_text, static_text
from textual.widgets import Static

from opsview.alert_records import AlertChanges, AlertEvent, AlertState
from opsview.config import Config
from opsview.error_records import ErrorCoverage, ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.fleet import fleet_status, function_detail
from opsview.schema import Coverage, FunctionInfo, FunctionKey, Sample, floor_time
from opsview.store import FleetFilter, SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.widgets.error_table import ErrorTable
from opsview.web.app import create_app, shutdown
from opsview.web.view import PageQuery

from .conftest import NOW, FakeClock

pytestmark = pytest.mark.ui

KEY = FunctionKey("aws", "111111111111", "us-east-1", "facts-fn")
WINDOW = timedelta(hours=1)


def _fill(store: SQLiteStore) -> None:
    """An hour of known minutes: 120 calls, 6 errors, 1 throttle, 3 cold starts; p99 200 and 400 ms in turn."""
    store.upsert_functions([FunctionInfo(KEY, "python3.12", 512, 30.0, "arn:aws:lambda:us-east-1:1:function:facts-fn",
                                         {"team": "orders"})])
    first = floor_time(NOW, 60) - timedelta(minutes=59)
    store.write_samples(
        Sample(key=KEY, start=first + timedelta(minutes=i), invocations=120, errors=6, throttles=1, cold_starts=3,
               duration_avg_ms=80.0, duration_p50_ms=60.0, duration_p95_ms=150.0,
               duration_p99_ms=200.0 if i % 2 else 400.0, duration_max_ms=900.0 if i == 7 else 500.0,
               init_avg_ms=350.0, init_p95_ms=420.0)
        for i in range(60)
    )
    store.record_coverage([Coverage(*KEY[:3], first, first + timedelta(minutes=60))])
    store.apply_alert_changes(AlertChanges(events=(
        AlertEvent(NOW - timedelta(minutes=20), "errors-high", KEY, AlertState.PENDING, AlertState.FIRING, 0.05,
                   "critical"),
    )))
    # a deploy 30 minutes ago, and two signatures, the function's errors searched over the hour
    store.write_events([FunctionEvent(KEY, NOW - timedelta(minutes=30), EventKind.DEPLOY, EventDetail(version="42"))])
    store.record_error_coverage([ErrorCoverage((KEY,), first - timedelta(hours=1), first + timedelta(minutes=60))])
    store.write_errors([
        *(ErrorObservation.of(KEY, NOW - timedelta(minutes=m), "KeyError", f"'k{m}'") for m in (9, 8)),
        ErrorObservation.of(KEY, NOW - timedelta(minutes=5), None, "Task timed out after 3.01 seconds"),
    ])


def _web_facts(component: Any) -> dict[str, str]:
    """The function page's definition list as label -> text."""
    if isinstance(component, list | tuple):
        return {k: v for c in component for k, v in _web_facts(c).items()}
    children = getattr(component, "children", None)
    if type(component).__name__ == "Dl":
        items = list(children)
        return {dash_text(dt): dash_text(dd) for dt, dd in zip(items[::2], items[1::2], strict=True)}
    return _web_facts(children) if isinstance(children, list | tuple) else {}


async def test_detail_screen_and_function_page_show_the_same_facts(demo_store: SQLiteStore, clock: FakeClock) -> None:
    _fill(demo_store)
    config = Config()
    expected = function_detail(demo_store, config.pricing, KEY, NOW - WINDOW, NOW, 60)
    assert expected is not None
    facts = {f.label: f.text for f in expected.facts()}
    # the numbers a user checks against the samples above
    assert (facts["inv/min"], facts["error %"], facts["throttles"], facts["cold start %"]) == (
        "120.0", "5.0%", "60", "2.5%")
    assert (facts["p99"], facts["max"], facts["init avg"], facts["runtime"]) == ("300ms", "900ms", "350ms",
                                                                                "python3.12")
    # ... and those of the function's row in the fleet table and grid
    (row,) = [s for s in fleet_status(demo_store, config.pricing, WINDOW, NOW, FleetFilter("aws")) if s.key == KEY]
    assert row.measures == expected.status.measures
    assert (row.error_rate, row.cost_per_hour) == (expected.status.error_rate, expected.status.cost_per_hour)

    web = create_app(demo_store, config, clock=clock)
    try:
        page = importlib.import_module("opsview.web.pages.function")
        with web.server.app_context():
            info, _style, *_figs, top_errors, alerts = page.update_function(PageQuery(range="1h").to_data(), 0,
                                                                            str(KEY))
    finally:
        shutdown(web)
    assert _web_facts(info) == facts

    app = OpsviewApp(demo_store, config, read_only=True, clock=clock, window=WINDOW)
    async with app.run_test(size=(160, 50)) as pilot:
        await app.push_screen(DetailScreen(app.ctx, KEY))
        for _ in range(3):
            await app.workers.wait_for_complete()
            await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        tui_info = static_text(screen.query_one("#detail-info", Static))
        tui_alerts = static_text(screen.query_one("#detail-alerts", Static))
        table = screen.query_one("#detail-errors", ErrorTable)
        tui_errors = [(table.get_row_at(i)[0].plain, table.get_row_at(i)[3].plain) for i in range(table.row_count)]
        tui_links = static_text(screen.query_one("#detail-links", Static))
    for label, text in facts.items():
        assert f"{label} {text}" in tui_info, label
    assert "errors-high" in tui_alerts
    assert "errors-high" in dash_text(alerts)
    assert "firing" in tui_alerts
    assert "firing" in dash_text(alerts)
    # since the deploy: the same line in both, from the one comparison
    since = expected.since_deploy_fact()
    assert since is not None
    assert since.text == "30m ago: err 5.0% (was 5.0%), p95 150ms (was 150ms) · version 42"
    assert f"since deploy  {since.text}" in tui_info
    assert f"since deploy: {since.text}" in " ".join(dash_text(info).split())
    # the same signatures, counted alike
    assert tui_errors == [("2", "KeyError: <str>"), ("1", "Task timed out after <n> seconds")]
    web_rows = [[dash_text(td) for td in tr.children] for tr in _find_tag(top_errors, "Tr")[1:]]
    assert [(r[0], r[3]) for r in web_rows] == tui_errors
    # the same links
    for link in expected.links.links:
        assert link.url in "".join(tui_links.split())  # folded across lines in the terminal
        assert _find_id(info, f"function-link-{link.id}").href == link.url


def _find_tag(component: Any, tag: str) -> list[Any]:
    found = [component] if type(component).__name__ == tag else []
    children = getattr(component, "children", None) if not isinstance(component, list | tuple) else component
    for child in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        if not isinstance(child, str | int | float):
            found += _find_tag(child, tag)
    return found


def _find_id(component: Any, id_: str) -> Any:
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None) if not isinstance(component, list | tuple) else component
    for child in children if isinstance(children, list | tuple) else [children] if children is not None else []:
        if not isinstance(child, str | int | float) and (hit := _find_id(child, id_)) is not None:
            return hit
    return None
