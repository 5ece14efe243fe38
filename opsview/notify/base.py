"""The notifier contract and the human text of a notification (the notifiers import this; `registry` builds them)."""

from __future__ import annotations

import base64
import urllib.error
import urllib.parse
from collections.abc import Mapping
from typing import Any, Protocol


class DeliveryError(Exception):
    """A notification could not be delivered; the message is one line for the check summary."""


class DeliveryTimeout(DeliveryError):  # noqa: N818 - a DeliveryError, named for what happened
    """The receiver did not answer within the timeout: it may have got the notification. Not retried within the
    same check (a slow receiver would get every retry too); the next check sends it again, with the same id."""


class PartialDelivery(Exception):  # noqa: N818 - not an error: the notification was delivered
    """Some receivers of one notifier (Alertmanager replicas) accepted the notification and some did not: it counts
    as delivered, and the message (one line) names the receivers that failed."""


class Notifier(Protocol):
    def send(self, payload: Mapping[str, Any]) -> None:
        """Deliver one notification or raise DeliveryError (or any exception, which counts as a failure)."""


def title(payload: Mapping[str, Any]) -> str:
    alerts = payload.get("alerts", [])
    status = str(payload.get("status", "")).upper()
    return f"[{status}:{len(alerts)}] {payload.get('rule', '')} ({payload.get('severity', '')})"


def body(payload: Mapping[str, Any]) -> str:
    lines = []
    for alert in payload.get("alerts", []):
        summary = alert.get("summary") or alert.get("function", "")
        lines.append(f"- {summary}")
    return "\n".join(lines)


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """`https://user:password@host/path` -> the URL without its userinfo, and the HTTP basic `Authorization` header
    it stood for (RFC 7617: `user:password`, UTF-8, base64; userinfo is percent-encoded per RFC 3986 3.2.1).
    urllib would otherwise take `user:password@host` for the host name, and never deliver."""
    parts = urllib.parse.urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{urllib.parse.unquote(user)}:{urllib.parse.unquote(password)}".encode()
    bare = urllib.parse.urlunsplit(parts._replace(netloc=hostport))
    return bare, {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def timed_out(exc: BaseException) -> bool:
    """The receiver did not answer in time (connecting, sending, or waiting for the answer): the request may
    have arrived, so it is not sent again within this check."""
    reason = getattr(exc, "reason", None) if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, TimeoutError)
