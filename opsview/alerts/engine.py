"""One evaluation of every rule over the fleet, with the time passed in.

The reads come from `opsview.alerts.windows` (each window and M-of-N step once, for every function, as numpy
columns); rules here compare whole columns, and only breaching or already-active (rule, function) pairs
reach the state machine (`opsview.alerts.state`).
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState, OutboxItem, Silence
from opsview.alerts.matching import silenced_by
from opsview.alerts.notifications import plan_notifications
from opsview.alerts.state import Observation, RuleFacts, step
from opsview.alerts.templating import error_fields, record_fields, render, rule_fields
from opsview.alerts.windows import Bools, FleetColumns, Floats, read_needs
from opsview.config.alerts import NotifierConfig, RuleConfig
from opsview.config.models import PricingConfig
from opsview.error_records import SignatureSummary
from opsview.schema import FunctionKey
from opsview.store.base import Store

log = logging.getLogger(__name__)

OPS: Mapping[str, Callable[[Floats, float], Bools]] = {
    ">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "==": np.equal, "!=": np.not_equal,
}
SCALAR_OPS: Mapping[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
DEFAULT_RESOLVED_RETENTION = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """What one evaluation found and wrote."""

    at: datetime
    records: tuple[AlertRecord, ...]  # every pair not inactive, after this evaluation
    events: tuple[AlertEvent, ...]  # transitions made by this evaluation
    queued: tuple[OutboxItem, ...]  # notifications queued by this evaluation
    rules: int = 0
    functions: int = 0
    errors: tuple[str, ...] = field(default_factory=tuple)  # rules that could not be evaluated

    def firing(self, severity: str | None = None) -> list[AlertRecord]:
        return [
            r for r in self.records
            if r.state is AlertState.FIRING and (severity is None or r.severity == severity)
        ]


@dataclass(frozen=True, slots=True)
class _Verdict:
    breaching: Bools  # condition holds
    missing: Bools  # no data and missing = "ignore": keep state
    value: Floats  # shown value (NaN = none)
    errors: Mapping[FunctionKey, SignatureSummary] = field(default_factory=dict)  # new_error: what is new


def _verdict(rule: RuleConfig, fleet: FleetColumns) -> _Verdict:
    if rule.kind == "new_error":
        return _new_error_verdict(rule, fleet)
    now = fleet.now
    compare = OPS[rule.op]
    m_of_n = rule.m_of_n
    if m_of_n is None:
        value = fleet.values(rule.measure, now - rule.window, now)
        absent = np.isnan(value)
        with np.errstate(invalid="ignore"):
            breaching = compare(value, rule.threshold) & ~absent
    else:
        m, n = m_of_n
        points = fleet.bucket_values(rule.measure, rule.window, n)
        present = ~np.isnan(points)
        with np.errstate(invalid="ignore"):
            hits = compare(points, rule.threshold) & present
        if rule.missing == "breaching":
            hits |= ~present
        breaching = np.asarray(hits.sum(axis=1) >= m, dtype=bool)
        absent = np.asarray(~present.any(axis=1), dtype=bool)
        # The newest datapoint that has data is the value people want to see.
        first = np.where(present.any(axis=1), present.argmax(axis=1), 0)
        value = np.where(absent, np.nan, points[np.arange(points.shape[0]), first])
    if rule.missing == "breaching":
        breaching = breaching | absent
        missing = np.zeros_like(absent)
    elif rule.missing == "ok":
        missing = np.zeros_like(absent)
    else:
        missing = absent
    if rule.previous is not None:
        prev = rule.previous
        earlier = fleet.values(rule.measure, now - rule.window - prev.window, now - rule.window)
        with np.errstate(invalid="ignore"):
            applies = OPS[prev.op](earlier, prev.threshold) & ~np.isnan(earlier)
        # Where the earlier span did not qualify the rule does not apply: that is "ok", not "unknown".
        breaching = breaching & applies
        missing = missing & applies
    return _Verdict(breaching, missing, value)


def _new_error_verdict(rule: RuleConfig, fleet: FleetColumns) -> _Verdict:
    """Breaching where a function has a signature first seen within the window, at least min_count times; the
    value is the most frequent such signature's count. One store read for the whole fleet."""
    found = fleet.store.fleet_errors(fleet.now - rule.window, fleet.now, new_only=True, min_count=rule.min_count)
    breaching = np.zeros(len(fleet.infos), dtype=bool)
    value = np.full(len(fleet.infos), np.nan)
    top: dict[FunctionKey, SignatureSummary] = {}
    for summary in found:  # most frequent first: the first of each function is its top one
        i = fleet.index.get(summary.key)
        if i is not None and summary.key not in top:
            top[summary.key] = summary
            breaching[i] = True
            value[i] = summary.count
    return _Verdict(breaching, np.zeros_like(breaching), value, top)


