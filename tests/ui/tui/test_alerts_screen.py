"""The alerts screen on the demo fleet with the default rule pack evaluated: values in their unit, enter opens
the function, `s` silences the alert as `opsview silence add` does, and rows that stay distinct at 80x24."""

from __future__ import annotations

import getpass
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from shown_text import static_text as text_of
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Static
from textual.worker import WorkerCancelled

from opsview.alerts.defaults import default_rules
from opsview.alerts.engine import evaluate
from opsview.config import AlertsConfig, Config, StoreConfig
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.screens.alerts import AlertsScreen
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.screens.silence import SilenceScreen

from .conftest import NOW, SIZES, FakeClock

pytestmark = pytest.mark.ui

PAYMENTS = "aws/111111111111/us-east-1/payments-webhook"
CANCEL = "azure/0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d/westeurope/orders-func/CancelOrder"
PROCESS = "azure/0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d/westeurope/orders-func/ProcessOrder"


@pytest.fixture(scope="session")
def alerts_db(metrics_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo store after the default rule pack ran every minute for the half hour up to NOW (its metrics:
    without error signatures the pack's new-error rule stays quiet, one row per function and rule here)."""
    path = tmp_path_factory.mktemp("alerts") / "alerts.db"
    shutil.copy(metrics_db, path)
    store = SQLiteStore(path)
    for minutes in range(30, -1, -1):
        evaluate(default_rules(), store, NOW - timedelta(minutes=minutes))
    store.close()
    return path


@pytest.fixture
def alerts_store(alerts_db: Path, tmp_path: Path) -> Iterator[SQLiteStore]:
    target = tmp_path / "alerts.db"
    shutil.copy(alerts_db, target)
    store = SQLiteStore(target)
    yield store
    store.close()


def alerts_config(store: SQLiteStore, rules: list[Any] | None = None) -> Config:
    return Config(store=StoreConfig(url=str(store.path)),
                  alerts=AlertsConfig(rules=default_rules() if rules is None else rules))


@pytest.fixture
def make_alerts_app(alerts_store: SQLiteStore, clock: FakeClock) -> Callable[..., OpsviewApp]:
    def make(config: Config | None = None, *, read_only: bool = True) -> OpsviewApp:
        return OpsviewApp(alerts_store, config or alerts_config(alerts_store), read_only=read_only, clock=clock)

    return make


async def settle(pilot: Pilot[None]) -> None:
    for _ in range(3):
        for _ in range(20):
            try:
                await pilot.app.workers.wait_for_complete()
                break
            except WorkerCancelled:
                continue
        await pilot.pause()


def table_of(app: OpsviewApp) -> DataTable[Any]:
    assert isinstance(app.screen, AlertsScreen)
    return app.screen.query_one("#alerts-table", DataTable)


def rows(app: OpsviewApp) -> list[list[str]]:
    table = table_of(app)
    return [[str(table.get_cell_at(Coordinate(r, c))) for c in range(len(table.columns))]
            for r in range(table.row_count)]


def row_of(app: OpsviewApp, rule: str, needle: str) -> int:
    return next(i for i, cells in enumerate(rows(app)) if any(rule in c for c in cells)
                and any(needle in c for c in cells))


async def open_alerts(pilot: Pilot[None]) -> None:
    await settle(pilot)
    await pilot.press("a")
    await settle(pilot)


async def test_values_read_in_their_unit_and_whole_at_120_columns(make_alerts_app: Callable[..., OpsviewApp]) -> None:
    app = make_alerts_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(pilot)
        shown = rows(app)
        assert ["critical", "FIRING", "2m00s", "high-error-rate", "21.7 % > 5.0 %", PAYMENTS] in shown
        lines = {" ".join(r) for r in shown}
        assert any("near-timeout 98.8 % > 80.0 % of timeout aws/111111111111/us-east-1/report-generator" in line
                   for line in lines)
        assert any("throttled 2,377 > 0 aws/111111111111/us-east-1/image-resize" in line for line in lines)
        # nothing to scroll sideways: value and threshold are on screen
        assert table_of(app).virtual_size.width <= 120


async def test_an_alert_whose_rule_left_the_config_shows_its_plain_number(
    make_alerts_app: Callable[..., OpsviewApp], alerts_store: SQLiteStore
) -> None:
    others = [r for r in default_rules() if r.name != "high-error-rate"]
    app = make_alerts_app(alerts_config(alerts_store, others))
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(pilot)
        assert ["critical", "FIRING", "2m00s", "high-error-rate", "0.217 > 0.05", PAYMENTS] in rows(app)


async def test_rows_stay_distinct_at_80x24(make_alerts_app: Callable[..., OpsviewApp]) -> None:
    app = make_alerts_app()
    async with app.run_test(size=SIZES["small"]) as pilot:
        await open_alerts(pilot)
        shown = rows(app)
        functions = [cells[-1].split("\n")[0] for cells in shown]
        assert len(set(functions)) == len(functions)  # one function per rule here: every row reads differently
        # the end of a long key survives; its middle gives way
        cancel = next(f for f in functions if f.endswith("orders-func/CancelOrder"))
        process = next(f for f in functions if f.endswith("orders-func/ProcessOrder"))
        assert "…" in cancel
        assert "…" in process
        assert cancel.startswith("azure/")
        # value and threshold are shown whole
        assert any("98.8 % > 80.0 % of timeout" in c for cells in shown for c in cells)
        assert table_of(app).virtual_size.width <= 80


async def test_enter_opens_the_alerts_function(make_alerts_app: Callable[..., OpsviewApp]) -> None:
    app = make_alerts_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(pilot)
        table_of(app).move_cursor(row=row_of(app, "throttled", "image-resize"))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, DetailScreen)
        assert str(app.screen.key) == "aws/111111111111/us-east-1/image-resize"
        history = text_of(app.screen.query_one("#detail-alerts", Static))
        assert "throttled [warning] pending → firing (value 3,885)" in history, history
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)


