"""The store reads one evaluation makes, as columns over every function.

Speed: each distinct window is aggregated for all functions in one query (`Store.fleet_measures`), and
M-of-N reads the last N datapoints of all functions in one query (`Store.fleet_buckets`). Values come
from `schema.measure_value`, computed once per (window, measure) and function, as numpy columns the
engine compares whole.
"""

from __future__ import annotations

import operator
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from datetime import datetime, timedelta
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from opsview.alerts.matching import match_key, matches
from opsview.config.alerts import RuleConfig
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

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

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


class FleetColumns:
    """Columns of measure values for every function, read once per distinct window."""

    def __init__(self, store: Store, now: datetime, infos: Sequence[FunctionInfo], pricing: PricingConfig | None,
                 needs: Mapping[tuple[datetime, datetime], frozenset[str]] | None = None,
                 bucket_needs: Mapping[tuple[int, int], frozenset[str]] | None = None):
        self.store = store
        # per window read, the stored measures its rules read (others are not aggregated); windows made of
        # segments (see `segment_plan`) are not read themselves
        self.needs, self.composed = segment_plan(needs or {})
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
        each other (with SQLite's memory map; its page cache alone serialised them). Kept because reading
        one window after another on the evaluating thread made bench/alerts.py's evaluation ~40% slower
        (best 0.96 s against 0.69 s; bench/README.md).
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


def segment_plan(
    needs: Mapping[tuple[datetime, datetime], frozenset[str]],
) -> tuple[dict[tuple[datetime, datetime], frozenset[str]], dict[tuple[datetime, datetime], tuple[Any, ...]]]:
    """Which windows to read, and which windows to compose from the segments read instead.

    Windows that only need SUM or MAX measures are cut at every such window's edges: each segment is read
    once and the windows are summed (or maxed) from their segments. Rules over 5m, 15m and 1h ending now,
    plus a 1h "previous" window, scan 75 minutes of rows instead of 140. Weighted measures (percentiles)
    cannot be combined from segment results, so their windows are read whole. Kept because reading every
    window whole made bench/alerts.py's evaluation ~25% slower (best 0.86 s against 0.69 s; bench/README.md).
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


def read_needs(
    rules: Sequence[RuleConfig], now: datetime
) -> tuple[dict[tuple[datetime, datetime], frozenset[str]], dict[tuple[int, int], frozenset[str]]]:
    """The stored measures the rules need, per aggregation window and per M-of-N (step, count) read.

    Only what is listed is read: a window no rule aggregates over (an M-of-N rule reads buckets instead)
    costs nothing, and each read aggregates only the measures its rules derive from.
    """
    windows: dict[tuple[datetime, datetime], frozenset[str]] = {}
    buckets: dict[tuple[int, int], frozenset[str]] = {}
    for rule in rules:
        if rule.kind != "measure":
            continue  # new_error rules read error signatures, not samples
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


