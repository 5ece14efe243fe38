"""Overview: KPI cards per provider, fleet time series, top-10 lists, new error types, collector health."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import MissingCallbackContextException, PreventUpdate

from opsview import formatting as fmt
from opsview.web import components, data, figures
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE, rendering_for_browser
from opsview.web.view import PageQuery, parse_page_query

dash.register_page(__name__, path="/", name="Overview", title="opsview · overview", order=0)  # type: ignore[no-untyped-call]


RENDERED = "overview-rendered"  # the view the page's content was rendered for, when the layout carried it
CHARTS = (("overview-invocations", "Invocations by provider"), ("overview-errors", "Errors by provider"),
          ("overview-durations", "Duration percentiles (all selected functions)"))


def layout(**query: str | list[str]) -> html.Div:
    """The page, with its content already rendered for the URL's view when a browser asks for it (the
    shell's first layout, or the router on navigation): the first paint needs no callback round trip."""
    view = parse_page_query(urlencode(query, doseq=True)).view if rendering_for_browser() else None
    content: tuple[Any, ...] = (None, None, {}, {}, {}, None, None) if view is None else render(view)
    kpis, tops, *figs, new_errors, health = content
    return html.Div([
        html.H2("Overview"),
        dcc.Store(id=RENDERED, data=None if view is None else view.to_data()),
        html.Div(kpis, id="overview-kpis", className="kpi-row"),
        html.Div([
            components.chart(graph_id, title, fig)
            for (graph_id, title), fig in zip(CHARTS, figs, strict=True)
        ], className="graph-grid"),
        html.H3("Top 10"),
        html.Div(tops, id="overview-tops", className="top-grid"),
        html.H3("New error types"),
        html.Div(new_errors, id="overview-new-errors"),
        html.H3("Collector health"),
        html.Div(health, id="overview-health"),
    ])


def _view(view_data: dict[str, Any] | None) -> PageQuery:
    if not view_data:
        raise PreventUpdate  # the shell has not resolved the URL yet
    return PageQuery.from_data(view_data)


# One callback for the whole page: one round trip, and the three reads it needs run in parallel
# (or were started by the page request itself, see `opsview.web.app`).
@callback(
    Output("overview-kpis", "children"),
    Output("overview-tops", "children"),
    Output("overview-invocations", "figure"),
    Output("overview-errors", "figure"),
    Output("overview-durations", "figure"),
    Output("overview-new-errors", "children"),
    Output("overview-health", "children"),
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
    State(RENDERED, "data"),
)
def update_overview(view_data: dict[str, Any] | None, _n: int | None,
                    rendered: dict[str, Any] | None = None) -> tuple[Any, ...]:
    view = _view(view_data)
    if rendered is not None and rendered == view_data and _initial_call():
        # The content the layout carries is for this very view. The browser is drawing it and the
        # server is idle: a good moment to prepare the provider filters.
        _warm(view)
        raise PreventUpdate
    result = render(view)
    _warm(view)
    return result


def _warm(view: PageQuery) -> None:
    """Prepare each provider's view from the all-provider reads, if they are at hand (never read for it)."""
    ctx = web_context()
    now = ctx.clock()
    if view.provider is None and data.overview_reads_at_hand(ctx.reads, view, now):
        reads = data.read_overview(ctx.store, ctx.reads, view, now)
        data.warm_overviews(ctx.reads, reads, ctx.config.pricing)


def _initial_call() -> bool:
    """Whether Dash runs the callback because its components appeared, rather than for a changed input."""
    try:
        return dash.ctx.triggered_id is None
    except MissingCallbackContextException:
        return True  # called as a plain function


def render(view: PageQuery) -> tuple[Any, ...]:
    """KPI cards, top lists, the three charts, the new error types and the health table for `view`."""
    ctx = web_context()
    new_errors = data.submit_new_errors(ctx.store, ctx.reads, view, ctx.clock())
    reads = data.read_overview(ctx.store, ctx.reads, view, ctx.clock())
    health = components.health_table(data.health_rows(ctx.store), ctx.clock())
    result, traces = data.cached_overview(ctx.reads, reads, ctx.config.pricing, view.provider)
    return (*numbers(result, view), *series(traces), new_error_types(new_errors(), view, ctx.clock()), health)


def new_error_types(found: data.NewErrors, view: PageQuery, now: datetime) -> Any:
    """Signatures first seen inside the window, each linking to its function; or why there are none."""
    window = fmt.window_label(found.window)
    if found.watched == 0:
        return components.empty_state(
            "Errors unknown", f"No source searched the selected functions' errors in the last {window}, so whether "
            "any error type is new cannot be told.",
            id_="overview-new-errors-unknown")
    if not found.signatures:
        return components.empty_state(
            "No new error types", f"No error signature was first seen in the last {window} "
            f"({found.watched:,} functions' errors searched).", id_="overview-new-errors-none")
    note = (f"First seen in the last {window}, most frequent first; {found.watched:,} functions' errors searched. "
            "NEW needs the function's errors watched for a window's length before.")
    return html.Div([html.P(note, className="muted"),
                     components.error_table(found.signatures, now, "new error types", with_function=view.to_query())])


def numbers(result: data.Overview, view: PageQuery) -> tuple[list[Any], list[Any]]:
    if not result.statuses:
        empty = components.empty_state("No functions match", "Nothing in the store for this provider, account "
                                       "and region. Widen the filters or run `opsview collect`.",
                                       id_="overview-empty")
        return [empty], []
    query = view.to_query()
    return [components.kpi_card(k) for k in result.kpis], [components.top_table(t, query) for t in result.tops]


def series(traces: data.ProviderTraces) -> tuple[figures.Figure, figures.Figure, figures.Figure]:
    return (
        figures.stacked(traces.invocations, traces.step_s),
        figures.stacked(traces.errors, traces.step_s),
        figures.lines(traces.percentiles, "ms"),
    )
