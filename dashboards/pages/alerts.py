"""Alerts: firing, pending, silenced, and the history of state changes in the view's window."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsview import formatting as fmt
from opsview.alert_records import AlertEvent, AlertRecord, AlertState
from opsview.web import components
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.data import function_href
from opsview.web.view import PageQuery

dash.register_page(__name__, path="/alerts", name="Alerts", title="opsview · alerts", order=3)  # type: ignore[no-untyped-call]

_SECTIONS = (("alerts-firing", "Firing"), ("alerts-pending", "Pending"), ("alerts-silenced", "Silenced"),
             ("alerts-history", "History"))


def layout(**_query: str) -> html.Div:
    return html.Div([html.H2("Alerts")] + [
        html.Section([html.H3(title), html.Div(id=id_)]) for id_, title in _SECTIONS
    ])


def _records(records: Sequence[AlertRecord], query: str, empty: str) -> Any:
    if not records:
        return components.empty_state(empty, "")
    return html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("rule", "function", "severity", "since (UTC)", "value", "condition",
                                                  "summary")])),
        html.Tbody([html.Tr([
            html.Td(r.rule), html.Td(dcc.Link(str(r.key), href=function_href(r.key, query))), html.Td(r.severity),
            html.Td(f"{r.since:%Y-%m-%d %H:%M}"), html.Td(fmt.count(r.value)), html.Td(f"{r.op} {r.threshold:g}"),
            html.Td(r.summary),
        ]) for r in records]),
    ], className="health-table")


def _events(events: Sequence[AlertEvent], query: str) -> Any:
    if not events:
        return components.empty_state("No alert state changes in this window", "")
    return html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("at (UTC)", "rule", "function", "severity", "from", "to")])),
        html.Tbody([html.Tr([
            html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}"), html.Td(e.rule),
            html.Td(dcc.Link(str(e.key), href=function_href(e.key, query))), html.Td(e.severity),
            html.Td(e.from_state.value), html.Td(e.to_state.value),
        ]) for e in events]),
    ], className="health-table")


@callback(
    *[Output(id_, "children") for id_, _ in _SECTIONS],
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
)
def update_alerts(view_data: dict[str, Any] | None, _n: int | None) -> tuple[Any, ...]:
    if not view_data:
        raise PreventUpdate
    ctx = web_context()
    view = PageQuery.from_data(view_data)
    start, _end = view.window(ctx.clock())
    records = ctx.store.alert_records()
    events = ctx.store.alert_events(since=start)
    if not records and not events:
        note = components.empty_state(
            "No alerts", "No alert rule has fired or is pending. Define rules under [alerts] in the config; "
            "`opsview check` evaluates them and this page shows their state.", id_="alerts-empty")
        return note, "", "", ""
    query = view.to_query()
    active = [r for r in records if not r.silenced]
    return (
        _records([r for r in active if r.state is AlertState.FIRING], query, "Nothing firing"),
        _records([r for r in active if r.state is AlertState.PENDING], query, "Nothing pending"),
        _records([r for r in records if r.silenced], query, "Nothing silenced"),
        _events(events, query),
    )
