"""Functions: every function in a sortable, filterable grid, worst error rate first; a row links to its
page, and a row over an alert rule's threshold is marked (see `opsview.web.thresholds`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dash
import dash_ag_grid as dag
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from opsview.fleet import FunctionStatus, fleet_status
from opsview.web.context import web_context
from opsview.web.controls import INTERVAL, VIEW_STORE
from opsview.web.data import function_href
from opsview.web.thresholds import COLUMN_OF, Crossing, crossings, markable
from opsview.web.view import PageQuery

dash.register_page(__name__, path="/functions", name="Functions", title="opsview · functions", order=1)  # type: ignore[no-untyped-call]


def _num(field: str, header: str, d3: str, **extra: Any) -> dict[str, Any]:
    """A numeric column. None stays an em dash, as in the TUI (missing data is never shown as 0), and
    sorts last in either direction, as in the TUI. A value over a configured rule's threshold gets a
    ⚠ before it (the mark that does not depend on colour) and the `over` class."""
    return {
        "field": field, "headerName": header, "type": "rightAligned", "filter": "agNumberColumnFilter",
        "width": 80,
        "valueFormatter": {"function": f"params.value == null ? '—' : "
                                       f"(params.data.over_cols.includes('{field}') ? '⚠ ' : '') + "
                                       f"d3.format('{d3}')(params.value)"},
        "comparator": {"function": "nullsLast"},  # assets/opsview.js
        "sortingOrder": ["desc", "asc", None],  # a first click shows the worst first, as `s` does in the TUI
        "cellClassRules": {"over": f"params.data.over_cols.includes('{field}')"},
        **extra,
    }


# The TUI's columns, in its order, then the rules a row is over.
COLUMNS: list[dict[str, Any]] = [
    {"field": "cloud", "headerName": "cloud", "filter": "agTextColumnFilter", "width": 72},
    {"field": "account", "headerName": "account", "filter": "agTextColumnFilter", "width": 100},
    {"field": "region", "headerName": "region", "filter": "agTextColumnFilter", "width": 105},
    # The name is data: FunctionLink (assets/dashAgGridComponentFunctions.js) puts it in a text node inside the
    # link to its page. Never the "markdown" renderer: a name like `![t](http://host/beacon)` would fetch the URL.
    {"field": "function", "headerName": "function", "filter": "agTextColumnFilter", "cellRenderer": "FunctionLink",
     "flex": 1, "minWidth": 160},
    _num("inv_min", "inv/min", ",.1f"),
    # Worst first, as the TUI opens: the rows that need a look are on the first page.
    _num("err", "err %", ".2%", sort="desc", width=96),
    _num("thr", "thr", ","),
    _num("cold", "cold %", ".1%", width=88),
    _num("p50", "p50 ms", ",.0f"),
    _num("p95", "p95 ms", ",.0f"),
    _num("p99", "p99 ms", ",.0f"),
    _num("max", "max ms", ",.0f"),
    _num("cost_h", "$/h", "$,.4f"),
    {"field": "over", "headerName": "over threshold", "filter": "agTextColumnFilter", "width": 140,
     "headerTooltip": "alert rules whose threshold this row's numbers cross over the view's window",
     "tooltipField": "over"},
]


def layout(**_query: str) -> html.Div:
    # The last column lists crossed rules: without any rule to mark it would always be empty.
    columns = COLUMNS if markable(web_context().rules) else COLUMNS[:-1]
    return html.Div([
        html.Div([
            html.H2("Functions"),
            dcc.Input(id="functions-search", type="search", placeholder="filter any column…", debounce=False,
                      className="search"),
            html.Span(id="functions-count", className="muted"),
        ], className="page-title"),
        dag.AgGrid(
            id="functions-grid", columnDefs=columns, rowData=[],
            defaultColDef={"sortable": True, "resizable": True, "floatingFilter": True},
            # The empty-grid text goes through localeText: dash-ag-grid blocks an overlay *template* string
            # (it would be evaluated as HTML), and AG Grid then shows its own "No Rows To Show".
            dashGridOptions={"animateRows": False, "rowHeight": 30, "pagination": True, "paginationPageSize": 100,
                             "localeText": {"noMatchingRows": "No functions match the filters.",
                                            "noRowsToShow": "No functions in this view."}},
            rowClassRules={"row-over": "params.data.over !== ''"},
            style={"height": "70vh"}, className="ag-theme-alpine",
        ),
    ])


def grid_row(s: FunctionStatus, query: str, over: Sequence[Crossing] = ()) -> dict[str, Any]:
    m, key = s.measures, s.key
    return {
        "cloud": key.provider, "account": key.account, "region": key.region,
        "function": key.name, "href": function_href(key, query),
        "inv_min": s.invocations_per_min, "err": s.error_rate, "thr": m.throttles, "cold": s.cold_start_rate,
        "p50": m.duration_p50_ms, "p95": m.duration_p95_ms, "p99": m.duration_p99_ms, "max": m.duration_max_ms,
        "cost_h": s.cost_per_hour,
        "over": ", ".join(dict.fromkeys(c.rule for c in over)),
        "over_cols": sorted({COLUMN_OF[c.measure] for c in over if c.measure in COLUMN_OF}),
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
    rules = markable(ctx.rules)
    rows = [grid_row(s, query, crossings(s, rules, ctx.config.pricing)) for s in statuses]
    marked = sum(1 for r in rows if r["over"])
    count = f"{len(statuses):,} functions"
    if ctx.rules_error is not None:
        count += f" · thresholds not marked: {ctx.rules_error}"
    elif rules:
        count += f" · {marked:,} over an alert threshold"
    return rows, count


@callback(Output("functions-grid", "dashGridOptions"), Input("functions-search", "value"),
          prevent_initial_call=True)
def quick_filter(text: str | None) -> Any:
    patch = dash.Patch()
    patch["quickFilterText"] = text or ""
    return patch
