"""Which notifier serves each `type` of a `[notifiers.<name>]` table: adding one is one entry in NOTIFIERS.

This module sits above the concrete notifiers, which import only `notify.base` (the contract and the
message text), so no import runs in a circle; an import-linter contract keeps it that way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from opsview.config.alerts import NotifierConfig
from opsview.notify.alertmanager import AlertmanagerNotifier
from opsview.notify.apprise_notifier import AppriseNotifier
from opsview.notify.base import Notifier
from opsview.notify.stream import JsonlNotifier, StdoutNotifier
from opsview.notify.webhook import WebhookNotifier

NOTIFIERS: Final[Mapping[str, Callable[[NotifierConfig], Notifier]]] = {
    "webhook": WebhookNotifier,
    "apprise": AppriseNotifier,
    "stdout": StdoutNotifier,
    "jsonl": JsonlNotifier,
    "alertmanager": AlertmanagerNotifier,
}


def build_notifier(config: NotifierConfig) -> Notifier:
    return NOTIFIERS[config.type](config)
