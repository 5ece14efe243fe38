"""The detail screen's "why" (issue 17, part 3), driven through the real app with Pilot on the demo fleet frozen at
NOW: the top error signatures (`e`), NEW on the one payments-webhook's 12:00 release brought, enter showing its
latest sample, "errors unknown" when no source searched them, the deploy drawn on every chart, the comparison
since that deploy, and `c` / `l` copying the console and logs links with OSC 52."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from shown_text import static_text
from textual.widgets import Static

from opsview.config import Config, TuiConfig
from opsview.console_links import console_links
from opsview.error_records import EventKind
from opsview.schema import FunctionKey
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.screens.error_sample import ErrorSampleScreen
from opsview.tui.widgets.charts import SeriesChart
from opsview.tui.widgets.error_table import ErrorTable

from .conftest import NOW, SIZES, FakeClock
from .test_tui_numbers_read_right import footer_keys_shown, open_detail, plot_lines, screen_lines, settle

pytestmark = pytest.mark.ui

MakeApp = Callable[..., OpsviewApp]
PAYMENTS = FunctionKey("aws", "111111111111", "us-east-1", "payments-webhook")
WINDOW = timedelta(minutes=15)  # the app's default window


def _expected_errors(store: SQLiteStore, key: FunctionKey) -> list[tuple[str, int, bool | None]]:
    return [(s.signature, s.count, s.new) for s in store.top_errors(key, NOW - WINDOW, NOW, 10)]


async def test_signatures_pane_lists_the_top_signatures_with_new_marked(make_app: MakeApp,
                                                                        demo_store: SQLiteStore) -> None:
    expected = _expected_errors(demo_store, PAYMENTS)
    # the demo's 12:00 release of payments-webhook brought a TypeError of its own: new, the others are not
    assert [(sig.split(":")[0], new) for sig, _, new in expected if new] == [("TypeError", True)]
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        table = detail.query_one("#detail-errors", ErrorTable)
        assert table.display
        rows = [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]
        assert [int(r[0]) for r in rows] == [count for _, count, _ in expected]
        for row, (signature, _, new) in zip(rows, expected, strict=True):
            shown = row[3]
            # whole, or cut to the column with an ellipsis
            assert shown == signature or (shown.endswith("…") and signature.startswith(shown[:-1])), shown
            assert row[1].startswith("NEW ") == bool(new), row
        heading = static_text(detail.query_one("#errors-title", Static))
        assert f"top {len(expected)} error signatures, last 15m" in heading


async def test_e_brings_the_signatures_into_view_at_80x24(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        table = detail.query_one("#detail-errors", ErrorTable)
        body = detail.query_one("#detail-body")
        assert not body.region.contains_region(table.region), "below the charts on the first screen"
        assert {"e", "c", "escape", "a", "question_mark", "q"} <= footer_keys_shown(app)
        await pilot.press("e")
        await settle(pilot)
        assert app.focused is table
        assert body.region.overlaps(table.region)
        shown = "\n".join(screen_lines(app))
        assert "KeyError: <str>" in shown
        assert "NEW " in shown


async def test_enter_on_a_signature_shows_its_latest_sample(make_app: MakeApp, demo_store: SQLiteStore) -> None:
    new = next(s for s in demo_store.top_errors(PAYMENTS, NOW - WINDOW, NOW, 10) if s.new)
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        await pilot.press("e")
        table = detail.query_one("#detail-errors", ErrorTable)
        table.move_cursor(row=table.summaries.index(new))
        await pilot.press("enter")
        await settle(pilot)
        sample = app.screen
        assert isinstance(sample, ErrorSampleScreen)
        assert sample.summary == new
        text = " ".join(static_text(w) for w in sample.query(Static))
        assert new.sample is not None
        assert new.sample in text
        assert f"request id  {new.sample_id}" in text
        assert "NEW: first seen inside the window" in text
        assert f"first seen  {new.first_seen:%Y-%m-%d %H:%M:%S} UTC" in text
        await pilot.press("escape")
        assert app.screen is detail


@pytest.fixture
def metrics_store(metrics_db: Path, tmp_path: Path) -> Iterator[SQLiteStore]:
    import shutil

    shutil.copy(metrics_db, tmp_path / "metrics.db")
    store = SQLiteStore(tmp_path / "metrics.db")
    yield store
    store.close()


async def test_errors_unknown_when_no_source_searched_them(metrics_store: SQLiteStore, clock: FakeClock) -> None:
    """The demo's metrics without its error records: the pane says unknown, never an empty "no errors" list."""
    app = OpsviewApp(metrics_store, Config(), read_only=True, clock=clock)
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        table = detail.query_one("#detail-errors", ErrorTable)
        assert not table.display
        assert table.row_count == 0
        await pilot.press("e")
        await settle(pilot)
        title = detail.query_one("#errors-title", Static)
        assert detail.query_one("#detail-body").region.contains_region(title.region), "e shows what the pane says"
        assert " ".join(static_text(title).split()) == (
            "Errors · errors unknown: no source searched this function's errors in the last 15m")


