"""The frame around every page: navigation and the shared controls, kept in the URL.

One callback turns the URL or the controls into the `PageQuery` (in `VIEW_STORE`) that every
page callback reads; a clientside callback writes the view back into the address bar with
`history.replaceState`, which does not re-render the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dash
from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import has_request_context, request

from opsview.web import status as app_status
from opsview.web.context import web_context
from opsview.web.view import CUSTOM, RANGES, REFRESH, PageQuery, page_query_from_values, parse_page_query

VIEW_STORE = "app-view"
INTERVAL = "app-interval"
LOCATION = "app-url"
_CONTROL_IDS = ("ctl-range", "ctl-from", "ctl-to", "ctl-provider", "ctl-account", "ctl-region", "ctl-refresh")
NAV = (("Overview", "/", "nav-overview"), ("Functions", "/functions", "nav-functions"),
       ("Alerts", "/alerts", "nav-alerts"))
PROVIDERS = ("aws", "azure", "gcp", "demo")


_LAYOUT_ENDPOINT = "_dash-layout"
_CALLBACK_ENDPOINT = "_dash-update-component"
# The shell as it is before the URL is resolved: what resolve_view would otherwise send on load.
_UNRESOLVED: tuple[Any, ...] = (
    "1h", None, None, None, None, None, "off", None, {"display": "none"}, True, 60_000, None,
    *[href for _, href, _ in NAV],
)


@dataclass(frozen=True, slots=True)
class PageUrl:
    """The address of the page a layout request comes from."""

    pathname: str  # as the browser has it, with the app's prefix
    path: str  # within the app, as pages are registered ("/", "/functions")
    search: str  # "" or "?..."
    href: str


def rendering_for_browser() -> bool:
    """Whether a page layout is being built for a browser to show (the first layout, or the pages
    router), rather than for Dash's callback validation: only then is it worth reading the store."""
    return has_request_context() and request.path.endswith((_LAYOUT_ENDPOINT, _CALLBACK_ENDPOINT))


def page_url() -> PageUrl | None:
    """The page a `_dash-layout` request comes from, by its Referer (same origin only), or None."""
    if not has_request_context() or not request.path.endswith(_LAYOUT_ENDPOINT) or not request.referrer:
        return None
    ref = urlsplit(request.referrer)
    prefix = request.path.removesuffix(_LAYOUT_ENDPOINT)
    if ref.netloc != request.host or ref.fragment or not ref.path.startswith(prefix):
        return None
    path = "/" + ref.path.removeprefix(prefix).strip("/")
    return PageUrl(ref.path, path, f"?{ref.query}" if ref.query else "", request.referrer)


def shell() -> html.Div:
    """The app layout: a function, so each page load gets fresh components.

    Asked for by a page (its `_dash-layout` request), the shell comes already resolved for that page's
    URL: controls, the view, the nav links and the page's own layout, with both locations holding the
    address the browser has, so neither reports a change on load. The first paint then needs no callback
    round trip (the URL → view → page chain costs two). Without a usable Referer the shell is
    unresolved and the callbacks resolve it, as they do on every later navigation."""
    url = page_url()
    page = _page_for(url) if url is not None else None
    status = app_status.read_status(web_context()) if rendering_for_browser() else None
    if url is None or page is None:
        return _frame(_UNRESOLVED, dash.page_container, None, status)
    resolved = resolve_view(url.search, None, None, None, None, None, None, None, None)
    query = {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.search[1:], keep_blank_values=True).items()}
    location: dict[str, Any] = {"pathname": url.pathname, "search": url.search, "href": url.href, "hash": ""}
    title = page["title"]
    container = html.Div([
        dcc.Location(id="_pages_location", refresh="callback-nav", **location),
        html.Div(page["layout"](**query), id="_pages_content", disable_n_clicks=True),
        dcc.Store(id="_pages_store", data={"title": title if isinstance(title, str) else "opsview"}),
        html.Div(id="_pages_dummy", disable_n_clicks=True),
    ])
    return _frame(resolved, container, location, status)


def _page_for(url: PageUrl) -> dict[str, Any] | None:
    """The registered page at `url` (fixed paths only; a templated one is left to the router)."""
    for page in dash.page_registry.values():
        if page.get("path_template") is None and page["path"] == url.path and callable(page["layout"]):
            return dict(page)
    return None


