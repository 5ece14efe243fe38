"""Issue 15.1 in the terminal UI: on a store that holds 6 hours, `w` -> 24h keeps the per-minute rates of 6h
and says how much of the window was collected (a minute never collected is unknown, not a quiet one)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from shown_text import static_text as text_of
from textual.widgets import Static

from opsview.collect import CollectionRunner
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.store import SQLiteStore
from opsview.tui.app import OpsviewApp
from opsview.tui.screens.detail import DetailScreen

from .conftest import FakeClock
from .test_tui_pilot import settle

pytestmark = pytest.mark.ui

END = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)


@pytest.fixture
def six_hours(tmp_path: Path) -> Iterator[SQLiteStore]:
    """What `opsview demo --collect-only --hours 6` leaves: six hours collected by the demo collector."""
    store = SQLiteStore(tmp_path / "six.db")
    config = Config(sources=SourcesConfig(demo=[DemoSource(name="demo")]))
    with CollectionRunner(config, store) as runner:
        runner.run(now=END, since=timedelta(hours=6))
    yield store
    store.close()


def _rates(totals: str) -> dict[str, str]:
    """`aws 24 fn 4.4k/min err 0.7% │ ...` -> {"aws": "4.4k", ...}"""
    return dict(re.findall(r"(\w+) \d+ fn (\S+)/min", totals))


async def test_24h_on_six_hours_keeps_the_rates_of_6h_and_says_so(six_hours: SQLiteStore) -> None:
    app = OpsviewApp(six_hours, Config(), read_only=True, clock=FakeClock(END), window=timedelta(hours=6))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.fleet
        assert screen.snapshot is not None
        six = dict(screen.snapshot.per_minute)
        six_text = _rates(text_of(screen.query_one("#totals", Static)))
        assert set(six_text) == {"aws", "azure", "gcp"}
        assert "of data" not in text_of(screen.query_one("#summary", Static))

        await pilot.press("w")  # 6h -> 24h
        await settle(pilot)
        assert screen.snapshot.view.window == timedelta(hours=24)
        day = dict(screen.snapshot.per_minute)
        assert day.keys() == six.keys()
        for provider, rate in six.items():
            assert day[provider] == pytest.approx(rate, rel=1e-12), provider  # before: a quarter of it
        assert _rates(text_of(screen.query_one("#totals", Static))) == six_text
        assert "window 24h · 6h of data" in text_of(screen.query_one("#summary", Static))

        key = screen.table.cursor_key
        assert key is not None
        await app.push_screen(DetailScreen(app.ctx, key))
        await settle(pilot)
        info = text_of(app.screen.query_one("#detail-info", Static))
        assert "collected 6h of 24h" in info
