"""Who may read what opsview serves over HTTP: `[web.auth]` (basic or bearer, the secret from the environment),
checked alike by the dashboard (a Flask hook) and the exporter (a WSGI wrapper), and the rule for binding beyond
loopback. No web framework here: `opsview exporter` must not import Flask or Dash.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import ipaddress
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsview.config.views import WebAuthConfig
from opsview.redact import remember

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class AuthSetupError(ValueError):
    """[web.auth] cannot be used as configured; the message names the key."""


@dataclass(frozen=True, slots=True)
class Credentials:
    kind: str  # basic | bearer
    username: str | None
    secret: str

    def __repr__(self) -> str:  # never let a secret reach a log line
        return f"Credentials(kind={self.kind!r}, username={self.username!r}, secret=***)"

    def challenge(self) -> str:
        return 'Basic realm="opsview", charset="UTF-8"' if self.kind == "basic" else 'Bearer realm="opsview"'


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
    remember(secret)
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


def require_auth(app: WsgiApp, creds: Credentials | None, open_paths: Collection[str] = ()) -> WsgiApp:
    """`app` behind the credentials (401 with a challenge without them); `open_paths` (health checks) stay open."""
    if creds is None:
        return app

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") in open_paths or authorized(environ.get("HTTP_AUTHORIZATION"), creds):
            return app(environ, start_response)
        start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8"),
                                            ("WWW-Authenticate", creds.challenge())])
        return [b"authentication required\n"]

    return guarded


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def exposure_problem(host: str, auth: WebAuthConfig | None, insecure: bool, what: str = "the dashboard") -> str | None:
    """Why binding `host` is refused, or None when it is allowed."""
    if is_loopback(host) or auth is not None or insecure:
        return None
    return (f"binding to {host} would expose {what} without authentication: "
            "configure [web.auth] (basic or bearer) or pass --insecure")
