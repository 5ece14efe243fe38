"""The notifier contract and the human text of a notification (the notifiers import this; `registry` builds them)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class DeliveryError(Exception):
    """A notification could not be delivered; the message is one line for the check summary."""


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

