"""One evaluation of every rule over the fleet, with the time passed in.

Speed: the store aggregates each distinct window for all functions in one query (`Store.fleet_measures`), and
M-of-N reads the last N datapoints of all functions in one query (`Store.fleet_buckets`). Values come
from `schema.measure_value`, computed once per (window, measure) and function; rules then compare whole
columns with numpy, and only breaching or already-active (rule, function) pairs reach the state machine.
"""

from __future__ import annotations

import logging
import operator
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from opsview.alert_records import AlertChanges, AlertEvent, AlertRecord, AlertState, OutboxItem, Silence
from opsview.alerts.matching import match_key, matches, silenced_by
from opsview.alerts.notifications import plan_notifications
from opsview.alerts.state import Observation, RuleFacts, step
from opsview.alerts.templating import record_fields, render, rule_fields
from opsview.config.alerts import NotifierConfig, RuleConfig
from opsview.config.models import PricingConfig
from opsview.schema import (
    AGGREGATION,
    COUNT_MEASURES,
    DEFAULT_PRICES,
    MEASURE_NAMES,
    Agg,
    FunctionInfo,
    FunctionKey,
    Measures,
    Price,
    measure_inputs,
    measure_value,
    measures_from,
)
from opsview.store.base import FleetBuckets, Store

log = logging.getLogger(__name__)

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

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


_T = TypeVar("_T")
_READERS: list[ThreadPoolExecutor] = []
_READERS_LOCK = threading.Lock()


def _reader_pool() -> ThreadPoolExecutor:
    """A few long-lived reader threads: each keeps its own store connection across evaluations."""
    with _READERS_LOCK:
        if not _READERS:
            # One reader per core, 2 to 4: on 2 cores a third reader only added contention (measured).
            workers = max(2, min(4, os.cpu_count() or 2))
            _READERS.append(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="opsview-rule-read"))
        return _READERS[0]


def _result(future: Future[_T]) -> _T | None:
    """A prefetched read's result, or None when it failed (the caller reads again and reports it)."""
    try:
        return future.result()
    except Exception:  # noqa: BLE001 - the rule's own read reports it
        return None


