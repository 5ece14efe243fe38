"""Page and shell callbacks called as plain functions against a real SQLite store."""

from __future__ import annotations

import importlib
from typing import Any

from dash import Dash, no_update
from shown_text import dash_text as _text

from opsview.web import controls
from opsview.web.view import PageQuery


def _find(component: Any, id_: str) -> Any:
    if isinstance(component, list | tuple):
        for c in component:
            if (hit := _find(c, id_)) is not None:
                return hit
        return None
    if getattr(component, "id", None) == id_:
        return component
    return _find(getattr(component, "children", None), id_) if hasattr(component, "children") else None


def test_overview_numbers_follow_the_provider_filter(app: Dash) -> None:
    overview = importlib.import_module("opsview.web.pages.overview")
    with app.server.app_context():
        cards, tops, *_ = overview.update_overview(PageQuery().to_data(), 0)
        aws_cards, *_ = overview.update_overview(PageQuery(provider="aws").to_data(), 0)
    assert [c.id for c in cards] == ["kpi-card-total", "kpi-card-aws", "kpi-card-azure", "kpi-card-gcp"]
    assert [c.id for c in aws_cards] == ["kpi-card-total", "kpi-card-aws"]
    everything = _text(_find(cards, "kpi-total-invocations"))
    aws_total = _text(_find(aws_cards, "kpi-total-invocations"))
    assert aws_total == _text(_find(cards, "kpi-aws-invocations"))
    assert aws_total != everything
    assert [_text(t.children[0]) for t in tops] == [
        "Most errors", "Slowest p99", "Most throttled", "Most cold starts", "Most expensive"]


def test_overview_series_are_downsampled_per_provider(app: Dash) -> None:
    overview = importlib.import_module("opsview.web.pages.overview")
    with app.server.app_context():
        _, _, invocations, errors, durations, _, _ = overview.update_overview(PageQuery(range="7d").to_data(), 0)
        aws = overview.update_overview(PageQuery(range="7d", provider="aws").to_data(), 0)[2]
    assert sorted(t["name"] for t in invocations["data"]) == ["aws", "azure", "gcp"]
    assert [t["name"] for t in aws["data"]] == ["aws"]
    assert all(len(t["x"]) <= 300 for fig in (invocations, errors, durations) for t in fig["data"])
    assert [t["name"] for t in durations["data"]] == ["p50", "p95", "p99"]


def test_empty_filter_says_so_instead_of_showing_zeros(app: Dash) -> None:
    overview = importlib.import_module("opsview.web.pages.overview")
    with app.server.app_context():
        cards, tops, *_ = overview.update_overview(PageQuery(provider="aws", region="mars-north-1").to_data(), 0)
    assert "No functions match" in _text(cards)
    assert tops == []


def test_function_page_handles_azure_keys_and_unknown_functions(app: Dash) -> None:
    function = importlib.import_module("opsview.web.pages.function")
    view = PageQuery().to_data()
    with app.server.app_context():
        info, style, *figs, top_errors, alerts = function.update_function(
            view, 0, "azure/0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d/westeurope/orders-func/ProcessOrder")
        missing = function.update_function(view, 0, "aws/1/us-east-1/nope")
        garbage = function.update_function(view, 0, "not-a-key")
    assert style == {}
    assert "dotnet8" in _text(info)
    assert len(figs) == 4
    assert all(fig["data"] for fig in figs)
    assert "No alert history" in _text(alerts)
    # this store holds metrics only: no source searched the function's errors, so they are unknown, not none
    assert "Errors unknown" in _text(top_errors)
    assert "No such function" in _text(missing[0])
    assert missing[1] == {"display": "none"}
    assert "Not a function address" in _text(garbage[0])


def test_alerts_page_has_a_clear_empty_state(app: Dash) -> None:
    alerts = importlib.import_module("opsview.web.pages.alerts")
    with app.server.app_context():
        firing, pending, silenced, history = alerts.update_alerts(PageQuery().to_data(), 0, 0)
    assert "No alerts" in _text(firing)
    assert (pending, silenced, history) == ("", "", "")


def test_grid_rows_link_to_the_function_page_with_the_view(app: Dash) -> None:
    functions = importlib.import_module("opsview.web.pages.functions")
    with app.server.app_context():
        rows, count = functions.update_grid(PageQuery(range="6h", provider="azure").to_data(), 0)
    assert count == "18 functions"
    assert {r["cloud"] for r in rows} == {"azure"}
    process = next(r for r in rows if "ProcessOrder" in r["function"])
    assert process["function"] == "orders-func/ProcessOrder"  # the name as data; the link is its own field
    assert process["href"].startswith("/function/azure%2F")
    assert "orders-func%2FProcessOrder" in process["href"]
    assert process["href"].endswith("?range=6h&provider=azure")


def test_shell_restores_controls_from_the_url_and_keeps_them_on_plain_nav(app: Dash) -> None:
    restored = controls.resolve_view("?range=24h&provider=gcp", "1h", "", "", None, None, None, "off", None)
    assert restored[:7] == ("24h", "", "", "gcp", None, None, "off")
    view = restored[7]
    assert PageQuery.from_data(view).provider == "gcp"
    assert restored[-3:] == ("/?range=24h&provider=gcp", "/functions?range=24h&provider=gcp",
                             "/alerts?range=24h&provider=gcp")
    # a nav link without a query keeps the current view, and an unchanged view is not re-sent
    again = controls.resolve_view("", "24h", "", "", "gcp", None, None, "off", view)
    assert again[:7] == ("24h", "", "", "gcp", None, None, "off")
    assert again[7] is no_update
    assert again[-2] == "/functions?range=24h&provider=gcp"


def test_bad_url_shows_a_message_not_an_error(app: Dash) -> None:
    out = controls.resolve_view("?range=forever", "1h", "", "", None, None, None, "off", None)
    assert out[0] == "1h"
    assert 'range "forever"' in out[11]


def test_controls_change_the_view_without_rewriting_the_controls(app: Dash) -> None:
    out = controls.resolve_view("", "6h", "", "", "aws", None, None, "1m", PageQuery().to_data(), from_url=False)
    assert out[:7] == (no_update,) * 7
    assert PageQuery.from_data(out[7]) == PageQuery(range="6h", provider="aws", refresh="1m")
    assert out[9:11] == (False, 60_000)  # auto-refresh every minute
