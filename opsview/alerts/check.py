"""`opsview check` without the CLI: lock, optionally collect, evaluate, deliver, and the plugin exit code."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from opsview.alert_records import AlertState
from opsview.alerts.engine import Evaluation, evaluate
from opsview.config import Config, RuleConfig
from opsview.notify.delivery import DeliveryReport, deliver_pending
from opsview.schema import utcnow
from opsview.store.base import AlertStore, Store

LOCK_NAME = "check"
LOCK_TTL = timedelta(minutes=15)


class ExitCode(IntEnum):
    """The monitoring-plugin convention (Nagios, Icinga, Sensu)."""

    OK = 0
    WARNING = 1
    CRITICAL = 2
    UNKNOWN = 3


class LockBusyError(Exception):
    """Another check holds the store's check lock."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    evaluation: Evaluation
    delivery: DeliveryReport
    source_errors: tuple[str, ...] = ()
    sources: int = 0
    sources_failed: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def exit_code(self) -> ExitCode:
        if self.sources and self.sources_failed == self.sources:
            return ExitCode.UNKNOWN
        if self.evaluation.errors and len(self.evaluation.errors) >= self.evaluation.rules:
            return ExitCode.UNKNOWN
        if self.evaluation.firing("critical"):
            return ExitCode.CRITICAL
        if self.evaluation.firing("warning"):
            return ExitCode.WARNING
        return ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        ev = self.evaluation
        return {
            "status": self.exit_code.name,
            "exit_code": int(self.exit_code),
            "at": ev.at.isoformat(),
            "rules": ev.rules,
            "functions": ev.functions,
            "firing": len(ev.firing()),
            "pending": sum(1 for r in ev.records if r.state is AlertState.PENDING),
            "alerts": [
                {
                    "rule": r.rule, "function": str(r.key), "state": str(r.state), "severity": r.severity,
                    "value": r.value, "op": r.op, "threshold": r.threshold,
                    "active_since": r.active_since.isoformat() if r.active_since else None,
                    "since": r.since.isoformat(), "silenced": r.silenced, "summary": r.summary,
                }
                for r in ev.records
            ],
            "notifications": {
                "queued": len(ev.queued), "sent": self.delivery.sent, "undelivered": self.delivery.failed,
                "errors": list(self.delivery.errors),
            },
            "sources": {"collected": self.sources, "failed": self.sources_failed, "errors": list(self.source_errors)},
            "rule_errors": list(ev.errors),
        }


def lock_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(store: AlertStore, owner: str, wait: timedelta, sleep: Callable[[float], None] = time.sleep) -> None:
    deadline = time.monotonic() + wait.total_seconds()
    while not store.acquire_lock(LOCK_NAME, owner, utcnow(), LOCK_TTL):
        if time.monotonic() >= deadline:
            holder = store.lock_owner(LOCK_NAME) or "another check"
            raise LockBusyError(f"another check is running ({holder}); waited {int(wait.total_seconds())}s")
        sleep(0.2)


def run_check(
    config: Config,
    rules: list[RuleConfig],
    store: Store,
    *,
    collect: bool,
    now: datetime | None = None,
    lock_wait: timedelta | None = None,
) -> CheckResult:
    """Everything under the lock, so two overlapping checks never queue or send the same notification."""
    owner = lock_owner_id()
    acquire(store, owner, lock_wait if lock_wait is not None else config.alerts.lock_wait)
    try:
        sources = 0
        failed = 0
        source_errors: list[str] = []
        if collect and config.sources.all():
            from opsview.collect import CollectionRunner

            with CollectionRunner(config, store) as runner:
                reports = runner.run()
            sources = len(reports)
            for report in reports:
                if not report.ok:
                    failed += 1
                    source_errors.extend(f"{report.source}: {e}" for e in report.errors)
        evaluation = evaluate(
            rules, store, now or utcnow(), notifiers=config.notifiers, pricing=config.pricing,
            resolved_retention=config.alerts.resolved_retention, public_url=config.web.public_url,
        )
        delivery = deliver_pending(store, config.notifiers)
    finally:
        store.release_lock(LOCK_NAME, owner)
    return CheckResult(evaluation, delivery, tuple(source_errors), sources, failed)
