"""Deciding what to tell whom: per-notifier dedupe (the ledger), repeat_interval, send_resolved and group_by.

What is decided is queued in the store's outbox in the same transaction as the state change, so a
notification is never lost between evaluation and delivery, and never queued twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

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


def function_url(public_url: str, key: FunctionKey) -> str:
    """The function's page on the web dashboard (`/function/<key>`, the key one URL segment, as the web links it)."""
    return f"{public_url.rstrip('/')}/function/{quote(str(key), safe='')}"


def _group_of(record: AlertRecord, notifier: NotifierConfig) -> tuple[tuple[str, str], ...]:
    labels = alert_labels(record)
    return tuple((label, labels.get(label, "")) for label in notifier.group_by)


def _whole_groups(notifier: NotifierConfig) -> bool:
    """Alertmanager-shaped notifications carry every firing alert of their group beside the resolved ones, as
    Alertmanager's own do: a receiver that reads status "resolved" for a group key closes the whole incident."""
    return notifier.type == "alertmanager" or notifier.format == "alertmanager"


def _alert_json(record: AlertRecord, public_url: str | None) -> dict[str, Any]:
    return {
        "function": str(record.key),
        "state": str(record.state),
        "rule": record.rule,
        "severity": record.severity,
        "value": record.value,
        "threshold": record.threshold,
        "op": record.op,
        "since": record.active_since.isoformat() if record.active_since else None,
        "summary": record.summary,
        "description": record.description,
        "labels": dict(record.labels),
        **({"url": function_url(public_url, record.key)} if public_url else {}),
    }


def plan_notifications(
    records: Sequence[AlertRecord],
    rules: Mapping[str, RuleConfig],
    notifiers: Mapping[str, NotifierConfig],
    ledger: Mapping[tuple[str, str, FunctionKey], LedgerEntry],
    now: datetime,
    public_url: str | None = None,
) -> Plan:
    updates: list[LedgerEntry] = []
    groups: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[AlertRecord]] = {}
    firing: dict[tuple[str, tuple[tuple[str, str], ...]], list[AlertRecord]] = {}  # of whole-group notifiers
    for record in records:
        rule = rules.get(record.rule)
        if rule is None or record.state not in (AlertState.FIRING, AlertState.RESOLVED):
            continue
        for name in rule.notify:
            notifier = notifiers.get(name)
            # opsview's silences mute its own notifiers; Alertmanager keeps hearing of every alert and applies its
            # own silences (were the alert withheld, it would read the silence as a resolve once endsAt passed).
            if notifier is None or (record.silenced and notifier.type != "alertmanager"):
                continue
            whole = _whole_groups(notifier)
            group = _group_of(record, notifier) if whole else None
            if group is not None and record.state is AlertState.FIRING:
                firing.setdefault((name, group), []).append(record)
            entry = ledger.get((name, record.rule, record.key))
            if record.state is AlertState.FIRING:
                due = (
                    entry is None
                    or entry.status != "firing"
                    or entry.active_since != record.active_since
                    or notifier.type == "alertmanager"  # re-sent every evaluation: Alertmanager's contract
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
            if group is None:
                group = _group_of(record, notifier)
            groups.setdefault((name, "" if whole else status, group), []).append(record)
    outbox = []
    for (name, grouped_status, group), queued in sorted(groups.items()):
        members = queued
        status = grouped_status
        if not grouped_status:  # a whole group: what is due plus whatever else of it still fires
            seen = {(m.rule, m.key) for m in queued}
            members = queued + [m for m in firing.get((name, group), []) if (m.rule, m.key) not in seen]
            status = "firing" if any(m.state is AlertState.FIRING for m in members) else "resolved"
        rule_names = sorted({m.rule for m in members})
        severity = max((m.severity for m in members), key=lambda s: _SEVERITY_ORDER.get(s, 0))
        payload = {
            "status": status,
            "rule": ", ".join(rule_names),
            "severity": severity,
            "group": dict(group),
            "notifier": name,
            "at": now.isoformat(),
            "alerts": [_alert_json(m, public_url) for m in sorted(members, key=lambda m: (m.rule, m.key))],
            **({"external_url": public_url} if public_url else {}),
        }
        group_text = ",".join(f"{k}={v}" for k, v in group)
        outbox.append(OutboxItem(0, name, status, group_text, payload, now))
    return Plan(tuple(updates), tuple(outbox))
