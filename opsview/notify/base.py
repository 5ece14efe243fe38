"""The notifier contract and the human text of a notification (the notifiers import this; `registry` builds them)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any, Protocol


class DeliveryError(Exception):
    """A notification could not be delivered; the message is one line for the check summary."""


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


def safe_url(url: str) -> str:
    """The URL without credentials or query string (which often carries a token)."""
    parsed = urllib.parse.urlsplit(url)
    host = parsed.hostname or ""
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{host}{port}{parsed.path}"
