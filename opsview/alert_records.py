"""Alert records as the store keeps them and the viewers (TUI, web) read them.

On the ground floor beside `opsview.schema`: the store writes and reads these records without
importing the alert engine, which sits above the store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsview.schema import FunctionKey


class AlertState(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """Current state of one (rule, function) pair."""

    rule: str
    key: FunctionKey
    state: AlertState
    severity: str
    since: datetime  # when it entered `state`
    active_since: datetime | None  # when the condition first held (pending or firing)
    value: float | None
    threshold: float
    op: str
    summary: str = ""
    silenced: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    evaluated_at: datetime | None = None  # last evaluation that saw this pair


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One state transition, for history views."""

    at: datetime
    rule: str
    key: FunctionKey
    from_state: AlertState
    to_state: AlertState
    value: float | None
    severity: str


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes notifications of one rule (optionally only for functions matching a glob) until `ends`."""

    id: int
    rule: str
    function: str  # glob over the function name or its provider/account/region/name text; "*" = all
    starts: datetime
    ends: datetime
    comment: str = ""
    created_by: str = ""

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.ends


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What a notifier was last told about one alert: the state, for which episode, and when."""

    notifier: str
    rule: str
    key: FunctionKey
    status: str  # firing | resolved
    active_since: datetime | None
    at: datetime


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification waiting to be delivered (or delivered: `delivered_at` set)."""

    id: int
    notifier: str
    status: str  # firing | resolved
    group: str
    payload: Mapping[str, Any]
    created: datetime
    attempts: int = 0
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AlertChanges:
    """Everything one evaluation writes, applied by the store in one transaction."""

    upsert: tuple[AlertRecord, ...] = ()
    delete: tuple[tuple[str, FunctionKey], ...] = ()  # back to inactive: record and ledger go
    events: tuple[AlertEvent, ...] = ()
    ledger: tuple[LedgerEntry, ...] = ()
    outbox: tuple[OutboxItem, ...] = ()  # ids are ignored; the store numbers them
    drop_rules_except: frozenset[str] | None = None  # forget state of rules no longer configured