class _Fleet:
    """Columns of measure values for every function, read once per distinct window."""

    def __init__(self, store: Store, now: datetime, infos: Sequence[FunctionInfo], pricing: PricingConfig | None,
                 needs: Mapping[tuple[datetime, datetime], frozenset[str]] | None = None,
                 bucket_needs: Mapping[tuple[int, int], frozenset[str]] | None = None):
        self.store = store
        # per window read, the stored measures its rules read (others are not aggregated); windows made of
        # segments (see `_segment_plan`) are not read themselves
        self.needs, self.composed = _segment_plan(needs or {})
        self.composed_needs = {span: (needs or {})[span] for span in self.composed}
        self.bucket_needs = bucket_needs or {}  # the same per (step, count) of M-of-N reads
        self.now = now
        self.infos = list(infos)
        self.index = {info.key: i for i, info in enumerate(self.infos)}
        self.prices: list[Price | None] = [
            pricing.price(i.key.provider) if pricing else DEFAULT_PRICES.get(i.key.provider) for i in self.infos
        ]
        self._measures: dict[tuple[datetime, datetime], list[Measures | None]] = {}
        self._values: dict[tuple[datetime, datetime, str], Floats] = {}
        self._buckets: dict[tuple[int, int], FleetBuckets] = {}
        self._bucket_values: dict[tuple[int, int, str], Floats] = {}
        self._masks: dict[str, Bools] = {}
        self._pending: dict[tuple[datetime, datetime], Future[dict[FunctionKey, Measures]]] = {}
        self._pending_buckets: dict[tuple[int, int], Future[FleetBuckets]] = {}

    def _value(self, name: str, m: Measures | None, i: int) -> float:
        if m is None:
            return np.nan
        value = measure_value(name, m, self.infos[i], self.prices[i])
        return np.nan if value is None else float(value)

    def values(self, measure: str, start: datetime, end: datetime) -> Floats:
        cached = self._values.get((start, end, measure))
        if cached is not None:
            return cached
        parts = self.composed.get((start, end))
        if parts is not None and measure in MEASURE_NAMES:
            out = self._combined(measure, parts)
            self._values[(start, end, measure)] = out
            return out
        per_fn = self._window((start, end))
        if measure in MEASURE_NAMES:  # stored: no derivation per function (None becomes NaN)
            get = operator.attrgetter(measure)
            out = np.array([None if m is None else get(m) for m in per_fn], dtype=np.float64)
        else:
            out = np.array([self._value(measure, m, i) for i, m in enumerate(per_fn)], dtype=np.float64)
        self._values[(start, end, measure)] = out
        return out

    def _window(self, span: tuple[datetime, datetime]) -> list[Measures | None]:
        """Per function (None: no data), the measures aggregated over `span`."""
        per_fn = self._measures.get(span)
        if per_fn is not None:
            return per_fn
        parts = self.composed.get(span)
        if parts is not None:
            per_fn = self._composed_measures(span, parts)
        else:
            pending = self._pending.pop(span, None)
            rows = _result(pending) if pending is not None else None
            if rows is None:
                rows = self.store.fleet_measures(span[0], span[1], measures=self.needs.get(span))
            per_fn = self._per_function(rows)
        self._measures[span] = per_fn
        return per_fn

    def _combined(self, measure: str, parts: Sequence[tuple[datetime, datetime]]) -> Floats:
        """A stored SUM or MAX measure over consecutive segments, as one aggregation over their union
        gives it (NaN where no segment has a value)."""
        stack = np.vstack([self.values(measure, *part) for part in parts])
        if AGGREGATION[measure].kind is Agg.MAX:
            out: Floats = np.fmax.reduce(stack, axis=0)  # fmax skips NaN, as MAX skips NULL
            return out
        out = np.nansum(stack, axis=0)
        out[np.isnan(stack).all(axis=0)] = np.nan  # SUM of only NULLs is NULL, not 0
        return out

    def _composed_measures(
        self, span: tuple[datetime, datetime], parts: Sequence[tuple[datetime, datetime]]
    ) -> list[Measures | None]:
        """`Measures` over a composed window, for derived measures (rates): those it needs, from the
        combined columns; None for a function without data in any segment."""
        names = tuple(n for n in MEASURE_NAMES if n in self.composed_needs[span])
        build = measures_from(names)
        present = np.zeros(len(self.infos), dtype=bool)
        for part in parts:
            present |= np.array([m is not None for m in self._window(part)], dtype=bool)
        columns = []
        for name in names:
            column: list[Any] = self._combined(name, parts).tolist()
            if name in COUNT_MEASURES:  # counts are ints, as the store returns them
                column = [None if v != v else int(v) for v in column]
            else:
                column = [None if v != v else v for v in column]
            columns.append(column)
        rows = zip(*columns, strict=True)
        return [build(row) if has else None for has, row in zip(present.tolist(), rows, strict=True)]

    def _per_function(self, rows: Mapping[FunctionKey, Measures]) -> list[Measures | None]:
        per_fn: list[Measures | None] = [None] * len(self.infos)
        index = self.index
        for key, measures in rows.items():
            i = index.get(key)
            if i is not None:
                per_fn[i] = measures
        return per_fn

    def prefetch(self) -> None:
        """Start every read the rules need at once; `values` and `bucket_values` collect them.

        The SQLite driver releases the GIL while SQLite works and PostgreSQL has a pool, so the reads overlap
        each other. With SQLite's memory map, two threads cut the reads of bench/alerts.py by ~20%;
        without it SQLite's page cache serialised them.
        A read that fails here is read again by the rule that needs it, which reports the error as its own.
        """
        pool = _reader_pool()
        for span, measures in self.needs.items():
            self._pending[span] = pool.submit(self.store.fleet_measures, span[0], span[1], measures=measures)
        for read, measures in self.bucket_needs.items():
            self._pending_buckets[read] = pool.submit(
                self.store.fleet_buckets, self.now, read[0], read[1], measures=measures
            )

    def wait(self) -> None:
        """Until every prefetched read is done. Rules are evaluated after, not alongside: their Python
        work would contend for the GIL with the readers turning rows into Measures (measured: ~10%
        slower overall than letting the reads finish first)."""
        pending: list[Future[Any]] = [*self._pending.values(), *self._pending_buckets.values()]
        wait_for(pending)

    def bucket_values(self, measure: str, step: timedelta, count: int) -> Floats:
        """Shape (functions, count), newest datapoint first; NaN where a datapoint has no data."""
        step_s = int(step.total_seconds())
        cached = self._bucket_values.get((step_s, count, measure))
        if cached is not None:
            return cached
        table = self._buckets.get((step_s, count))
        if table is None:
            pending = self._pending_buckets.pop((step_s, count), None)
            table = _result(pending) if pending is not None else None
            if table is None:
                table = self.store.fleet_buckets(
                    self.now, step_s, count, measures=self.bucket_needs.get((step_s, count))
                )
            self._buckets[(step_s, count)] = table
        out = np.full((len(self.infos), count), np.nan)
        index = self.index
        rows = np.array([index.get(key, -1) for key in table.keys], dtype=np.intp)
        if measure in MEASURE_NAMES:  # stored: one column, no derivation per datapoint (None becomes NaN)
            values = np.array(table.columns[measure], dtype=np.float64)
        else:
            values = np.array(
                [self._value(measure, table.measures(j), int(i)) if i >= 0 else np.nan for j, i in enumerate(rows)],
                dtype=np.float64,
            )
        known = rows >= 0  # a function created after this evaluation's `functions()` read has no row
        out[rows[known], np.array(table.spans, dtype=np.intp)[known]] = values[known]
        self._bucket_values[(step_s, count, measure)] = out
        return out

    def mask(self, rule: RuleConfig) -> Bools:
        k = match_key(rule.match)
        cached = self._masks.get(k)
        if cached is None:
            cached = self._masks[k] = np.array([matches(rule.match, i) for i in self.infos], dtype=bool)
        return cached


