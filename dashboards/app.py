"""The app factory: one Dash app per (store, config), no state at import time."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from dash import Dash

from opsview.config import Config, RuleConfig
from opsview.schema import utcnow
from opsview.store import Store
from opsview.web import controls, server
from opsview.web.context import WebContext, attach, context_of

# Not resolved: Dash derives page module names from this path relative to the package (opsview.web).
_HERE = Path(__file__).parent


def create_app(store: Store, config: Config, *, clock: Callable[[], datetime] = utcnow,
               environ: Mapping[str, str] | None = None) -> Dash:
    """Build the dashboard. Raises `server.AuthSetupError` when [web.auth] names a missing secret."""
    creds = server.resolve_credentials(config.web.auth, os.environ if environ is None else environ)
    app = Dash(
        "opsview.web", use_pages=True, pages_folder=str(_HERE / "pages"), assets_folder=str(_HERE / "assets"),
        title="opsview", update_title="", compress=True,  # gzip: plotly.js alone is ~4.5 MB raw
    )
    app.index_string = _index_string(app.config.requests_pathname_prefix)
    app.layout = controls.shell
    controls.register(app)
    rules, rules_error = _load_rules(config)
    ctx = WebContext(store, config, clock, rules=rules, rules_error=rules_error)
    attach(app.server, ctx)
    server.install(app.server, ctx, creds)
    _prefetch_overview(app, ctx)
    _add_metrics(app, store, config, clock)
    # Dash hands the global `@callback`s of the page modules (re-run for every app) to the first
    # app that serves a request; claim them now so several apps in one process each get theirs.
    with app.server.app_context():
        app._setup_server()  # type: ignore[no-untyped-call]
    return app


# dcc loads a graph's and a dropdown's code only when the first one renders, one round trip after the
# layout has arrived; every page has dropdowns and most have graphs, so fetch both with the scripts.
_PRELOAD = ("dash/dcc/async-dropdown.js", "dash/dcc/async-graph.js")


def _index_string(prefix: str) -> str:
    preload = "".join(
        f'<link rel="preload" as="script" href="{prefix}_dash-component-suites/{path}">' for path in _PRELOAD)
    return f"""<!DOCTYPE html>
<html lang="en">
    <head>
        {{%metas%}}
        <title>{{%title%}}</title>
        {{%favicon%}}
        {{%css%}}
        {preload}
    </head>
    <body>
        {{%app_entry%}}
        <footer>
            {{%config%}}
            {{%scripts%}}
            {{%renderer%}}
        </footer>
    </body>
</html>"""


def _load_rules(config: Config) -> tuple[tuple[RuleConfig, ...], str | None]:
    """The alert rules, for the thresholds the Functions grid marks. A broken rule file does not keep
    the dashboard from serving; the grid says why it marks nothing (`opsview rules validate` says more)."""
    from opsview.alerts.rules import load_rules
    from opsview.config import ConfigError

    try:
        return tuple(load_rules(config)), None
    except ConfigError as exc:
        return (), str(exc).splitlines()[0]


def shutdown(app: Dash) -> None:
    """Call before closing the store: waits for reads the app started in the background."""
    context_of(app.server).reads.close()


def _prefetch_overview(app: Dash, ctx: WebContext) -> None:
    """Start the overview's reads when its page is requested, not one round trip after the browser
    has loaded and run the scripts: the callback then joins reads already under way."""
    from flask import request

    from opsview.web.data import submit_new_errors, submit_overview_reads
    from opsview.web.view import parse_page_query

    def prefetch() -> None:
        if request.method == "GET" and request.path == "/":
            view = parse_page_query(request.query_string.decode("utf-8", "replace")).view
            submit_overview_reads(ctx.store, ctx.reads, view, ctx.clock())
            submit_new_errors(ctx.store, ctx.reads, view, ctx.clock())

    # Appended after the auth hook, so an unauthenticated request starts nothing.
    app.server.before_request(prefetch)


def _add_metrics(app: Dash, store: Store, config: Config, clock: Callable[[], datetime]) -> None:
    """`/metrics` in the Prometheus text format, behind the same auth as the pages."""
    from datetime import timedelta

    from flask import Response
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from opsview.exporter import registry_for

    registry = registry_for(store, config, timedelta(minutes=5), clock)

    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    app.server.add_url_rule("/metrics", "opsview_metrics", metrics)
