"""Overview: KPI cards per provider, fleet time series, top-10 lists, collector health."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboards import components, data, figures
from dashboards.context import web_context
from dashboards.controls import INTERVAL, VIEW_STORE
from dashboards.view import ViewState

dash.register_page(__name__, path="/", name="Overview", title="opsview · overview", order=0)  # type: ignore[no-untyped-call]


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.H2("Overview"),
        html.Div(id="overview-kpis", className="kpi-row"),
        html.Div([
            dcc.Graph(id="overview-invocations", config={"displaylogo": False}),
            dcc.Graph(id="overview-errors", config={"displaylogo": False}),
            dcc.Graph(id="overview-durations", config={"displaylogo": False}),
        ], className="graph-grid"),
        html.H3("Top 10"),
        html.Div(id="overview-tops", className="top-grid"),
        html.H3("Collector health"),
        html.Div(id="overview-health"),
    ])


def _view(view_data: dict[str, Any] | None) -> ViewState:
    if not view_data:
        raise PreventUpdate  # the shell has not resolved the URL yet
    return ViewState.from_data(view_data)


# One callback for the whole page: one round trip, and the three reads it needs run in parallel
# (or were started by the page request itself, see `dashboards.app`).
@callback(
    Output("overview-kpis", "children"),
    Output("overview-tops", "children"),
    Output("overview-invocations", "figure"),
    Output("overview-errors", "figure"),
    Output("overview-durations", "figure"),
    Output("overview-health", "children"),
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
)
def update_overview(view_data: dict[str, Any] | None, _n: int | None) -> tuple[Any, ...]:
    view = _view(view_data)
    ctx = web_context()
    reads = data.read_overview(ctx.store, ctx.reads, view, ctx.clock())
    health = components.health_table(data.health_rows(ctx.store), ctx.clock())
    return (*numbers(reads, view), *series(reads, view), health)


def numbers(reads: data.OverviewReads, view: ViewState) -> tuple[list[Any], list[Any]]:
    result = data.overview(reads, web_context().config.pricing, view.provider)
    if not result.statuses:
        empty = components.empty_state("No functions match", "Nothing in the store for this provider, account "
                                       "and region. Widen the filters or run `opsview collect`.",
                                       id_="overview-empty")
        return [empty], []
    query = view.to_query()
    return [components.kpi_card(k) for k in result.kpis], [components.top_table(t, query) for t in result.tops]


def series(reads: data.OverviewReads, view: ViewState) -> tuple[figures.Figure, figures.Figure, figures.Figure]:
    fleet = data.fleet_series(reads, view.provider)
    return (
        figures.stacked("Invocations by provider", fleet.invocations, fleet.step_s),
        figures.stacked("Errors by provider", fleet.errors, fleet.step_s),
        figures.lines("Duration percentiles (all selected functions)", fleet.percentiles, "ms"),
    )