@dataclass(frozen=True, slots=True)
class _Verdict:
    breaching: Bools  # condition holds
    missing: Bools  # no data and missing = "ignore": keep state
    value: Floats  # shown value (NaN = none)


def _verdict(rule: RuleConfig, fleet: _Fleet) -> _Verdict:
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


class _Annotator:
    """Fills one rule's summary, description, labels and silence flag into its records.

    Built once per rule and evaluation: thousands of records per evaluation share its templates,
    window text, labels and silences.
    """

    def __init__(self, rule: RuleConfig, silences: Sequence[Silence], now: datetime) -> None:
        self.rule = rule
        self.summary = rule.annotations.get(
            "summary", "{function}: " + rule.measure + " {value} " + rule.op + " {threshold} over {window}"
        )
        self.description = rule.annotations.get("description", "")
        self.fields = rule_fields(rule.name, rule.severity, rule.measure, rule.threshold, rule.window)
        self.labels = dict(rule.labels)  # one shared mapping: the store serialises it once per rule
        self.silences = [s for s in silences if s.active(now)]

    def __call__(self, record: AlertRecord) -> AlertRecord:
        rule = self.rule
        fields = record_fields(self.fields, record.key, record.value)
        return AlertRecord(
            rule=record.rule, key=record.key, state=record.state, severity=record.severity, since=record.since,
            active_since=record.active_since, value=record.value, threshold=record.threshold, op=record.op,
            summary=render(self.summary, fields),
            silenced=bool(self.silences) and silenced_by(rule.name, record.key, self.silences) is not None,
            labels=self.labels,
            description=render(self.description, fields) if self.description else "",
            evaluated_at=record.evaluated_at,
        )


def _segment_plan(
    needs: Mapping[tuple[datetime, datetime], frozenset[str]],
) -> tuple[dict[tuple[datetime, datetime], frozenset[str]], dict[tuple[datetime, datetime], tuple[Any, ...]]]:
    """Which windows to read, and which windows to compose from the segments read instead.

    Windows that only need SUM or MAX measures are cut at every such window's edges: each segment is read
    once and the windows are summed (or maxed) from their segments. Rules over 5m, 15m and 1h ending now,
    plus a 1h "previous" window, scan 75 minutes of rows instead of 140. Weighted measures (percentiles)
    cannot be combined from segment results, so their windows are read whole.
    """
    combinable = {w: m for w, m in needs.items() if all(AGGREGATION[n].kind is not Agg.WEIGHTED for n in m)}
    reads = {w: m for w, m in needs.items() if w not in combinable}
    cuts = sorted({edge for window in combinable for edge in window})
    composed: dict[tuple[datetime, datetime], tuple[Any, ...]] = {}
    for window, measures in combinable.items():
        parts = tuple((a, b) for a, b in zip(cuts, cuts[1:], strict=False) if window[0] <= a and b <= window[1])
        for part in parts:
            reads[part] = reads.get(part, frozenset()) | measures
        if parts != (window,):
            composed[window] = parts
    return reads, composed


def _read_needs(
    rules: Sequence[RuleConfig], now: datetime
) -> tuple[dict[tuple[datetime, datetime], frozenset[str]], dict[tuple[int, int], frozenset[str]]]:
    """The stored measures the rules need, per aggregation window and per M-of-N (step, count) read.

    Only what is listed is read: a window no rule aggregates over (an M-of-N rule reads buckets instead)
    costs nothing, and each read aggregates only the measures its rules derive from.
    """
    windows: dict[tuple[datetime, datetime], frozenset[str]] = {}
    buckets: dict[tuple[int, int], frozenset[str]] = {}
    for rule in rules:
        try:
            inputs = measure_inputs([rule.measure])
        except KeyError:
            continue  # reported per rule by the evaluation itself
        spans = []
        if rule.m_of_n is None:
            spans.append((now - rule.window, now))
        else:
            read = (int(rule.window.total_seconds()), rule.m_of_n[1])
            buckets[read] = buckets.get(read, frozenset()) | inputs
        if rule.previous is not None:
            spans.append((now - rule.window - rule.previous.window, now - rule.window))
        for span in spans:
            windows[span] = windows.get(span, frozenset()) | inputs
    return windows, buckets


def evaluate(
    rules: Sequence[RuleConfig],
    store: Store,
    now: datetime,
    *,
    notifiers: Mapping[str, NotifierConfig] | None = None,
    pricing: PricingConfig | None = None,
    resolved_retention: timedelta = DEFAULT_RESOLVED_RETENTION,
    forget_unknown_rules: bool = True,
) -> Evaluation:
    """Evaluate every rule at `now`, persist the new states and queue due notifications.

    Call it under the store's "check" lock when notifiers are given (see `opsview check`).
    """
    if now.tzinfo is None:
        raise ValueError("evaluate() needs a timezone-aware `now`")
    infos = store.functions()
    fleet = _Fleet(store, now, infos, pricing, *_read_needs(rules, now))
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
    annotated = annotate(record)
    upsert.append(annotated)
    final.append(annotated)
