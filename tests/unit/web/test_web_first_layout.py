"""The first `_dash-layout` of a page arrives resolved for the page's URL, so the first paint needs no callback."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from dash import Dash
from dash.exceptions import PreventUpdate

from opsview.web.view import PageQuery


def _layout(app: Dash, referer: str | None) -> dict[str, Any]:
    headers = {"Referer": referer} if referer is not None else {}
    response = app.server.test_client().get("/_dash-layout", headers=headers)
    assert response.status_code == 200
    layout: dict[str, Any] = response.get_json()
    return layout


def _props(node: Any, id_: str) -> dict[str, Any] | None:
    """The props of the component with `id_` in a layout as JSON."""
    if isinstance(node, list):
        for child in node:
            if (hit := _props(child, id_)) is not None:
                return hit
        return None
    if not isinstance(node, dict) or "props" not in node:
        return None
    props: dict[str, Any] = node["props"]
    if props.get("id") == id_:
        return props
    return _props(props.get("children"), id_)


def test_overview_layout_carries_the_view_its_content_and_the_location(app: Dash) -> None:
    layout = _layout(app, "http://localhost/?provider=aws&range=6h")
    view = _props(layout, "app-view")
    assert view is not None
    assert PageQuery.from_data(view["data"]) == PageQuery(range="6h", provider="aws")
    # both locations hold the browser's address, so neither reports a change (and runs a callback) on load
    for location_id in ("app-url", "_pages_location"):
        location = _props(layout, location_id)
        assert location is not None
        assert (location["pathname"], location["search"], location["hash"]) == ("/", "?provider=aws&range=6h", "")
        assert location["href"] == "http://localhost/?provider=aws&range=6h"
    assert _props(layout, "ctl-provider")["value"] == "aws"  # type: ignore[index]
    assert _props(layout, "nav-functions")["href"] == "/functions?range=6h&provider=aws"  # type: ignore[index]
    cards = _props(layout, "overview-kpis")
    assert cards is not None
    assert [c["props"]["id"] for c in cards["children"]] == ["kpi-card-total", "kpi-card-aws"]
    invocations = _props(layout, "overview-invocations")
    assert invocations is not None
    assert [t["name"] for t in invocations["figure"]["data"]] == ["aws"]
    assert _props(layout, "overview-rendered")["data"] == view["data"]  # type: ignore[index]


def test_the_initial_callback_skips_content_the_layout_already_carries(app: Dash) -> None:
    overview = importlib.import_module("opsview.web.pages.overview")
    view = PageQuery(provider="gcp").to_data()
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        with pytest.raises(PreventUpdate):
            overview.update_overview(view, None, view)
        # another view than the one rendered is rendered
        cards, *_ = overview.update_overview(PageQuery(provider="aws").to_data(), None, view)
    assert [c.id for c in cards] == ["kpi-card-total", "kpi-card-aws"]


def test_without_a_usable_referer_the_shell_is_left_to_the_callbacks(app: Dash) -> None:
    for referer in (None, "http://elsewhere.example/?provider=aws", "http://localhost/function/x#top"):
        layout = _layout(app, referer)
        assert _props(layout, "app-view")["data"] is None  # type: ignore[index]
        assert "pathname" not in _props(layout, "app-url")  # type: ignore[operator]
        assert _props(layout, "overview-kpis") is None  # the pages router fills the page
