"""Drive the real app with Textual's Pilot and check what an on-call engineer would see."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from shown_text import static_text as text_of
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerCancelled

from opsview.config import Config, TuiConfig
from opsview.schema import CollectorHealth, FunctionKey, Sample
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.model import SortColumn
from opsview.tui.screens.alerts import AlertsScreen
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.screens.fleet import FleetScreen
from opsview.tui.screens.help import HelpScreen
from opsview.tui.widgets.fleet_header import FleetHeader

from .conftest import FakeClock

pytestmark = pytest.mark.ui

MakeApp = Callable[..., OpsviewApp]


async def settle(pilot: Pilot[None]) -> None:
    """Let every read land and its message be applied."""
    for _ in range(3):
        await wait_for_workers(pilot)
        await pilot.pause()


async def wait_for_workers(pilot: Pilot[None]) -> None:
    """Wait for the workers running now; a read replaced by a newer one (cancelled) is expected, not a failure."""
    for _ in range(20):
        try:
            await pilot.app.workers.wait_for_complete()
            return
        except WorkerCancelled:
            continue


def fleet(app: OpsviewApp) -> FleetScreen:
    return app.fleet


async def test_fleet_shows_every_demo_function_sorted_by_error_rate(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        assert screen.snapshot is not None
        keys = screen.table.shown_keys
        assert len(keys) == 60
        by_key = {s.key: s for s in screen.snapshot.statuses}
        rates = [by_key[k].error_rate for k in keys if by_key[k].error_rate is not None]
        assert rates == sorted(rates, reverse=True)
        # functions idle over the window show a dash, never a made-up zero
        idle = [k for k in keys if by_key[k].buckets == 0]
        assert idle, "the demo fleet has rarely-called functions"
        assert all(str(screen.table.get_cell(str(k), "inv")).strip() == "—" for k in idle)
        assert rates == sorted(rates, reverse=True)
        assert keys[len(rates):] == sorted(keys[len(rates):])


async def test_filter_by_text_and_glob_then_clear(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"payments")
        keys = screen.table.shown_keys
        assert keys
        assert all("payments" in str(k) for k in keys)
        assert "filter “payments”" in text_of(screen.query_one("#summary", Static))

        screen.query_one("#filter", Input).value = "gcp/*/europe-west1/*"
        await pilot.pause()
        keys = screen.table.shown_keys
        assert len(keys) == 9
        assert all(k.provider == "gcp" and k.region == "europe-west1" for k in keys)

        await pilot.press("escape")  # back to the table, filter kept
        assert app.focused is screen.table
        assert len(screen.table.shown_keys) == 9
        await pilot.press("escape")  # clears it
        await pilot.pause()
        assert len(screen.table.shown_keys) == 60


async def test_sort_cycles_columns_and_reverses(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        await pilot.press("s")
        assert app.ctx.view.sort is SortColumn.THROTTLES
        assert app.ctx.view.descending
        assert screen.snapshot is not None
        by_key = {s.key: s for s in screen.snapshot.statuses}
        throttles = [by_key[k].measures.throttles for k in screen.table.shown_keys]
        known = [t for t in throttles if t is not None]
        assert known == sorted(known, reverse=True)
        assert known[0] > 0
        assert screen.table.shown_keys[0].name in {"image-resize", "orders-func/ProcessOrder"}
        # gen1 GCP functions report no throttles at all: they sort last, whichever the direction
        assert all(t is None for t in throttles[len(known):])

        await pilot.press("S")
        throttles = [by_key[k].measures.throttles for k in screen.table.shown_keys]
        known = [t for t in throttles if t is not None]
        assert known == sorted(known)
        assert throttles[-1] is None
        assert "throttles ↑" in text_of(screen.query_one("#summary", Static))


async def test_provider_keys_switch_clouds(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        for key, provider, count in (("1", "aws", 24), ("2", "azure", 18), ("3", "gcp", 18)):
            await pilot.press(key)
            await settle(pilot)
            keys = screen.table.shown_keys
            assert len(keys) == count
            assert {k.provider for k in keys} == {provider}
        await pilot.press("0")
        await settle(pilot)
        assert len(screen.table.shown_keys) == 60


async def test_window_key_cycles_and_rereads(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        assert screen.snapshot is not None
        before = {s.key: s.measures.invocations for s in screen.snapshot.statuses}
        await pilot.press("w")
        await settle(pilot)
        assert app.ctx.view.window == timedelta(hours=1)
        assert screen.snapshot.view.window == timedelta(hours=1)
        after = {s.key: s.measures.invocations for s in screen.snapshot.statuses}
        busy = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")
        assert (after[busy] or 0) > 3 * (before[busy] or 0)
        assert "window 1h" in text_of(screen.query_one("#summary", Static))
        for expected in ("6h", "24h", "5m", "15m"):
            await pilot.press("w")
            await settle(pilot)
            assert f"window {expected}" in text_of(screen.query_one("#summary", Static))


async def test_detail_opens_on_the_cursor_row_and_closes(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        await pilot.press("down", "down")
        key = screen.table.cursor_key
        assert key is not None
        await pilot.press("enter")
        await settle(pilot)
        detail = app.screen
        assert isinstance(detail, DetailScreen)
        assert detail.key == key
        assert detail.data is not None
        assert detail.data.detail is not None
        found = detail.data.detail.info
        info = text_of(detail.query_one("#detail-info", Static))
        assert found.runtime is not None
        assert found.runtime in info
        assert f"timeout {found.timeout_s:g} s" in info
        assert "p99" in info
        assert detail.data.detail.series, "the detail charts have buckets to draw"
        assert "no alert has fired" in text_of(detail.query_one("#detail-alerts", Static))
        await pilot.press("escape")
        assert app.screen is screen
        assert screen.table.cursor_key == key


async def test_alerts_screen_says_when_there_are_none(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        text = text_of(app.screen.query_one("#alerts-empty", Static))
        assert "No firing or pending alerts" in text
        assert "No alert rules are configured" in text
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_stale_warning_after_three_refresh_intervals(make_app: MakeApp, clock: FakeClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = fleet(app).query_one(FleetHeader)
        assert not header.is_stale
        clock.advance(timedelta(minutes=2))
        await pilot.pause(1.2)  # the header's age ticks every second
        assert not header.is_stale
        assert "2m20s ago" in text_of(header.query_one("#freshness", Static))
        clock.advance(timedelta(minutes=1, seconds=30))
        await pilot.pause(1.2)
        assert header.is_stale
        assert text_of(header.query_one("#freshness", Static)).startswith("STALE")


async def test_failing_source_shows_a_badge_with_its_reason(
    make_app: MakeApp, demo_store: SQLiteStore, clock: FakeClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        header = fleet(app).query_one(FleetHeader)
        assert header.badge_labels == []
        demo_store.record_health([CollectorHealth(
            "aws-prod", "aws", clock.now, False, "AccessDenied: not authorized to perform lambda:ListFunctions",
            scope="us-east-1",
        )])
        await pilot.press("r")
        await settle(pilot)
        assert header.badge_labels == ["aws-prod/us-east-1"]
        assert not header.is_stale, "the demo source still collects, so the data is fresh"
        badge = header.query("SourceBadge").first()
        badge.focus()
        await pilot.pause()
        reason = header.query_one("#reason", Static)
        assert reason.display
        assert "AccessDenied" in text_of(reason)
        # the table is still there and complete: one failing source never blanks the view
        assert len(fleet(app).table.shown_keys) == 60


async def test_refresh_keeps_the_cursor_on_the_same_function(
    make_app: MakeApp, demo_store: SQLiteStore, clock: FakeClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        await pilot.press("down", "down", "down", "down", "down")
        key = screen.table.cursor_key
        assert key is not None
        index = screen.table.cursor_row
        # a quiet function starts failing badly: it jumps to the top, above the cursor row
        loud = screen.table.shown_keys[-1]
        start = clock.now.replace(second=0) - timedelta(minutes=1)
        demo_store.write_samples([Sample(key=loud, start=start, invocations=500, errors=400)])
        await pilot.press("r")
        await settle(pilot)
        assert screen.table.shown_keys[0] == loud
        assert screen.table.cursor_key == key
        assert screen.table.cursor_row == index + 1


async def test_keys_come_from_the_config_keymap(make_app: MakeApp) -> None:
    app = make_app(Config(tui=TuiConfig(keymap={"filter": "f", "sort": "o"})))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("o")
        assert app.ctx.view.sort is SortColumn.THROTTLES
        await pilot.press("f")
        assert isinstance(app.focused, Input)


async def test_help_lists_binding_ids_and_remapped_keys(make_app: MakeApp) -> None:
    app = make_app(Config(tui=TuiConfig(keymap={"filter": "f"})))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        table = app.screen.table
        keys = dict(zip(table.columns[2].cells, table.columns[1].cells, strict=True))
        assert keys["filter"] == "f"
        assert keys["sort"] == "s"
        assert keys["help"] == "?"
        assert {"provider_aws", "provider_azure", "provider_gcp", "provider_all", "window", "refresh", "detail",
                "alerts", "quit", "sort_direction", "errors", "error_sample", "copy_console_link",
                "copy_logs_link"} <= set(keys)
        await pilot.press("escape")
        assert isinstance(app.screen, FleetScreen)


async def test_rules_are_checked_live_after_each_collection(make_app: MakeApp) -> None:
    """Not read-only: the background worker collects, then evaluates the rules; the alerts screen shows them."""
    from opsview.alert_records import AlertState
    from opsview.config import AlertsConfig, RuleConfig

    rule = RuleConfig.model_validate({"name": "throttled", "measure": "throttles", "window": "5m", "op": ">",
                                      "threshold": 0, "for": "0s", "severity": "warning"})
    app = make_app(Config(alerts=AlertsConfig(rules=[rule])), read_only=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        firing = app.ctx.store.alert_records({AlertState.FIRING})
        assert "image-resize" in {r.key.name for r in firing}  # the demo's throttle burst just happened
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        table = app.screen.query_one("#alerts-table", DataTable)
        shown = " ".join(str(table.get_cell_at(Coordinate(r, c))) for r in range(table.row_count)
                         for c in range(len(table.columns)))
        assert "image-resize" in shown
        assert "throttled" in shown


async def test_table_draws_rows_scrolled_into_view_and_opens_them(make_app: MakeApp) -> None:
    """The table formats rows only as they are drawn: the last row, reached with `end`, is drawn and opens."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        table = fleet(app).table
        await pilot.press("end")
        await pilot.pause()
        last = table.shown_keys[-1]
        assert table.cursor_key == last
        assert table.scroll_y > 0, "the cursor row was scrolled into view"
        drawn = [table.render_line(y).text for y in range(table.size.height)]
        assert drawn[0].startswith("cloud")
        assert last.name[:15] in drawn[-1]
        await pilot.press("home")
        assert table.cursor_row == 0
        assert table.scroll_y == 0
        await pilot.press("pagedown")
        assert table.cursor_row > 5
        await pilot.press("end", "enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.key == last


async def test_sparklines_fill_in_after_the_numbers(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = fleet(app)
        assert screen.snapshot is not None
        assert screen.snapshot.sparks, "the sparkline read landed"
        busy = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")
        spark = str(screen.table.get_cell(busy, "spark_inv")).strip()
        assert len(spark) == 10
        assert set(spark) <= set("▁▂▃▄▅▆▇█ ")


async def test_clicking_a_row_opens_its_detail(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = fleet(app).table
        third = table.shown_keys[2]
        await pilot.click(table, offset=(30, 3))  # line 0 is the column header
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert app.screen.key == third
