"""The notifier contract and the human text of a notification."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from opsview.config.alerts import NotifierConfig


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


def build_notifier(config: NotifierConfig) -> Notifier:
    if config.type == "webhook":
        from opsview.notify.webhook import WebhookNotifier

        return WebhookNotifier(config)
    if config.type == "apprise":
        from opsview.notify.apprise_notifier import AppriseNotifier

        return AppriseNotifier(config)
    if config.type == "alertmanager":
        from opsview.notify.alertmanager import AlertmanagerNotifier

        return AlertmanagerNotifier(config)
    from opsview.notify.stream import JsonlNotifier, StdoutNotifier

    if config.type == "jsonl":
        return JsonlNotifier(config)
    return StdoutNotifier()