class _Annotator:
    """Fills one rule's summary, description, labels and silence flag into its records.

    Built once per rule and evaluation: thousands of records per evaluation share its templates,
    window text, labels and silences.
    """

    def __init__(self, rule: RuleConfig, silences: Sequence[Silence], now: datetime) -> None:
        self.rule = rule
        new_error = rule.kind == "new_error"
        self.summary = rule.annotations.get(
            "summary",
            "{function}: new error type {signature} ({value:.0f} in {window})" if new_error
            else "{function}: {measure} {condition} over {window}",
        )
        self.description = rule.annotations.get("description", "{sample}" if new_error else "")
        self.fields = rule_fields(rule.name, rule.severity, rule.measure, rule.threshold, rule.window, rule.op)
        self.labels = dict(rule.labels)  # one shared mapping: the store serialises it once per rule
        self.silences = [s for s in silences if s.active(now)]
        self.errors: Mapping[FunctionKey, SignatureSummary] = {}  # new_error rules: each function's new signature

    def __call__(self, record: AlertRecord, prev: AlertRecord | None = None) -> AlertRecord:
        rule = self.rule
        fields = record_fields(self.fields, record.key, record.value, record.state)
        silenced = bool(self.silences) and silenced_by(rule.name, record.key, self.silences) is not None
        new = self.errors.get(record.key)
        if new is not None:
            fields = error_fields(fields, new.signature, new.sample, new.sample_id)
        elif rule.kind == "new_error" and prev is not None:  # resolving: it still names what it was about
            return replace(record, summary=prev.summary, description=prev.description, labels=self.labels,
                           silenced=silenced)
        return AlertRecord(
            rule=record.rule, key=record.key, state=record.state, severity=record.severity, since=record.since,
            active_since=record.active_since, value=record.value, threshold=record.threshold, op=record.op,
            summary=render(self.summary, fields),
            silenced=silenced,
            labels=self.labels,
            description=render(self.description, fields) if self.description else "",
            evaluated_at=record.evaluated_at,
        )


def evaluate(
    rules: Sequence[RuleConfig],
    store: Store,
    now: datetime,
    *,
    notifiers: Mapping[str, NotifierConfig] | None = None,
    pricing: PricingConfig | None = None,
    resolved_retention: timedelta = DEFAULT_RESOLVED_RETENTION,
    forget_unknown_rules: bool = True,
    public_url: str | None = None,
) -> Evaluation:
    """Evaluate every rule at `now`, persist the new states and queue due notifications.

    Call it under the store's "check" lock when notifiers are given (see `opsview check`). `public_url` (the web
    dashboard's address) puts a link to each function's page into the notifications.
    """
    if now.tzinfo is None:
        raise ValueError("evaluate() needs a timezone-aware `now`")
    infos = store.functions()
    fleet = FleetColumns(store, now, infos, pricing, *read_needs(rules, now))
    fleet.prefetch()
    fleet.wait()
    silences = store.silences(active_at=now)
    existing: dict[str, dict[FunctionKey, AlertRecord]] = {}
    for rec in store.alert_records():
        existing.setdefault(rec.rule, {})[rec.key] = rec

    upsert: list[AlertRecord] = []
    delete: list[tuple[str, FunctionKey]] = []
    events: list[AlertEvent] = []
    final: list[AlertRecord] = []
    errors: list[str] = []
    for rule in rules:
        facts = RuleFacts(rule.name, rule.severity, rule.op, rule.threshold, rule.for_)
        annotate = _Annotator(rule, silences, now)
        try:
            verdict = _verdict(rule, fleet)
            annotate.errors = verdict.errors
            mask = fleet.mask(rule)
        except Exception as exc:  # one broken rule never stops the others
            log.exception("rule %s failed", rule.name)
            errors.append(f"rule {rule.name!r}: {exc}")
            final.extend(existing.get(rule.name, {}).values())
            continue
        known = existing.get(rule.name, {})
        candidates = set(np.flatnonzero(mask & (verdict.breaching | verdict.missing)).tolist())
        for key in known:
            i = fleet.index.get(key)
            if i is not None:
                candidates.add(i)
        for key, gone in known.items():
            if key not in fleet.index:  # the function is gone from the store: its alert resolves
                result = step(gone, Observation(False, None), facts, key, now, resolved_retention)
                _collect(rule, result.record, result.event, gone, key, annotate, upsert, delete, events, final)
        for i in sorted(candidates):
            key = infos[i].key
            prev = known.get(key)
            value = verdict.value[i]
            shown = None if np.isnan(value) else float(value)
            if not mask[i]:
                obs = Observation(False, shown)
            elif verdict.missing[i]:
                obs = Observation(None, shown)
            else:
                obs = Observation(bool(verdict.breaching[i]), shown)
            if prev is None and not obs.breaching:
                continue
            result = step(prev, obs, facts, key, now, resolved_retention)
            _collect(rule, result.record, result.event, prev, key, annotate, upsert, delete, events, final)

    plan = plan_notifications(
        final,
        {r.name: r for r in rules},
        notifiers or {},
        {(e.notifier, e.rule, e.key): e for e in store.alert_ledger()},
        now,
        public_url,
    )
    store.apply_alert_changes(
        AlertChanges(
            upsert=tuple(upsert), delete=tuple(delete), events=tuple(events), ledger=plan.ledger,
            outbox=plan.outbox, drop_rules_except=frozenset(r.name for r in rules) if forget_unknown_rules else None,
        )
    )
    return Evaluation(now, tuple(final), tuple(events), plan.outbox, len(rules), len(infos), tuple(errors))


def _collect(
    rule: RuleConfig,
    record: AlertRecord | None,
    event: AlertEvent | None,
    prev: AlertRecord | None,
    key: FunctionKey,
    annotate: _Annotator,
    upsert: list[AlertRecord],
    delete: list[tuple[str, FunctionKey]],
    events: list[AlertEvent],
    final: list[AlertRecord],
) -> None:
    if event is not None:
        events.append(event)
    if record is None:
        if prev is not None:
            delete.append((rule.name, key))
        return
    annotated = annotate(record, prev)
    upsert.append(annotated)
    final.append(annotated)
