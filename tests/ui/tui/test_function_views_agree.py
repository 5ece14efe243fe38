"""The TUI's detail screen and the web's function page show the same facts for the same store, and
they are the numbers of the function's row in the fleet."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from shown_text import dash_text, static_text
from textual.widgets import Static

from opsview.alert_records import AlertChanges, AlertEvent, AlertState
from opsview.config import Config
from opsview.fleet import fleet_status, function_detail
from opsview.schema import Coverage, FunctionInfo, FunctionKey, Sample, floor_time
from opsview.store import FleetFilter, SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.screens.detail import DetailScreen
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
            info, _style, *_figs, alerts = page.update_function(PageQuery(range="1h").to_data(), 0, str(KEY))
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
    for label, text in facts.items():
        assert f"{label} {text}" in tui_info, label
    assert "errors-high" in tui_alerts
    assert "errors-high" in dash_text(alerts)
    assert "firing" in tui_alerts
    assert "firing" in dash_text(alerts)
