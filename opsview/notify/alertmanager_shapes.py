"""Alertmanager's shapes, built from the notification opsview queued: the alerts of its API and its webhook payload
(`format = "alertmanager"` on a webhook). Pure: no I/O, so the webhook notifier and the Alertmanager notifier
share it without importing each other.

The client contract (https://prometheus.io/docs/alerting/latest/clients/): labels identify an alert; annotations
are informational and the latest win; clients re-send firing alerts while they are active (opsview: every
evaluation); endsAt is set when the end is known. Firing alerts go out with endsAt = evaluation + `valid_for`, as
Prometheus sends its ValidUntil, so an alert opsview stops re-sending resolves by itself; a resolve carries
endsAt = when it resolved. API: POST /api/v2/alerts with a JSON array
(https://prometheus.io/docs/alerting/latest/alerts_api/). Webhook payload: version "4", groupKey, status,
receiver, groupLabels, commonLabels, commonAnnotations, externalURL, alerts[] with fingerprint, truncatedAlerts
(https://prometheus.io/docs/alerting/latest/configuration/#webhook_config).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opsview.schema import FunctionKey

API_PATH = "/api/v2/alerts"
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager's webhook shows as the endsAt of a firing alert
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")
# opsview's group_by names -> the Alertmanager label that carries the same value
_GROUP_LABEL = {"rule": "alertname"}
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF  # prometheus/common model.SeparatorByte: cannot occur in UTF-8


def label_name(name: str) -> str:
    """A label name Alertmanager accepts (`[a-zA-Z_][a-zA-Z0-9_]*`): other characters become `_`, a leading
    digit gets one in front, as Prometheus does with names it cannot take."""
    clean = _NOT_LABEL_CHAR.sub("_", name)
    return clean if clean and not clean[0].isdigit() else "_" + clean


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's alert fingerprint: FNV-1a 64 over the sorted label names and values, each followed by the
    separator byte (prometheus/common `model.LabelSet.Fingerprint`), as 16 hex digits."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8"):
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def rfc3339(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AmAlert:
    """One alert as Alertmanager models it."""

    status: str  # firing | resolved
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None  # None: firing, end unknown
    generator_url: str

    def api_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": dict(self.labels), "annotations": dict(self.annotations),
                               "startsAt": rfc3339(self.starts_at)}
        if self.ends_at is not None:
            out["endsAt"] = rfc3339(self.ends_at)
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        return out

    def webhook_json(self) -> dict[str, Any]:
        return {
            "status": self.status, "labels": dict(self.labels), "annotations": dict(self.annotations),
            "startsAt": rfc3339(self.starts_at),
            "endsAt": rfc3339(self.ends_at) if self.ends_at is not None else GO_ZERO_TIME,
            "generatorURL": self.generator_url, "fingerprint": fingerprint(self.labels),
        }


def alertmanager_labels(alert: Mapping[str, Any]) -> dict[str, str]:
    """`alertname` (the rule), `severity`, `provider`, `account`, `region`, `function` (the name) and the rule's
    own labels (which never override those six)."""
    key = FunctionKey.parse(alert["function"])
    labels = {label_name(str(k)): str(v) for k, v in dict(alert.get("labels") or {}).items()}
    labels.update(alertname=alert["rule"], severity=alert["severity"], provider=key.provider, account=key.account,
                  region=key.region, function=key.name)
    return labels


def alerts_of(payload: Mapping[str, Any], valid_for: timedelta | None) -> list[AmAlert]:
    """The notification's alerts; a firing one ends `valid_for` after the evaluation (None: end unknown)."""
    at = datetime.fromisoformat(payload["at"])
    out = []
    for alert in payload.get("alerts", []):
        # Payloads queued before alerts carried their own state share the notification's status.
        status = str(alert.get("state") or payload.get("status", "firing"))
        annotations = {"summary": str(alert.get("summary") or "")}
        if alert.get("description"):
            annotations["description"] = str(alert["description"])
        since = alert.get("since")
        ends = at if status == "resolved" else (at + valid_for if valid_for is not None else None)
        out.append(AmAlert(status, alertmanager_labels(alert), annotations,
                           datetime.fromisoformat(since) if since else at, ends, str(alert.get("url") or "")))
    return out


def _label_set(labels: Mapping[str, str]) -> str:
    """`{name="value", ...}` sorted, as Alertmanager prints a label set in its group keys."""
    return "{" + ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted(labels.items())) + "}"


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    first = maps[0]
    return {k: v for k, v in first.items() if all(m.get(k) == v for m in maps[1:])}


def webhook_message(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The notification as Alertmanager's webhook sends it: one group, its firing alerts beside the resolved ones."""
    alerts = alerts_of(payload, None)
    receiver = str(payload.get("notifier", ""))
    group_labels: dict[str, str] = {}
    for name in dict(payload.get("group") or {}):
        label = _GROUP_LABEL.get(name, label_name(name))
        group_labels[label] = alerts[0].labels.get(label, "") if alerts else ""
    return {
        "version": "4",
        "groupKey": f"{{}}:{_label_set(group_labels)}",  # what Alertmanager's root route would name the group
        "truncatedAlerts": 0,
        "status": str(payload.get("status", "firing")),
        "receiver": receiver,
        "groupLabels": group_labels,
        "commonLabels": _common([a.labels for a in alerts]),
        "commonAnnotations": _common([a.annotations for a in alerts]),
        "externalURL": str(payload.get("external_url") or ""),
        "alerts": [a.webhook_json() for a in alerts],
    }

