"""Functions: every function in a sortable, filterable grid; a row links to its page."""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsview.fleet import FunctionStatus, fleet_status
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.data import function_href
from opsview.web.view import PageQuery

dash.register_page(__name__, path="/functions", name="Functions", title="opsview · functions", order=1)  # type: ignore[no-untyped-call]


def _fmt(js: str) -> dict[str, str]:
    # None stays an em dash, as in the TUI: missing data is never shown as 0.
    return {"function": f"params.value == null ? '—' : {js}"}


_NUM = {"type": "rightAligned", "filter": "agNumberColumnFilter", "width": 92}
# The TUI's columns, in its order.
COLUMNS: list[dict[str, Any]] = [
    {"field": "cloud", "headerName": "cloud", "filter": "agTextColumnFilter", "width": 95},
    {"field": "account", "headerName": "account", "filter": "agTextColumnFilter", "width": 125},
    {"field": "region", "headerName": "region", "filter": "agTextColumnFilter", "width": 115},
    # The name is data: FunctionLink (assets/dashAgGridComponentFunctions.js) puts it in a text node inside the
    # link to its page. Never the "markdown" renderer: a name like `![t](http://host/beacon)` would fetch the URL.
    {"field": "function", "headerName": "function", "filter": "agTextColumnFilter", "cellRenderer": "FunctionLink",
     "flex": 1, "minWidth": 200},
    {"field": "inv_min", "headerName": "inv/min", **_NUM, "valueFormatter": _fmt("d3.format(',.1f')(params.value)")},
    {"field": "err", "headerName": "err %", **_NUM, "valueFormatter": _fmt("d3.format('.2%')(params.value)")},
    {"field": "thr", "headerName": "thr", **_NUM, "valueFormatter": _fmt("d3.format(',')(params.value)")},
    {"field": "cold", "headerName": "cold %", **_NUM, "valueFormatter": _fmt("d3.format('.1%')(params.value)")},
    {"field": "p50", "headerName": "p50 ms", **_NUM, "valueFormatter": _fmt("d3.format(',.0f')(params.value)")},
    {"field": "p95", "headerName": "p95 ms", **_NUM, "valueFormatter": _fmt("d3.format(',.0f')(params.value)")},
    {"field": "p99", "headerName": "p99 ms", **_NUM, "valueFormatter": _fmt("d3.format(',.0f')(params.value)")},
    {"field": "max", "headerName": "max ms", **_NUM, "valueFormatter": _fmt("d3.format(',.0f')(params.value)")},
    {"field": "cost_h", "headerName": "$/h", **_NUM, "valueFormatter": _fmt("d3.format('$,.4f')(params.value)")},
]


def layout(**_query: str) -> html.Div:
    return html.Div([
        html.Div([
            html.H2("Functions"),
            dcc.Input(id="functions-search", type="search", placeholder="filter any column…", debounce=False,
                      className="search"),
            html.Span(id="functions-count", className="muted"),
        ], className="page-title"),
        dag.AgGrid(
            id="functions-grid", columnDefs=COLUMNS, rowData=[],
            defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
            # The empty-grid text goes through localeText: dash-ag-grid blocks an overlay *template* string
            # (it would be evaluated as HTML), and AG Grid then shows its own "No Rows To Show".
            dashGridOptions={"animateRows": False, "rowHeight": 30, "pagination": True, "paginationPageSize": 100,
                             "localeText": {"noMatchingRows": "No functions match the filters.",
                                            "noRowsToShow": "No functions in this view."}},
            style={"height": "70vh"}, className="ag-theme-alpine",
        ),
    ])


def grid_row(s: FunctionStatus, query: str) -> dict[str, Any]:
    m, key = s.measures, s.key
    return {
        "cloud": key.provider, "account": key.account, "region": key.region,
        "function": key.name, "href": function_href(key, query),
        "inv_min": s.invocations_per_min, "err": s.error_rate, "thr": m.throttles, "cold": s.cold_start_rate,
        "p50": m.duration_p50_ms, "p95": m.duration_p95_ms, "p99": m.duration_p99_ms, "max": m.duration_max_ms,
        "cost_h": s.cost_per_hour,
    }


@callback(
    Output("functions-grid", "rowData"),
    Output("functions-count", "children"),
    Input(VIEW_STORE, "data"),
    Input(INTERVAL, "n_intervals"),
)
def update_grid(view_data: dict[str, Any] | None, _n: int | None) -> tuple[list[dict[str, Any]], str]:
    if not view_data:
        raise PreventUpdate
    view = PageQuery.from_data(view_data)
    ctx = web_context()
    now = ctx.clock()
    start, end = view.window(now)
    statuses = fleet_status(ctx.store, ctx.config.pricing, end - start, end, view.filter)
    query = view.to_query()
    return [grid_row(s, query) for s in statuses], f"{len(statuses):,} functions"


@callback(Output("functions-grid", "dashGridOptions"), Input("functions-search", "value"),
          prevent_initial_call=True)
def quick_filter(text: str | None) -> Any:
    patch = dash.Patch()
    patch["quickFilterText"] = text or ""
    return patch
