"""Issue 15, TUI items 6-9, driven through the real app with Pilot and read off the screen as drawn:
a new sort starts at the top; 80x24 keeps the footer's essentials, a one-line totals line, the sorted
column and every detail chart; the charts read in clock time and round units; the palette names actions."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from shown_text import static_text
from textual.pilot import Pilot
from textual.widgets import OptionList, Static
from textual.widgets._footer import FooterKey
from textual.worker import WorkerCancelled

from opsview.config import Config, TuiConfig
from opsview.schema import FunctionInfo, FunctionKey, Sample
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.model import SortColumn
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.widgets.cells import SORT_COLUMN
from opsview.tui.widgets.charts import SeriesChart

from .conftest import NOW, SIZES

pytestmark = pytest.mark.ui

MakeApp = Callable[..., OpsviewApp]
REPORT = FunctionKey("aws", "111111111111", "us-east-1", "report-generator")  # p99 at its 30 s timeout
CHECKOUT = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")  # p99 ~0.3 s, timeout 10 s


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        for _ in range(20):
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:  # a read replaced by a newer one
                continue
        await pilot.pause()


def screen_lines(app: OpsviewApp) -> list[str]:
    """The terminal as the user sees it, one string per row."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, color_system=None,
                      legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()[:height]


async def open_detail(pilot: Pilot[None], app: OpsviewApp, key: FunctionKey) -> DetailScreen:
    app.fleet.table.move_to(key)
    await pilot.press("enter")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, DetailScreen)
    assert screen.key == key
    return screen


# --- item 6: a new sort starts at the top row ---------------------------------------------------


