"""The per-(rule, function) state machine: inactive -> pending -> firing -> resolved (Prometheus semantics).

Pure functions of the previous record, one observation and the time, so tests drive them with injected time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from opsview.alert_records import AlertEvent, AlertRecord, AlertState
from opsview.schema import FunctionKey


@dataclass(frozen=True, slots=True)
class Observation:
    """What one evaluation saw for one (rule, function).

    `breaching` is None when the data is missing and the rule says `missing = "ignore"`: the state is kept.
    """

    breaching: bool | None
    value: float | None


@dataclass(frozen=True, slots=True)
class RuleFacts:
    """The parts of a rule the state machine needs."""

    name: str
    severity: str
    op: str
    threshold: float
    for_: timedelta


@dataclass(frozen=True, slots=True)
class Step:
    record: AlertRecord | None  # None = inactive (no row kept)
    event: AlertEvent | None


def step(
    prev: AlertRecord | None,
    obs: Observation,
    rule: RuleFacts,
    key: FunctionKey,
    now: datetime,
    resolved_retention: timedelta,
) -> Step:
    state = prev.state if prev is not None else AlertState.INACTIVE

    def to(new_state: AlertState, active_since: datetime | None, since: datetime | None = None) -> Step:
        changed = new_state != state
        record = AlertRecord(
            rule=rule.name, key=key, state=new_state, severity=rule.severity,
            since=now if changed or prev is None else (since or prev.since), active_since=active_since,
            value=obs.value, threshold=rule.threshold, op=rule.op, evaluated_at=now,
        )
        event = AlertEvent(now, rule.name, key, state, new_state, obs.value, rule.severity) if changed else None
        return Step(record, event)

    def inactive(with_event: bool) -> Step:
        if prev is None:
            return Step(None, None)
        event = AlertEvent(now, rule.name, key, state, AlertState.INACTIVE, obs.value, rule.severity)
        return Step(None, event if with_event else None)

    if obs.breaching is None:
        if prev is None:
            return Step(None, None)
        if state is AlertState.RESOLVED and now - prev.since >= resolved_retention:
            return inactive(with_event=False)
        kept = replace(prev, evaluated_at=now, value=None, severity=rule.severity, threshold=rule.threshold, op=rule.op)
        return Step(kept, None)

    if obs.breaching:
        if state in (AlertState.INACTIVE, AlertState.RESOLVED) or prev is None:
            return to(AlertState.FIRING if rule.for_ <= timedelta(0) else AlertState.PENDING, now)
        active_since = prev.active_since or now
        if state is AlertState.PENDING:
            return to(AlertState.FIRING if now - active_since >= rule.for_ else AlertState.PENDING, active_since)
        return to(AlertState.FIRING, active_since)

    if state is AlertState.PENDING:
        return inactive(with_event=True)
    if state is AlertState.FIRING:
        assert prev is not None
        return to(AlertState.RESOLVED, prev.active_since)
    if state is AlertState.RESOLVED:
        assert prev is not None
        if now - prev.since >= resolved_retention:
            return inactive(with_event=False)
        return to(AlertState.RESOLVED, prev.active_since)
    return Step(None, None)
