"""The status strip on every page and the Alerts link's badge: is the data fresh, which source fails,
how many alerts fire.

Freshness follows `opsview.freshness`, the rule the TUI's header and `/healthz` use, so the three
never disagree about STALE. The shell carries the status when a browser asks for a page (no round
trip on load); afterwards a slow poll keeps it current even with auto-refresh off, because data goes
stale precisely while nobody refreshes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dash import Dash, Input, Output, html

from opsview.alert_records import AlertState
from opsview.freshness import Freshness
from opsview.web.context import WebContext, web_context

log = logging.getLogger(__name__)

STATUS = "app-status"
BADGE = "nav-alerts-badge"
POLL = "app-status-poll"
POLL_MS = 30_000


@dataclass(frozen=True, slots=True)
class AppStatus:
    freshness: Freshness | None  # None: the store could not be read
    firing: int  # firing and not silenced: what the Alerts page lists under Firing


def read_status(ctx: WebContext) -> AppStatus:
    """Two small reads, in the caller's thread: the page's own reads keep the read pool busy on load."""
    try:
        health = ctx.store.latest_health()
        firing = sum(1 for r in ctx.store.alert_records({AlertState.FIRING}) if not r.silenced)
    except Exception:
        log.exception("web: reading collector health and alerts failed")
        return AppStatus(None, 0)
    return AppStatus(Freshness.of(health, ctx.clock(), ctx.config.collect.interval), firing)


def status_children(status: AppStatus | None) -> list[Any]:
    if status is None:
        return []
    fresh = status.freshness
    if fresh is None:
        return [html.Span("✗ store read failed: freshness unknown (details in the server log)",
                          id="app-freshness", className="freshness stale")]
    parts: list[Any] = [html.Span(fresh.text(), id="app-freshness",
                                  className="freshness stale" if fresh.stale else "freshness")]
    # Words beside the mark: a failing source reads as failing without its colour.
    parts.extend(
        html.Span(f"✗ {p.label} failing", className="source-failing",
                  title=f"{p.error} (at {p.at:%Y-%m-%d %H:%M:%S} UTC)")
        for p in fresh.problems
    )
    return parts


def badge_text(status: AppStatus | None) -> str:
    return f"{status.firing:,} firing" if status is not None and status.firing else ""


def strip(status: AppStatus | None) -> html.Div:
    return html.Div(status_children(status), id=STATUS, className="app-status")


def badge(status: AppStatus | None) -> html.Span:
    text = badge_text(status)
    return html.Span(text, id=BADGE, className="nav-badge", hidden=not text)


def update_status(_poll: int | None, _refresh: int | None) -> tuple[list[Any], str, bool]:
    status = read_status(web_context())
    text = badge_text(status)
    return status_children(status), text, not text


def register(app: Dash, refresh_interval: str) -> None:
    app.callback(
        Output(STATUS, "children"),
        Output(BADGE, "children"),
        Output(BADGE, "hidden"),
        Input(POLL, "n_intervals"),
        Input(refresh_interval, "n_intervals"),  # the page's own auto-refresh, when on
        prevent_initial_call=True,  # the shell already carries the status it was built with
    )(update_status)
