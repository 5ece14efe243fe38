"""One function at `/function/<key>`: what it is, links to its console and logs, its charts over the view's
window with its deploys marked, the last deploy compared with the span before it, its top error signatures and
its alert history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsview.alert_records import AlertEvent
from opsview.alerts.display import Measures, event_value
from opsview.fleet import FunctionDetail, function_detail
from opsview.schema import FunctionKey
from opsview.web import components, figures
from opsview.web.alerting import alert_measures
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.view import PageQuery, choose_step

dash.register_page(__name__, path_template="/function/<key>", name="Function", title="opsview · function", order=2)  # type: ignore[no-untyped-call]

_CHARTS = (("function-counts", "Invocations, errors, throttles"), ("function-durations", "Duration"),
           ("function-cold", "Cold starts and init duration"), ("function-cost", "Estimated cost"))
_GRAPHS = tuple(graph_id for graph_id, _ in _CHARTS)
_ALERTS_LABEL: dict[str, Any] = {"aria-label": "alert history"}


def layout(key: str | None = None, **_query: str) -> html.Div:
    text = unquote(key) if key else ""
    return html.Div([
        dcc.Store(id="function-key", data=text),
        html.H2(text or "Function", id="function-title"),
        html.Div(id="function-info"),
        html.Div([components.chart(g, title) for g, title in _CHARTS], id="function-graphs",
                 className="graph-grid"),
        html.H3("Top errors"),
        html.Div(id="function-errors"),
        html.H3("Alert history"),
        # Scrolls sideways inside itself on a phone; focusable, so the keyboard can scroll it too.
        html.Div(id="function-alerts", className="table-scroll", tabIndex="0", role="region", **_ALERTS_LABEL),
    ])


def _info_block(detail: FunctionDetail) -> html.Div:
    info = detail.info
    labels = ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items()))
    since = detail.since_deploy_fact()
    return html.Div([
        html.Dl([item for f in detail.facts()
                 for item in (html.Dt(f.label), html.Dd(f.text, id=f"function-fact-{f.id}"))], className="facts"),
        html.P([html.Strong(f"{since.label}: "), html.Span(since.text, id=f"function-{since.id}")],
               className="since-deploy") if since else None,
        components.console_links(detail.links),
        html.P(info.resource_id or "", className="muted mono"),
        html.P(f"labels: {labels}" if labels else "", className="muted"),
    ])


def _top_errors(detail: FunctionDetail, now: datetime) -> Any:
    """The table, or why there is none: errors not searched (unknown) is not "no errors"."""
    note = detail.errors_note()
    if detail.errors is None:
        return components.empty_state("Errors unknown", f"{note[len('errors unknown: '):].capitalize()}: its "
                                      "errors are unknown, not none.", id_="function-errors-unknown")
    if not detail.errors:
        return components.empty_state("No errors", note.capitalize() + ".", id_="function-errors-none")
    return html.Div([
        html.P(note.capitalize(), className="muted"),
        components.error_table(detail.errors, now, "top errors"),
    ])


def _alert_history(events: Sequence[AlertEvent], measures: Measures) -> Any:
    if not events:
        return components.empty_state("No alert history", "No alert rule has changed state for this function. "
                                      "Rules are configured under [alerts] and evaluated by `opsview check`.")
    return html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("at (UTC)", "rule", "severity", "from", "to", "value")])),
        html.Tbody([html.Tr([
            html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}", className="nowrap"), html.Td(e.rule, className="nowrap"),
            html.Td(e.severity), html.Td(e.from_state.value), html.Td(e.to_state.value),
            html.Td(event_value(e, measures), className="nowrap num-text"),
        ]) for e in events]),
    ], className="health-table")


@callback(
    Output("function-info", "children"),
    Output("function-graphs", "style"),
    *[Output(g, "figure") for g in _GRAPHS],
    Output("function-errors", "children"),
    Output("function-alerts", "children"),
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
    State("function-key", "data"),
)
def update_function(view_data: dict[str, Any] | None, _n: int | None, key_text: str | None) -> tuple[Any, ...]:
    if not view_data:
        raise PreventUpdate
    hidden = {"display": "none"}
    blank = [figures.empty() for _ in _GRAPHS]
    try:
        key = FunctionKey.parse(key_text or "")
    except ValueError as exc:
        return (components.empty_state("Not a function address", str(exc), id_="function-missing"), hidden,
                *blank, "", "")
    ctx = web_context()
    now = ctx.clock()
    start, end = PageQuery.from_data(view_data).window(now)
    detail = function_detail(ctx.store, ctx.config.pricing, key, start, end, choose_step(start, end))
    if detail is None:
        return (components.empty_state("No such function", f"{key} is not in the store.", id_="function-missing"),
                hidden, *blank, "", "")
    series = detail.series
    deploys = detail.deploys
    return (
        _info_block(detail), {},
        figures.with_deploys(figures.function_counts(series, detail.step_s), deploys),
        figures.with_deploys(figures.function_durations(series), deploys),
        figures.with_deploys(figures.function_cold_starts(series, detail.step_s), deploys),
        figures.with_deploys(figures.function_cost(series, detail.costs, detail.step_s), deploys),
        _top_errors(detail, now),
        _alert_history(detail.alert_events, alert_measures(ctx) if detail.alert_events else {}),
    )
