"""Flask-level hooks on the Dash server: authentication (`opsview.httpauth`, shared with the exporter), /healthz,
and errors without stack traces."""

from __future__ import annotations

import logging

from dash.exceptions import DependencyException
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from opsview.freshness import Freshness
from opsview.httpauth import AuthSetupError, Credentials, authorized, resolve_credentials
from opsview.store.probe import StoreProbe
from opsview.web.context import WebContext

__all__ = ["HEALTHZ", "AuthSetupError", "Credentials", "authorized", "install", "resolve_credentials"]

log = logging.getLogger(__name__)

HEALTHZ = "/healthz"
_CREDENTIALS = "opsview.credentials"
WEB_USER = "web"


def request_user(server: Flask) -> str | None:
    """Who makes the current request, for what the dashboard writes (silences): the basic-auth user name,
    or "web" for a bearer token or when no [web.auth] is configured; None when [web.auth] is configured
    and the request does not pass it (the auth hook refuses such requests first; this checks again)."""
    creds: Credentials | None = server.extensions.get(_CREDENTIALS)
    if creds is None:
        return WEB_USER
    if not authorized(request.headers.get("Authorization"), creds):
        return None
    return (creds.username or WEB_USER) if creds.kind == "basic" else WEB_USER


def install(server: Flask, ctx: WebContext, creds: Credentials | None) -> None:
    server.config["PROPAGATE_EXCEPTIONS"] = False
    server.extensions[_CREDENTIALS] = creds

    def require_auth() -> Response | None:
        if creds is None or request.path == HEALTHZ or authorized(request.headers.get("Authorization"), creds):
            return None
        return Response("authentication required\n", 401, {"WWW-Authenticate": creds.challenge()},
                        mimetype="text/plain")

    # First, before Dash's own hooks, so an unauthenticated request never reaches a page or callback.
    server.before_request_funcs.setdefault(None, []).insert(0, require_auth)

    probe = StoreProbe(ctx.store)

    def healthz() -> tuple[Response, int]:
        # Not this server's own connections: they would answer from pages read before the file was
        # overwritten or replaced (see StoreProbe).
        problem = probe.problem()
        if problem is not None:
            return jsonify(status="error", store=problem), 503
        try:
            health = ctx.store.latest_health()
        except Exception:
            log.exception("healthz: store unreadable")
            return jsonify(status="error", store="unreadable"), 503
        # Stale data is still 200: the page is up and says STALE; pulling it from the load balancer
        # would hide that message. Monitors read `stale` (the TUI's rule, see opsview.freshness).
        fresh = Freshness.of(health, ctx.clock(), ctx.config.collect.interval)
        last = fresh.last_success
        return jsonify(
            status="ok", store="ok", stale=fresh.stale,
            last_success=last.isoformat().replace("+00:00", "Z") if last is not None else None,
            failing_sources=[p.label for p in fresh.problems],
        ), 200

    server.add_url_rule(HEALTHZ, "opsview_healthz", healthz, methods=["GET", "HEAD"])

    def on_error(exc: Exception) -> Response | HTTPException:
        if isinstance(exc, HTTPException):
            return exc
        if isinstance(exc, DependencyException):
            # Dash's answer to a /_dash-component-suites/ path that is no registered file (`../../etc/passwd`,
            # encoded or not): nothing is read outside the registry, and it is a 404, not a server fault.
            log.info("no such component file: %s", request.path)
            return Response("not found\n", 404, mimetype="text/plain")
        log.exception("request %s %s failed", request.method, request.path)
        return Response("internal error; details are in the server log\n", 500, mimetype="text/plain")

    server.register_error_handler(Exception, on_error)

    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    server.after_request(headers)