def _frame(resolved: Sequence[Any], container: Any, location: dict[str, Any] | None,
           status: app_status.AppStatus | None) -> html.Div:
    range_, start, end, provider, account, region, refresh = resolved[:7]
    view_data, custom_style, interval_off, interval_ms, message = resolved[7:12]
    hrefs = resolved[12:]
    return html.Div([
        dcc.Location(id=LOCATION, **(location or {})),
        dcc.Store(id=VIEW_STORE, data=view_data),
        dcc.Store(id="app-url-written"),
        dcc.Interval(id=INTERVAL, disabled=interval_off, interval=interval_ms),
        dcc.Interval(id=app_status.POLL, interval=app_status.POLL_MS),
        html.Header([
            html.H1("opsview", className="brand"),
            html.Nav([dcc.Link([label, app_status.badge(status)] if id_ == "nav-alerts" else label,
                               href=href, id=id_, className="nav-link")
                      for (label, _, id_), href in zip(NAV, hrefs, strict=True)]),
            html.Div([
                _labelled("Range", dcc.Dropdown(
                    id="ctl-range", options=[*RANGES, CUSTOM], value=range_, clearable=False, searchable=False)),
                html.Div([
                    _labelled("From (UTC)", dcc.Input(id="ctl-from", type="text", placeholder="2024-05-01T12:00Z",
                                                      debounce=True, value=start)),
                    _labelled("To (UTC)", dcc.Input(id="ctl-to", type="text", placeholder="2024-05-01T18:00Z",
                                                    debounce=True, value=end)),
                ], id="ctl-custom", className="custom-range", style=custom_style),
                _labelled("Provider", dcc.Dropdown(id="ctl-provider", options=list(PROVIDERS), placeholder="all",
                                                   value=provider)),
                _labelled("Account", dcc.Dropdown(id="ctl-account", options=[], placeholder="all", value=account)),
                _labelled("Region", dcc.Dropdown(id="ctl-region", options=[], placeholder="all", value=region)),
                _labelled("Refresh", dcc.Dropdown(id="ctl-refresh", options=list(REFRESH), value=refresh,
                                                  clearable=False, searchable=False)),
            ], className="controls"),
            app_status.strip(status),
        ], className="app-header"),
        html.Div(message, id="ctl-message", className="message"),
        html.Main(container, className="page"),
    ])


def _labelled(label: str, control: Any) -> html.Label:
    return html.Label([html.Span(label), control], className="control")


def resolve_view(search: str | None, range_: str | None, start: str | None, end: str | None, provider: str | None,
                 account: str | None, region: str | None, refresh: str | None,
                 current: dict[str, Any] | None, *, from_url: bool = True) -> tuple[Any, ...]:
    """URL or controls -> the view. The URL wins on load and on navigation; the controls otherwise."""
    parsed = parse_page_query(search) if from_url else page_query_from_values(
        range_, start, end, provider, account, region, refresh)
    view = parsed.view
    if from_url and current is not None and not search:
        # A nav link without a query keeps the view the user has, rather than resetting it.
        view = PageQuery.from_data(current)
    data = view.to_data()
    query = view.to_query()
    suffix = f"?{query}" if query else ""
    control_values: list[Any] = (
        [view.range, _iso_or_blank(data["start"]), _iso_or_blank(data["end"]), view.provider, view.account,
         view.region, view.refresh]
        if from_url else [no_update] * len(_CONTROL_IDS)
    )
    # What the previous view already set is not sent again: every output the browser applies costs
    # it a pass over the page's components.
    before = PageQuery.from_data(current) if current is not None else None
    same_custom = before is not None and (before.range == CUSTOM) == (view.range == CUSTOM)
    same_refresh = before is not None and before.refresh_s == view.refresh_s
    return (
        *control_values,
        no_update if data == current else data,
        no_update if same_custom else {"display": "flex" if view.range == CUSTOM else "none"},
        no_update if same_refresh else view.refresh_s is None,
        no_update if same_refresh else (view.refresh_s or 60) * 1000,
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

    ctx = web_context()
    # Asked on every provider change, next to the page's own reads: kept with them for a few seconds.
    infos = ctx.reads.get(("functions", provider), lambda: ctx.store.functions(FleetFilter(provider=provider)))
    accounts = sorted({i.key.account for i in infos})
    regions = sorted({i.key.region for i in infos if account is None or i.key.account == account})
    return accounts, regions


def register(app: Dash) -> None:
    app_status.register(app, INTERVAL)
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
        # Not on load: an unresolved shell's location reports the URL as a change when it mounts (which
        # runs this), and a resolved shell already holds what this would return.
        prevent_initial_call=True,
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
