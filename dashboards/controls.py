"""The frame around every page: navigation and the shared controls, kept in the URL.

One callback turns the URL or the controls into the `ViewState` (in `VIEW_STORE`) that every
page callback reads; a clientside callback writes the view back into the address bar with
`history.replaceState`, which does not re-render the page.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update

from dashboards.context import web_context
from dashboards.view import CUSTOM, RANGES, REFRESH, ViewState, view_from_query, view_from_values

VIEW_STORE = "app-view"
INTERVAL = "app-interval"
LOCATION = "app-url"
_CONTROL_IDS = ("ctl-range", "ctl-from", "ctl-to", "ctl-provider", "ctl-account", "ctl-region", "ctl-refresh")
NAV = (("Overview", "/", "nav-overview"), ("Functions", "/functions", "nav-functions"),
       ("Alerts", "/alerts", "nav-alerts"))
PROVIDERS = ("aws", "azure", "gcp", "demo")


def shell() -> html.Div:
    """The app layout: a function, so each page load gets fresh components."""
    return html.Div([
        dcc.Location(id=LOCATION),
        dcc.Store(id=VIEW_STORE),
        dcc.Store(id="app-url-written"),
        dcc.Interval(id=INTERVAL, disabled=True, interval=60_000),
        html.Header([
            html.Span("opsview", className="brand"),
            html.Nav([dcc.Link(label, href=href, id=id_, className="nav-link") for label, href, id_ in NAV]),
            html.Div([
                _labelled("Range", dcc.Dropdown(
                    id="ctl-range", options=[*RANGES, CUSTOM], value="1h", clearable=False, searchable=False)),
                html.Div([
                    _labelled("From (UTC)", dcc.Input(id="ctl-from", type="text", placeholder="2024-05-01T12:00Z",
                                                      debounce=True)),
                    _labelled("To (UTC)", dcc.Input(id="ctl-to", type="text", placeholder="2024-05-01T18:00Z",
                                                    debounce=True)),
                ], id="ctl-custom", className="custom-range", style={"display": "none"}),
                _labelled("Provider", dcc.Dropdown(id="ctl-provider", options=list(PROVIDERS), placeholder="all")),
                _labelled("Account", dcc.Dropdown(id="ctl-account", options=[], placeholder="all")),
                _labelled("Region", dcc.Dropdown(id="ctl-region", options=[], placeholder="all")),
                _labelled("Refresh", dcc.Dropdown(id="ctl-refresh", options=list(REFRESH), value="off",
                                                  clearable=False, searchable=False)),
            ], className="controls"),
        ], className="app-header"),
        html.Div(id="ctl-message", className="message"),
        html.Main(dash.page_container, className="page"),
    ])


def _labelled(label: str, control: Any) -> html.Label:
    return html.Label([html.Span(label), control], className="control")


def resolve_view(search: str | None, range_: str | None, start: str | None, end: str | None, provider: str | None,
                 account: str | None, region: str | None, refresh: str | None,
                 current: dict[str, Any] | None, *, from_url: bool = True) -> tuple[Any, ...]:
    """URL or controls -> the view. The URL wins on load and on navigation; the controls otherwise."""
    parsed = view_from_query(search) if from_url else view_from_values(
        range_, start, end, provider, account, region, refresh)
    view = parsed.view
    if from_url and current is not None and not search:
        # A nav link without a query keeps the view the user has, rather than resetting it.
        view = ViewState.from_data(current)
    data = view.to_data()
    query = view.to_query()
    suffix = f"?{query}" if query else ""
    control_values: list[Any] = (
        [view.range, _iso_or_blank(data["start"]), _iso_or_blank(data["end"]), view.provider, view.account,
         view.region, view.refresh]
        if from_url else [no_update] * len(_CONTROL_IDS)
    )
    return (
        *control_values,
        no_update if data == current else data,
        {"display": "flex" if view.range == CUSTOM else "none"},
        view.refresh_s is None,
        (view.refresh_s or 60) * 1000,
        " · ".join(parsed.problems),
        *[href + suffix for _, href, _ in NAV],
    )


def _resolve_view_callback(*args: Any) -> tuple[Any, ...]:
    return resolve_view(*args, from_url=ctx.triggered_id in (None, LOCATION))


def _iso_or_blank(value: str | None) -> str:
    return value or ""


def filter_options(provider: str | None, account: str | None) -> tuple[list[str], list[str]]:
    """Accounts and regions that exist for the chosen provider (and account)."""
    from opsview.store import FleetFilter

    infos = web_context().store.functions(FleetFilter(provider=provider))
    accounts = sorted({i.key.account for i in infos})
    regions = sorted({i.key.region for i in infos if account is None or i.key.account == account})
    return accounts, regions


def register(app: Dash) -> None:
    app.callback(
        *[Output(c, "value") for c in _CONTROL_IDS],
        Output(VIEW_STORE, "data"),
        Output("ctl-custom", "style"),
        Output(INTERVAL, "disabled"),
        Output(INTERVAL, "interval"),
        Output("ctl-message", "children"),
        *[Output(id_, "href") for _, _, id_ in NAV],
        Input(LOCATION, "search"),
        *[Input(c, "value") for c in _CONTROL_IDS],
        State(VIEW_STORE, "data"),
    )(_resolve_view_callback)
    app.callback(
        Output("ctl-account", "options"),
        Output("ctl-region", "options"),
        Input("ctl-provider", "value"),
        Input("ctl-account", "value"),
    )(filter_options)
    # replaceState keeps the address bar a faithful link to the view without a router round trip.
    app.clientside_callback(  # type: ignore[no-untyped-call]
        """
        function(view, href) {
            if (!href) { return window.dash_clientside.no_update; }
            const q = href.indexOf('?') >= 0 ? href.slice(href.indexOf('?')) : '';
            const target = window.location.pathname + q;
            if (target !== window.location.pathname + window.location.search) {
                window.history.replaceState(window.history.state, '', target);
            }
            return q;
        }
        """,
        Output("app-url-written", "data"),
        Input(VIEW_STORE, "data"),
        State("nav-overview", "href"),
    )
