"""One function at `/function/<key>`: what it is, its charts over the view's window, its alert history."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsview import formatting as fmt
from opsview.schema import FunctionKey
from opsview.web import components, data, figures
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.view import PageQuery

dash.register_page(__name__, path_template="/function/<key>", name="Function", title="opsview · function", order=2)  # type: ignore[no-untyped-call]

_GRAPHS = ("function-counts", "function-durations", "function-cold", "function-cost")


def layout(key: str | None = None, **_query: str) -> html.Div:
    text = unquote(key) if key else ""
    return html.Div([
        dcc.Store(id="function-key", data=text),
        html.H2(text or "Function", id="function-title"),
        html.Div(id="function-info"),
        html.Div([dcc.Graph(id=g, config={"displaylogo": False}) for g in _GRAPHS], id="function-graphs",
                 className="graph-grid"),
        html.H3("Alert history"),
        html.Div(id="function-alerts"),
    ])


def _info_block(fv: data.FunctionView) -> html.Div:
    info, s = fv.info, fv.status
    m = s.measures
    facts = [
        ("provider", info.key.provider), ("account", info.key.account), ("region", info.key.region),
        ("runtime", info.runtime or fmt.MISSING),
        ("memory", f"{info.memory_mb} MB" if info.memory_mb is not None else fmt.MISSING),
        ("timeout", f"{info.timeout_s:g} s" if info.timeout_s is not None else fmt.MISSING),
        ("invocations", fmt.count(m.invocations)), ("error %", fmt.percent(s.error_rate)),
        ("throttles", fmt.count(m.throttles)), ("cold start %", fmt.percent(s.cold_start_rate)),
        ("p50 / p95 / p99", " / ".join(fmt.millis(v) for v in (m.duration_p50_ms, m.duration_p95_ms,
                                                               m.duration_p99_ms))),
        ("init p95", fmt.millis(m.init_p95_ms)), ("est. cost", fmt.usd(s.cost_usd)),
    ]
    labels = ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items()))
    return html.Div([
        html.Dl([item for k, v in facts for item in (html.Dt(k), html.Dd(v, id=f"function-fact-{k.split()[0]}"))],
                className="facts"),
        html.P(info.resource_id or "", className="muted mono"),
        html.P(f"labels: {labels}" if labels else "", className="muted"),
    ])


def _alert_history(key: FunctionKey) -> Any:
    events = web_context().store.alert_events(key=key, limit=100)
    if not events:
        return components.empty_state("No alert history", "No alert rule has changed state for this function. "
                                      "Rules are configured under [alerts] and evaluated by `opsview check`.")
    return html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("at (UTC)", "rule", "severity", "from", "to", "value")])),
        html.Tbody([html.Tr([
            html.Td(f"{e.at:%Y-%m-%d %H:%M:%S}"), html.Td(e.rule), html.Td(e.severity), html.Td(e.from_state.value),
            html.Td(e.to_state.value), html.Td(fmt.count(e.value)),
        ]) for e in events]),
    ], className="health-table")


@callback(
    Output("function-info", "children"),
    Output("function-graphs", "style"),
    *[Output(g, "figure") for g in _GRAPHS],
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
                *blank, "")
    ctx = web_context()
    view = PageQuery.from_data(view_data)
    fv = data.function_view(ctx.store, ctx.config.pricing, key, view, ctx.clock())
    if fv is None:
        return (components.empty_state("No such function", f"{key} is not in the store.", id_="function-missing"),
                hidden, *blank, "")
    return (
        _info_block(fv), {},
        figures.function_counts(fv.samples, fv.step_s),
        figures.function_durations(fv.samples),
        figures.function_cold_starts(fv.samples, fv.step_s),
        figures.function_cost(fv.samples, fv.costs, fv.step_s),
        _alert_history(key),
    )
