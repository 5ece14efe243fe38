"""Alerts: firing, pending, silenced, and the history of state changes in the view's window.

Values read in their measure's unit. A row opens its function (its link, or a click anywhere on it:
assets/alert_rows.js); "Silence…" on a firing or pending row asks how long and why, and adds the silence
as `opsview silence add` would, as the signed-in user when [web.auth] is configured.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from opsview.alert_records import AlertEvent, AlertRecord, AlertState
from opsview.alerts.display import Measures, event_value, mark_silenced, record_condition
from opsview.formatting import one_line
from opsview.web import components
from opsview.web.alerting import SilenceRefusedError, add_silence, alert_measures
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.data import function_href
from opsview.web.view import PageQuery

dash.register_page(__name__, path="/alerts", name="Alerts", title="opsview · alerts", order=3)  # type: ignore[no-untyped-call]

_SECTIONS = (("alerts-firing", "Firing"), ("alerts-pending", "Pending"), ("alerts-silenced", "Silenced"),
             ("alerts-history", "History"))
_OPEN = "alerts-silence-open"
DEFAULT_DURATION = "1h"


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H2("Alerts"),
        dcc.Store(id="alerts-silence-target"),
        dcc.Store(id="alerts-silence-added", data=0),
        dcc.Store(id="alerts-silence-focus"),
        html.P(id="alerts-silence-status", role="status", className="silence-status"),
        _silence_form(),
        *[html.Section([html.H3(title), html.Div(id=id_)]) for id_, title in _SECTIONS],
    ])


def _silence_form() -> html.Div:
    return html.Div([
        html.H3(id="alerts-silence-title"),
        html.Label([html.Span("How long (e.g. 30m, 2h, 1d)"),
                    dcc.Input(id="alerts-silence-duration", type="text", value=DEFAULT_DURATION, debounce=False)]),
        html.Label([html.Span("Comment (shown by `opsview silence list`)"),
                    dcc.Input(id="alerts-silence-comment", type="text", placeholder="why", debounce=False)]),
        html.Div([
            html.Button("Silence", id="alerts-silence-submit", className="primary"),
            html.Button("Cancel", id="alerts-silence-cancel"),
        ], className="silence-buttons"),
    ], id="alerts-silence-form", className="silence-form", hidden=True, role="dialog",
        **_attrs({"aria-labelledby": "alerts-silence-title"}))


def _records(records: Sequence[AlertRecord], query: str, empty: str, measures: Measures, actions: bool) -> Any:
    if not records:
        return components.empty_state(empty, "")
    heads = ["rule", "function", "severity", "since (UTC)", "value vs threshold", "summary"]
    return html.Div(html.Table([
        html.Thead(html.Tr([html.Th(h, className="nowrap") for h in heads + (["action"] if actions else [])])),
        html.Tbody([_record_row(r, query, measures, actions) for r in records]),
    ], className="health-table alerts-table"), className="table-scroll")


def _record_row(r: AlertRecord, query: str, measures: Measures, actions: bool) -> html.Tr:
    href = function_href(r.key, query)
    cells: list[Any] = [
        html.Td(r.rule, className="nowrap"), html.Td(dcc.Link(str(r.key), href=href)), html.Td(r.severity),
        html.Td(f"{r.since:%Y-%m-%d %H:%M}", className="nowrap"),
        html.Td(record_condition(r, measures), className="nowrap num-text"), html.Td(r.summary),
    ]
    if actions:
        cells.append(html.Td(html.Button(
            "Silence…", id={"type": _OPEN, "rule": r.rule, "function": str(r.key)}, className="row-action",
            **_attrs({"aria-label": f"Silence {r.rule} for {r.key}"}),
        )))
    return _linked_row(cells, href)


def _linked_row(cells: list[Any], href: str) -> html.Tr:
    """A row that opens `href` when clicked anywhere (assets/alert_rows.js reads data-href)."""
    return html.Tr(cells, className="row-link", **_attrs({"data-href": href}))


def _attrs(values: dict[str, str]) -> dict[str, Any]:
    """aria-* and data-* attributes, which Dash components take as keywords its stubs do not declare."""
    return dict(values)


def _events(events: Sequence[AlertEvent], query: str, measures: Measures) -> Any:
    if not events:
        return components.empty_state("No alert state changes in this window", "")
    return html.Div(html.Table([
        html.Thead(html.Tr([html.Th(h, className="nowrap") for h in ("at (UTC)", "rule", "function", "severity",
                                                                     "from", "to", "value")])),
        html.Tbody([_linked_row([
            html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}", className="nowrap"), html.Td(e.rule, className="nowrap"),
            html.Td(dcc.Link(str(e.key), href=function_href(e.key, query))), html.Td(e.severity),
            html.Td(e.from_state.value), html.Td(e.to_state.value),
            html.Td(event_value(e, measures), className="nowrap num-text"),
        ], function_href(e.key, query)) for e in events]),
    ], className="health-table alerts-table"), className="table-scroll")


@callback(
    *[Output(id_, "children") for id_, _ in _SECTIONS],
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
    Input("alerts-silence-added", "data"),
)
def update_alerts(view_data: dict[str, Any] | None, _n: int | None, _added: int | None) -> tuple[Any, ...]:
    if not view_data:
        raise PreventUpdate
    web = web_context()
    view = PageQuery.from_data(view_data)
    now = web.clock()
    start, _end = view.window(now)
    # silences as they are now: one added here shows at once, not after the next check
    records = mark_silenced(web.store.alert_records(), web.store.silences(active_at=now), now)
    events = web.store.alert_events(since=start)
    if not records and not events:
        note = components.empty_state(
            "No alerts", "No alert rule has fired or is pending. Define rules under [alerts] in the config; "
            "`opsview check` evaluates them and this page shows their state.", id_="alerts-empty")
        return note, "", "", ""
    query = view.to_query()
    measures = alert_measures(web)
    active = [r for r in records if not r.silenced]
    return (
        _records([r for r in active if r.state is AlertState.FIRING], query, "Nothing firing", measures, True),
        _records([r for r in active if r.state is AlertState.PENDING], query, "Nothing pending", measures, True),
        _records([r for r in records if r.silenced], query, "Nothing silenced", measures, False),
        _events(events, query, measures),
    )


# The form sits above the tables: bring it into view with the cursor in "how long", whichever row opened it.
dash.clientside_callback(
    """
    function(hidden) {
        if (hidden) { return window.dash_clientside.no_update; }
        setTimeout(function () {
            const form = document.getElementById('alerts-silence-form');
            const input = document.getElementById('alerts-silence-duration');
            if (form) { form.scrollIntoView({block: 'nearest'}); }
            if (input) { input.focus(); input.select(); }
        }, 0);
        return null;
    }
    """,
    Output("alerts-silence-focus", "data"),
    Input("alerts-silence-form", "hidden"),
    prevent_initial_call=True,
)


@callback(
    Output("alerts-silence-form", "hidden"),
    Output("alerts-silence-target", "data"),
    Output("alerts-silence-title", "children"),
    Output("alerts-silence-duration", "value"),
    Output("alerts-silence-comment", "value"),
    Output("alerts-silence-status", "children"),
    Output("alerts-silence-added", "data"),
    Input({"type": _OPEN, "rule": ALL, "function": ALL}, "n_clicks"),
    Input("alerts-silence-cancel", "n_clicks"),
    Input("alerts-silence-submit", "n_clicks"),
    Input("alerts-silence-comment", "n_submit"),
    State("alerts-silence-target", "data"),
    State("alerts-silence-duration", "value"),
    State("alerts-silence-comment", "value"),
    State("alerts-silence-added", "data"),
    prevent_initial_call=True,
)
def silence_form(
    _open: list[int | None], _cancel: int | None, _submit: int | None, _enter: int | None,
    target: dict[str, str] | None, duration: str | None, comment: str | None, added: int | None,
) -> tuple[Any, ...]:
    """Open the form for a row, close it, or add the silence (then say so and refresh the sections)."""
    trigger = ctx.triggered_id
    if isinstance(trigger, dict):
        if not ctx.triggered[0]["value"]:  # a row re-rendered with its button, not a click
            raise PreventUpdate
        chosen = {"rule": str(trigger["rule"]), "function": str(trigger["function"])}
        title = f"Silence {chosen['rule']} for {chosen['function']}"
        return False, chosen, title, DEFAULT_DURATION, "", "", no_update
    if trigger == "alerts-silence-cancel":
        return True, None, no_update, no_update, no_update, "", no_update
    if not target:
        raise PreventUpdate
    web = web_context()
    try:
        silence = add_silence(web, target["rule"], target["function"], duration or "", comment or "", web.clock())
    except SilenceRefusedError as exc:
        return no_update, no_update, no_update, no_update, no_update, f"Not silenced: {exc}", no_update
    except Exception as exc:  # the store refused the write (read-only database user, disk full, ...)
        import logging

        logging.getLogger(__name__).exception("silence failed")
        return no_update, no_update, no_update, no_update, no_update, f"Not silenced: {one_line(exc)}", no_update
    status = (f"Silence {silence.id} added by {silence.created_by}: {silence.rule} for {silence.function} until "
              f"{silence.ends:%Y-%m-%d %H:%M} UTC (`opsview silence remove {silence.id}` ends it)")
    return True, None, no_update, no_update, no_update, status, (added or 0) + 1