async def test_changing_the_sort_shows_its_first_rows(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        table = app.fleet.table
        await pilot.press("home", *["down"] * 34)
        assert table.scroll_y > 0
        await pilot.press("s")
        assert app.ctx.view.sort is SortColumn.THROTTLES
        assert table.cursor_row == 0
        assert table.scroll_y == 0
        lines = screen_lines(app)
        header = next(i for i, line in enumerate(lines) if line.startswith("cloud"))
        first = lines[header + 1]
        # the biggest throttler is the first row on screen, under "sort throttles ↓"
        assert "sort throttles ↓" in " ".join(lines[:header])
        assert "10.6k" in first, first
        await pilot.press(*["down"] * 30, "S")
        assert table.cursor_row == 0
        assert table.scroll_y == 0
        assert "throttles ↑" in " ".join(screen_lines(app)[:header])


# --- item 7: 80x24 --------------------------------------------------------------------------------


def footer_keys_shown(app: OpsviewApp) -> set[str]:
    """Keys whose footer entry is drawn whole, left of the command-palette key."""
    footer_line = screen_lines(app)[-1]
    palette = footer_line.rfind("^p palette")
    keys = set()
    for fk in app.screen.query(FooterKey):
        if "-command-palette" in fk.classes:
            continue
        text = f"{fk.key_display} {fk.description}".strip()
        at = footer_line.find(text)
        if at >= 0 and at + len(text) <= palette:
            keys.add(fk.key)
    return keys


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_footer_keeps_alerts_help_and_quit(make_app: MakeApp, size: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot)
        fleet_keys = footer_keys_shown(app)
        assert {"a", "question_mark", "q", "slash", "s", "enter"} <= fleet_keys
        if size == "wide":
            assert {"1", "2", "3", "0"} <= {fk.key for fk in app.screen.query(FooterKey)}
            assert "1 2 3 0 cloud" in screen_lines(app)[-1]
        await pilot.press("1")  # the cloud keys work at any width
        await settle(pilot)
        assert app.ctx.view.provider == "aws"
        await open_detail(pilot, app, REPORT)
        assert {"a", "question_mark", "q", "escape"} <= footer_keys_shown(app)


async def test_totals_stay_on_one_line_at_80_columns(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        lines = screen_lines(app)
        assert lines[0].lstrip().startswith("window 15m")
        totals = lines[1].strip()
        assert re.fullmatch(r"aws \S+/min err \S+ │ azure \S+/min err \S+ │ gcp \S+/min err \S+", totals), totals
        assert lines[2].lstrip().startswith("data as of")
    async with make_app().run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        assert "aws 24 fn " in screen_lines(pilot.app)[1]  # with room, the function counts stay


async def test_the_sorted_column_is_never_the_one_dropped(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await settle(pilot)
        table = app.fleet.table
        seen = set()
        for _ in SortColumn:
            sort = app.ctx.view.sort
            seen.add(sort)
            assert SORT_COLUMN[sort] in table.column_keys, sort
            header = next(line for line in screen_lines(app) if line.startswith("cloud"))
            label = {"function": "function", "inv": "inv/min", "err": "err %", "thr": "thr", "cold": "cold%",
                     "p99": "p99", "cost": "$/h"}[SORT_COLUMN[sort]]
            assert label in header, (sort, header)
            await pilot.press("s")
        assert seen == set(SortColumn)


@pytest.mark.parametrize("size", sorted(SIZES))
async def test_detail_shows_every_chart_without_scrolling(make_app: MakeApp, size: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZES[size]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, REPORT)
        body = detail.query_one("#detail-body")
        assert body.scroll_y == 0
        charts = list(detail.query(SeriesChart))
        assert [c.id for c in charts] == ["chart-calls", "chart-errors", "chart-duration", "chart-cold"]
        visible = body.region
        for chart in charts:
            assert visible.contains_region(chart.region), (chart.id, chart.region, visible)
            assert chart.plot.size.height >= 6, chart.id  # frame, four rows of data, clock labels
            assert chart.plot.size.width >= 30, chart.id
        lines = screen_lines(app)
        for legend in ("invocations", "errors", "p99", "cold starts"):
            assert any(legend in line for line in lines), legend
        assert "p99 29.8s" in " ".join(lines), "the window's figures stay above the charts"


# --- item 8: the charts ---------------------------------------------------------------------------


def plot_lines(chart: SeriesChart) -> list[str]:
    return chart.plot.render().plain.splitlines()  # type: ignore[union-attr]


def plot_rows(lines: list[str]) -> list[tuple[str, str]]:
    """(left-axis label, canvas) for each row inside the plot's frame."""
    left = lines[0].index("┌")
    right = lines[0].index("┐")
    return [(line[:left].strip(), line[left + 1:right]) for line in lines[1:]
            if len(line) > right and line[left] in "│┤├"]


def y_labels(lines: list[str]) -> list[str]:
    return [label for label, _ in plot_rows(lines) if label]


async def test_detail_charts_read_in_clock_time_and_round_units(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, REPORT)
        caption = static_text(detail.query_one("#charts-caption", Static))
        assert "times in UTC" in caption
        assert "counts per minute, 1 min buckets" in caption
        for chart in detail.query(SeriesChart):
            lines = plot_lines(chart)
            text = "\n".join(lines)
            # x axis: clock times within the 15 minutes before 12:07:30 UTC, not "minutes ago"
            clock = re.findall(r"\b\d\d:\d\d\b", lines[-1])
            assert clock, chart.id
            assert all("11:52" <= t <= "12:07" for t in clock), (chart.id, clock)
            assert "ago" not in text
            # y axis: round labels in the unit, from zero up, no raw floats or negatives
            labels = y_labels(lines)
            assert labels, chart.id
            assert labels[-1] == "0", (chart.id, labels)
            unit = r"( ms| s| min)?" if chart.id == "chart-duration" else r"[kM]?"
            assert all(re.fullmatch(r"\d+(\.\d+)?" + unit, label) for label in labels), (chart.id, labels)
            assert not re.search(r"-\d|\d\.0\b|\d{4,}", " ".join(labels)), (chart.id, labels)
            # the legend is a line of its own above the plot, never drawn over the data
            legend = static_text(chart.legend)
            assert legend.strip()
            for line in chart.lines:
                assert line.label in legend
                assert line.label not in text, (chart.id, line.label)

        calls = static_text(detail.query_one("#chart-calls").legend)
        errors = static_text(detail.query_one("#chart-errors").legend)
        assert "errors" not in calls, "errors have a chart of their own, not the invocations' scale"
        assert errors.strip().startswith("━ errors")


async def test_duration_chart_draws_the_timeout_when_it_is_near(make_app: MakeApp) -> None:
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, REPORT)
        chart = detail.query_one("#chart-duration", SeriesChart)
        assert "─ timeout 30 s" in static_text(chart.legend)
        assert chart.reference_drawn
        canvas = dict(plot_rows(plot_lines(chart)))["30 s"]
        # the line runs across the chart at "30 s", with the p99 that reaches it drawn over it
        assert canvas.count("─") > 10, canvas
        assert not set(canvas) & {" ", "\u2800"}, canvas

        await pilot.press("escape")
        far = await open_detail(pilot, app, CHECKOUT)
        chart = far.query_one("#chart-duration", SeriesChart)
        # 10 s is 30x its p99: named, but not drawn, so the data keeps the chart's height
        assert "↑ timeout 10 s" in static_text(chart.legend)
        assert not chart.reference_drawn
        assert max(chart.tops.values()) < 10_000


async def test_no_timeout_line_when_the_timeout_is_unknown(make_app: MakeApp, demo_store: SQLiteStore) -> None:
    key = FunctionKey("gcp", "demo-shop-prod", "us-central1", "no-timeout-known")
    demo_store.upsert_functions([FunctionInfo(key, runtime="python3.12")])
    start = NOW.replace(second=0) - timedelta(minutes=10)
    demo_store.write_samples([Sample(key=key, start=start + timedelta(minutes=i), invocations=5,
                                     duration_p99_ms=800.0 + i) for i in range(9)])
    app = make_app()
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        detail = await open_detail(pilot, app, key)
        chart = detail.query_one("#chart-duration", SeriesChart)
        assert "timeout" not in static_text(chart.legend)
        assert not chart.reference_drawn
        assert not any(canvas.count("─") > len(canvas) * 0.5 for _, canvas in plot_rows(plot_lines(chart)))
        # the p50 and p95 this source never reported say so instead of drawing zero
        assert "p50: no data" in static_text(chart.legend)


# --- item 9: the command palette -----------------------------------------------------------------


async def test_palette_entries_name_actions_with_their_key(make_app: MakeApp) -> None:
    app = make_app(Config(tui=TuiConfig(keymap={"filter": "f"})))
    async with app.run_test(size=SIZES["wide"]) as pilot:
        await settle(pilot)
        commands = {c.title: c.help for c in app.get_system_commands(app.screen)}
        for title in ("Filter functions", "Show AWS only", "Show every cloud", "Sort by the next column",
                      "Reverse the sort", "Open the function's detail", "Change the window", "Refresh now",
                      "Show alerts", "Help", "Screenshot"):
            assert title in commands, title
        assert not any(help_text.startswith("key ") and help_text.split()[1] in {"slash", "question_mark"}
                       for help_text in commands.values())
        assert commands["Filter functions"].startswith("key f ·"), "the key as remapped in [tui.keymap]"
        assert commands["Help"].startswith("key ? ·")
        assert commands["Sort by the next column"] == "key s · now err % ↓, next throttles ↓"
        assert commands["Change the window"] == "key w · now 15m, next 1h"

        # typed into the real palette, an entry runs its action
        await pilot.press("ctrl+p")
        await pilot.press(*"show aws")
        await pilot.pause(0.3)
        options = app.screen.query_one(OptionList)
        first = str(options.get_option_at_index(0).prompt)
        assert first.startswith("Show AWS only\nkey 1"), first
        await pilot.press("enter")
        await settle(pilot)
        assert app.ctx.view.provider == "aws"


async def test_screenshot_says_where_it_saved(
    make_app: MakeApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))  # no ~/Downloads here: it goes to the working directory
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(work)
    app = make_app()
    async with app.run_test(size=SIZES["wide"], notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p", *"screenshot", "enter")
        for _ in range(50):
            await pilot.pause(0.1)
            if list(work.glob("*.svg")) and "Saved to" in "\n".join(screen_lines(app)):
                break
        saved = list(work.glob("opsview_*.svg"))
        assert len(saved) == 1
        assert "<svg" in saved[0].read_text()
        shown = " ".join(line.strip(" ▌▐") for line in screen_lines(app))
        assert "Saved to" in shown
        assert saved[0].name[:20] in shown, "the notification names the file"