async def test_the_deploy_is_a_line_on_every_chart_and_named_above_them(make_app: MakeApp,
                                                                        demo_store: SQLiteStore) -> None:
    (deploy,) = demo_store.events(PAYMENTS, NOW - WINDOW, NOW, {EventKind.DEPLOY})
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        caption = static_text(detail.query_one("#charts-caption", Static))
        assert f"│ deploy {deploy.at:%H:%M}" in caption
        for chart in detail.query(SeriesChart):
            lines = plot_lines(chart)
            assert chart.markers_drawn == (deploy.at,), chart.id
            left, right = lines[0].index("┌"), lines[0].index("┐")
            # a column of │ across the plot, inside its frame (the frame's own sides excluded)
            columns = [c for c in range(left + 1, right)
                       if sum(line[c] in "│┼" for line in lines[1:] if len(line) > right) >= 0.6 * (len(lines) - 3)]
            assert columns, chart.id
            # ... at the deploy's time: between the clock labels either side of it (12:00:17 is just right of 12:00)
            ticks = lines[-1]
            assert abs(columns[0] - (ticks.index("12:00") + 2)) <= 2, (chart.id, columns, ticks)


async def test_a_function_without_deploys_has_no_marker_and_no_comparison(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, FunctionKey("aws", "111111111111", "us-east-1", "report-generator"))
        assert all(chart.markers_drawn == () for chart in detail.query(SeriesChart))
        assert "deploy" not in static_text(detail.query_one("#charts-caption", Static))
        assert "since deploy" not in static_text(detail.query_one("#detail-info", Static))


async def test_since_deploy_line_compares_with_the_span_before(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        info = static_text(detail.query_one("#detail-info", Static))
        # 12:00:17 to 12:07:30 against the same 6 minutes before 12:00 (its own minute on neither side)
        assert "since deploy  7m ago: err 21% (was 0.7%), p95 236ms (was 273ms) · version 718" in info
        # at 80 columns the numbers stay whole: what is cut is the release's name at the end
        line = next(line for line in screen_lines(app) if "since deploy" in line)
        assert "p95 236ms (was 273ms)" in line


def _osc52(url: str) -> str:
    return f"\x1b]52;c;{base64.b64encode(url.encode()).decode()}\a"


async def test_c_and_l_copy_the_links_with_osc52_and_show_them(make_app: MakeApp, demo_store: SQLiteStore) -> None:
    info = demo_store.function(PAYMENTS)
    assert info is not None
    links = console_links(info, NOW - WINDOW, NOW)
    console, logs = links.get("console"), links.get("logs")
    assert console is not None
    assert logs is not None
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        await open_detail(pilot, app, PAYMENTS)
        written: list[str] = []
        assert app._driver is not None
        write = app._driver.write
        app._driver.write = lambda data: (written.append(data), write(data))[1]  # type: ignore[method-assign]
        await pilot.press("c")
        assert app.clipboard == console.url
        assert _osc52(console.url) in written
        await pilot.press("l")
        assert app.clipboard == logs.url
        assert _osc52(logs.url) in written
        shown = [(n.title, n.message) for n in app._notifications]
        assert ("Copied: Lambda console", console.url) in shown
        assert ("Copied: Logs Insights", logs.url) in shown


async def test_copy_keys_come_from_the_keymap(demo_store: SQLiteStore, clock: FakeClock) -> None:
    config = Config(tui=TuiConfig(keymap={"copy_console_link": "y", "errors": "E"}))
    app = OpsviewApp(demo_store, config, read_only=True, clock=clock)
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        await pilot.press("y")
        assert app.clipboard is not None
        assert "/functions/payments-webhook" in app.clipboard
        await pilot.press("E")
        assert app.focused is detail.query_one("#detail-errors", ErrorTable)


async def test_an_azure_function_without_its_insights_resource_says_why_l_has_nothing(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, FunctionKey("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d",
                                                           "westeurope", "orders-func/ProcessOrder"))
        await pilot.press("l")
        assert app.clipboard == ""
        assert ("No link to copy", "failures: the Application Insights resource is not known") in [
            (n.title, n.message) for n in app._notifications]
        await pilot.press("c")
        assert app.clipboard.startswith("https://portal.azure.com/#@/resource/subscriptions/0f1e2d3c-demo-")
        assert isinstance(detail, DetailScreen)


async def test_a_refresh_keeps_the_cursor_on_the_same_signature(make_app: MakeApp, demo_store: SQLiteStore) -> None:
    from opsview.error_records import ErrorObservation

    new = next(s for s in demo_store.top_errors(PAYMENTS, NOW - WINDOW, NOW, 10) if s.new)
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, PAYMENTS)
        await pilot.press("e")
        table = detail.query_one("#detail-errors", ErrorTable)
        row = table.summaries.index(new)
        assert row > 0
        table.move_cursor(row=row)
        # one more occurrence arrives (the count changes, the ranking does not), then the screen re-reads
        assert new.sample is not None
        kind, message = new.sample.split(": ", 1)
        observed = ErrorObservation.of(PAYMENTS, NOW - timedelta(seconds=10), kind, message)
        assert observed.signature == new.signature
        demo_store.write_errors([observed])
        await pilot.press("r")
        await settle(pilot)
        assert table.current is not None
        assert (table.current.signature, table.current.count) == (new.signature, new.count + 1)
        assert table.cursor_row == row
