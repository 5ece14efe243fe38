"""Issue 15.1 on the web: per-minute rates, $/h and "vs previous" divide by the time the store collected, and the
overview and function page say when that is less than the window."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dash import Dash
from shown_text import dash_text

from opsview.collect import CollectionRunner
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.store import SQLiteStore
from opsview.web import data
from opsview.web.app import create_app, shutdown
from opsview.web.context import web_context
from opsview.web.view import PageQuery

from .test_web_callbacks import _find

END = datetime(2025, 3, 4, 18, 0, tzinfo=UTC)


@pytest.fixture
def six_hours(sqlite_store: SQLiteStore) -> Iterator[Dash]:
    """The web app over what `opsview demo --collect-only --hours 6` leaves, its clock at the end of it."""
    config = Config(sources=SourcesConfig(demo=[DemoSource(name="demo")]))
    with CollectionRunner(config, sqlite_store) as runner:
        runner.run(now=END, since=timedelta(hours=6))
    app = create_app(sqlite_store, Config(), clock=lambda: END)
    yield app
    shutdown(app)


def _change(cards: Any, metric_id: str) -> str:
    """The "vs previous" text beside a card's metric (the next cell of the card's grid)."""
    cells = _find(cards, f"kpi-card-{metric_id.split('-')[1]}").children[-1].children
    index = [getattr(c, "id", None) for c in cells].index(metric_id)
    return str(cells[index + 1].children)


def _kpis(app: Dash, range_: str) -> dict[str, data.Kpi]:
    with app.server.app_context():
        ctx = web_context()
        reads = data.read_overview(ctx.store, ctx.reads, PageQuery(range=range_), ctx.clock())
        return {k.label: k for k in data.overview(reads, ctx.config.pricing).kpis}


def test_24h_over_six_hours_gives_the_rates_of_6h_per_provider(six_hours: Dash) -> None:
    day, six = _kpis(six_hours, "24h"), _kpis(six_hours, "6h")
    assert day.keys() == six.keys() == {data.TOTAL, "aws", "azure", "gcp"}
    for label, kpi in day.items():
        assert kpi.covered_s == 6 * 3600
        assert kpi.invocations_per_min == pytest.approx(six[label].invocations_per_min, rel=1e-12), label
        assert kpi.rates.cost_per_hour == pytest.approx(six[label].rates.cost_per_hour, rel=1e-12), label
    assert day[data.TOTAL].invocations_per_min == pytest.approx(
        sum(day[p].invocations_per_min or 0 for p in ("aws", "azure", "gcp")))


def test_the_overview_says_how_much_of_the_window_was_collected(six_hours: Dash) -> None:
    overview = importlib.import_module("opsview.web.pages.overview")
    with six_hours.server.app_context():
        day_cards, *_ = overview.update_overview(PageQuery(range="24h").to_data(), 0)
        six_cards, *_ = overview.update_overview(PageQuery(range="6h").to_data(), 0)
    for slug in ("total", "aws", "azure", "gcp"):
        assert dash_text(_find(day_cards, f"kpi-{slug}-coverage")) == "24h window · 6h of data"
        assert _find(six_cards, f"kpi-{slug}-coverage") is None  # the whole window: nothing to say
    # nothing was collected before the window: no comparison rather than a rise from zero
    assert _change(day_cards, "kpi-total-invocations") == ""


def test_the_function_page_says_how_much_of_the_window_was_collected(six_hours: Dash) -> None:
    page = importlib.import_module("opsview.web.pages.function")
    key = "aws/111111111111/us-east-1/checkout-api"
    with six_hours.server.app_context():
        day = page.update_function(PageQuery(range="24h").to_data(), 0, key)[0]
        six = page.update_function(PageQuery(range="6h").to_data(), 0, key)[0]
    assert dash_text(_find(day, "function-fact-collected")) == "6h of 24h"
    assert _find(six, "function-fact-collected") is None
    assert dash_text(_find(day, "function-fact-inv-min")) == dash_text(_find(six, "function-fact-inv-min"))


def test_vs_previous_compares_rates_when_the_previous_window_was_half_collected(app: Dash) -> None:
    """The store holds 90 minutes: at 1h the previous hour has 30 collected minutes. Its count is half the
    current one; its rate is not, and the card compares rates (the count would read "▲100%")."""
    overview = importlib.import_module("opsview.web.pages.overview")
    with app.server.app_context():
        cards, *_ = overview.update_overview(PageQuery(range="1h").to_data(), 0)
    change = _change(cards, "kpi-total-invocations")
    found = re.fullmatch(r"[▲▼±](\d+)%", change)
    assert found is not None, change
    assert int(found.group(1)) < 30
