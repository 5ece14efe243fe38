"""Flask-level hooks on the Dash server: authentication, /healthz, and errors without stack traces."""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from opsview.config.views import WebAuthConfig
from opsview.freshness import Freshness
from opsview.web.context import WebContext

log = logging.getLogger(__name__)

HEALTHZ = "/healthz"


class AuthSetupError(ValueError):
    """[web.auth] cannot be used as configured; the message names the key."""


@dataclass(frozen=True, slots=True)
class Credentials:
    kind: str  # basic | bearer
    username: str | None
    secret: str

    def __repr__(self) -> str:  # never let a secret reach a log line
        return f"Credentials(kind={self.kind!r}, username={self.username!r}, secret=***)"


def resolve_credentials(auth: WebAuthConfig | None, environ: Mapping[str, str]) -> Credentials | None:
    """Read the secret named by [web.auth] from the environment (never from the file)."""
    if auth is None:
        return None
    env_key, field = (auth.password_env, "password_env") if auth.type == "basic" else (auth.token_env, "token_env")
    if not env_key:
        raise AuthSetupError(f"web.auth.{field}: required for {auth.type} auth")
    secret = environ.get(env_key, "")
    if not secret:
        raise AuthSetupError(f"web.auth.{field}: environment variable {env_key} is not set or empty")
    if auth.type == "basic" and not auth.username:
        raise AuthSetupError("web.auth.username: required for basic auth")
    return Credentials(auth.type, auth.username, secret)


def authorized(header: str | None, creds: Credentials) -> bool:
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    if creds.kind == "bearer":
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), creds.secret.encode())
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Compare both parts every time so timing does not tell which one was wrong.
    ok_user = hmac.compare_digest(user.encode(), (creds.username or "").encode())
    ok_password = hmac.compare_digest(password.encode(), creds.secret.encode())
    return ok_user and ok_password


def install(server: Flask, ctx: WebContext, creds: Credentials | None) -> None:
    server.config["PROPAGATE_EXCEPTIONS"] = False

    def require_auth() -> Response | None:
        if creds is None or request.path == HEALTHZ or authorized(request.headers.get("Authorization"), creds):
            return None
        challenge = 'Basic realm="opsview", charset="UTF-8"' if creds.kind == "basic" else 'Bearer realm="opsview"'
        return Response("authentication required\n", 401, {"WWW-Authenticate": challenge},
                        mimetype="text/plain")

    # First, before Dash's own hooks, so an unauthenticated request never reaches a page or callback.
    server.before_request_funcs.setdefault(None, []).insert(0, require_auth)

    def healthz() -> tuple[Response, int]:
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
        log.exception("request %s %s failed", request.method, request.path)
        return Response("internal error; details are in the server log\n", 500, mimetype="text/plain")

    server.register_error_handler(Exception, on_error)

    def headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    server.after_request(headers)
