"""Deciding what to tell whom: per-notifier dedupe (the ledger), repeat_interval, send_resolved and group_by.

What is decided is queued in the store's outbox in the same transaction as the state change, so a
notification is never lost between evaluation and delivery, and never queued twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsview.alert_records import AlertRecord, AlertState, LedgerEntry, OutboxItem
from opsview.config.alerts import NotifierConfig, RuleConfig
from opsview.schema import FunctionKey

_SEVERITY_ORDER = {"warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Plan:
    ledger: tuple[LedgerEntry, ...]
    outbox: tuple[OutboxItem, ...]


def alert_labels(record: AlertRecord) -> dict[str, str]:
    key = record.key
    return {
        **dict(record.labels),
        "rule": record.rule, "severity": record.severity, "provider": key.provider, "account": key.account,
        "region": key.region, "function": str(key),
    }


def _alert_json(record: AlertRecord) -> dict[str, Any]:
    return {
        "function": str(record.key),
        "rule": record.rule,
        "severity": record.severity,
        "value": record.value,
        "threshold": record.threshold,
        "op": record.op,
        "since": record.active_since.isoformat() if record.active_since else None,
        "summary": record.summary,
        "description": record.description,
        "labels": dict(record.labels),
    }


def plan_notifications(
    records: Sequence[AlertRecord],
    rules: Mapping[str, RuleConfig],
    notifiers: Mapping[str, NotifierConfig],
    ledger: Mapping[tuple[str, str, FunctionKey], LedgerEntry],
    now: datetime,
) -> Plan:
    updates: list[LedgerEntry] = []
    groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[AlertRecord]] = {}
    for record in records:
        rule = rules.get(record.rule)
        if rule is None or record.silenced or record.state not in (AlertState.FIRING, AlertState.RESOLVED):
            continue
        for name in rule.notify:
            notifier = notifiers.get(name)
            if notifier is None:
                continue
            entry = ledger.get((name, record.rule, record.key))
            if record.state is AlertState.FIRING:
                due = (
                    entry is None
                    or entry.status != "firing"
                    or entry.active_since != record.active_since
                    or now - entry.at >= notifier.repeat_interval
                )
                status = "firing"
            else:
                due = entry is not None and entry.status == "firing"
                status = "resolved"
            if not due:
                continue
            updates.append(LedgerEntry(name, record.rule, record.key, status, record.active_since, now))
            if status == "resolved" and not notifier.send_resolved:
                continue
            labels = alert_labels(record)
            group = tuple((label, labels.get(label, "")) for label in notifier.group_by)
            groups.setdefault((name, status, group), []).append(record)
    outbox = []
    for (name, status, group), members in sorted(groups.items()):
        rule_names = sorted({m.rule for m in members})
        severity = max((m.severity for m in members), key=lambda s: _SEVERITY_ORDER.get(s, 0))
        payload = {
            "status": status,
            "rule": ", ".join(rule_names),
            "severity": severity,
            "group": dict(group),
            "notifier": name,
            "at": now.isoformat(),
            "alerts": [_alert_json(m) for m in sorted(members, key=lambda m: (m.rule, m.key))],
        }
        group_text = ",".join(f"{k}={v}" for k, v in group)
        outbox.append(OutboxItem(0, name, status, group_text, payload, now))
    return Plan(tuple(updates), tuple(outbox))