async def test_detail_history_reads_values_in_their_unit(make_alerts_app: Callable[..., OpsviewApp]) -> None:
    app = make_alerts_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(pilot)
        table_of(app).move_cursor(row=row_of(app, "high-error-rate", "payments-webhook"))
        await pilot.press("enter")
        await settle(pilot)
        history = text_of(app.screen.query_one("#detail-alerts", Static))
        assert "high-error-rate [critical] pending → firing (value " in history
        values = [line.rsplit("(value ", 1)[1].rstrip(")") for line in history.splitlines() if "(value " in line]
        assert values, history
        assert all(v.endswith(" %") for v in values), history


async def test_silence_from_the_alerts_screen_is_what_silence_add_records(
    alerts_store: SQLiteStore, clock: FakeClock
) -> None:
    # the store opened read-only, as `opsview tui --read-only` opens it: the silence is still written
    read_only = SQLiteStore(alerts_store.path, read_only=True)
    app = OpsviewApp(read_only, alerts_config(alerts_store), read_only=True, clock=clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_alerts(pilot)
        table_of(app).move_cursor(row=row_of(app, "high-error-rate", "payments-webhook"))
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SilenceScreen)
        duration = app.screen.query_one("#silence-duration", Input)
        duration.value = "5x"
        await pilot.press("enter", "enter")  # to the comment, then submit
        await settle(pilot)
        assert isinstance(app.screen, SilenceScreen)  # a bad duration is explained, not accepted
        assert "invalid duration" in text_of(app.screen.query_one("#silence-error", Static))
        duration.value = "2h"
        app.screen.query_one("#silence-comment", Input).value = "rolling back the deploy"
        await pilot.click("#silence-ok")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
        # shown as silenced at once, before the next check
        assert "FIRING, silenced" in " ".join(rows(app)[row_of(app, "high-error-rate", "payments")])
        assert "Silence 1 added" in [n.title for n in app._notifications]
    read_only.close()

    # --all: the silence runs on the test's clock, long before the real now
    listed = subprocess.run(
        [sys.executable, "-m", "opsview", "silence", "list", "--all", "--store", str(alerts_store.path),
         "--format", "json"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    (silence,) = json.loads(listed.stdout)
    assert silence["rule"] == "high-error-rate"
    assert silence["function"] == PAYMENTS
    assert silence["comment"] == "rolling back the deploy"
    assert silence["starts"] == NOW.isoformat()
    assert silence["ends"] == (NOW + timedelta(hours=2)).isoformat()
    assert silence["created_by"] == getpass.getuser()  # as `opsview silence add` records it


async def test_escape_in_the_silence_dialog_adds_nothing(
    make_alerts_app: Callable[..., OpsviewApp], alerts_store: SQLiteStore
) -> None:
    app = make_alerts_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await open_alerts(pilot)
        await pilot.press("s")
        await settle(pilot)
        assert isinstance(app.screen, SilenceScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)
    assert alerts_store.silences() == []


SNAPSHOTS = {
    "alerts": (),
    "silence_dialog": ("s",),
}


@pytest.mark.parametrize("size", sorted(SIZES))
@pytest.mark.parametrize("screen", sorted(SNAPSHOTS))
def test_alerts_snapshot(
    snap_compare: Any, make_alerts_app: Callable[..., OpsviewApp], screen: str, size: str
) -> None:
    async def run_before(pilot: Pilot[None]) -> None:
        await open_alerts(pilot)
        for key in SNAPSHOTS[screen]:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(make_alerts_app(), run_before=run_before, terminal_size=SIZES[size])
