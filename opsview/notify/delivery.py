"""Deliver the store's outbox: retries with backoff now, and whatever still fails waits for the next check.

Delivery is at-least-once. A notification is marked delivered right after its receiver accepted it, so a
later check never sends it again; per notifier, delivery stops at the first failure so a resolve never
overtakes its firing. A receiver that does not answer within the timeout may have got it anyway (it was slow,
not down): that notification is not retried within the same check, and the next check sends it again. Every
attempt carries the notification's stable id (`notification_id`: the payload's `id`, a webhook's
`Idempotency-Key`), so a receiver drops the copies a timeout or a crash between sending and marking causes.
A notifier with several receivers (Alertmanager replicas) delivers when one accepts; the others' failures
are reported beside the delivery.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tenacity import Retrying, retry_if_not_exception_type, stop_after_attempt, wait_exponential

from opsview.alert_records import OutboxItem
from opsview.config.alerts import NotifierConfig
from opsview.formatting import one_line
from opsview.notify.base import DeliveryTimeout, Notifier, PartialDelivery
from opsview.notify.registry import build_notifier
from opsview.schema import utcnow
from opsview.store.base import AlertStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # still undelivered after this run; retried by the next check
    errors: tuple[str, ...] = field(default_factory=tuple)


def notification_id(item: OutboxItem) -> str:
    """The notification's id, the same on every attempt in every check: a UUID (version 4 in form, as most
    receivers validate Idempotency-Key values) derived from its outbox row; the row's creation time makes two
    stores' row 1 differ."""
    row = f"{item.id}\n{item.notifier}\n{item.created.isoformat()}\n{item.status}\n{item.group}"
    return str(uuid.UUID(bytes=hashlib.sha256(row.encode("utf-8")).digest()[:16], version=4))


def _send(notifier: Notifier, payload: Mapping[str, Any]) -> str | None:
    """Deliver; a partial delivery is a delivery (not retried), returned as its one-line note."""
    try:
        notifier.send(payload)
    except PartialDelivery as partial:
        return one_line(partial)
    return None


def deliver_pending(
    store: AlertStore,
    notifiers: Mapping[str, NotifierConfig],
    *,
    now: Callable[[], datetime] = utcnow,
    sleep: Callable[[float], None] = time.sleep,
    build: Callable[[NotifierConfig], Notifier] = build_notifier,
) -> DeliveryReport:
    sent = 0
    failed = 0
    errors: list[str] = []
    blocked: set[str] = set()
    built: dict[str, Notifier] = {}
    for item in store.outbox(undelivered=True):
        config = notifiers.get(item.notifier)
        if config is None:
            failed += 1
            message = f"{item.notifier}: notifier no longer configured; notification #{item.id} kept undelivered"
            if message not in errors:
                errors.append(message)
            continue
        if item.notifier in blocked:
            failed += 1
            continue
        note: str | None = None
        payload = {**item.payload, "id": notification_id(item)}
        try:
            notifier = built.get(item.notifier) or built.setdefault(item.notifier, build(config))
            for attempt in Retrying(
                stop=stop_after_attempt(config.retries + 1),
                wait=wait_exponential(multiplier=config.backoff.total_seconds(), max=60),
                retry=retry_if_not_exception_type(DeliveryTimeout),  # it may have arrived: the next check retries
                sleep=sleep,
                reraise=True,
            ):
                with attempt:
                    note = _send(notifier, payload)
        except Exception as exc:
            log.warning("notification #%s to %s failed: %s", item.id, item.notifier, exc,
                        exc_info=not isinstance(exc, DeliveryTimeout))
            message = f"{item.notifier}: {one_line(exc)}"
            store.mark_outbox(item.id, now(), message)
            errors.append(message)
            blocked.add(item.notifier)
            failed += 1
            continue
        store.mark_outbox(item.id, now())
        sent += 1
        if note is not None:
            log.warning("notification #%s to %s delivered, not everywhere: %s", item.id, item.notifier, note)
            message = f"{item.notifier}: {note}"
            if message not in errors:
                errors.append(message)
    return DeliveryReport(sent, failed, tuple(errors))
