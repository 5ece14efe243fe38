"""Offline analysis of exported logs (`opsview ingest`): the provider-neutral half.

A provider reader (`opsview.collectors.<cloud>.ingest`) turns lines or JSON records into
`InvocationEvent` / `ColdStartEvent`; this module accumulates them per function in memory
bounded by the number of functions and minutes, never by the file size (durations go into
a log-bucket sketch with 1% relative accuracy, as DDSketch does).
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypeAlias

from opsview.schema import Coverage, FunctionInfo, FunctionKey, Price, Sample, cost_usd, from_epoch, to_epoch
from opsview.schema import Measures as _Measures

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Values of a bulk batch: a list, or a numpy array straight from a columnar reader (numpy is imported lazily).
FloatColumn: TypeAlias = "Sequence[float] | NDArray[np.float64]"


@dataclass(frozen=True, slots=True)
class InvocationEvent:
    """One finished invocation. `None` = the log does not say (not "no")."""

    function: str
    at: datetime | None = None
    duration_ms: float | None = None
    billed_ms: float | None = None
    memory_size_mb: int | None = None
    memory_used_mb: int | None = None
    init_ms: float | None = None
    cold_start: bool | None = None  # True/False when the format can tell; None when it cannot (GCP gen1)
    error: bool = False
    timeout: bool | None = None  # None when the format cannot tell timeouts apart
    throttled: bool = False
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class ColdStartEvent:
    """A cold start reported on its own line (Azure `Host started`, GCP `Starting new instance`)."""

    function: str
    at: datetime | None = None
    init_ms: float | None = None
    account: str | None = None
    region: str | None = None


@dataclass(frozen=True, slots=True)
class FailedInitEvent:
    """An init that failed (`INIT_REPORT ... Status: error|timeout`): not a cold start of a success."""

    function: str
    at: datetime | None = None
    init_ms: float | None = None


@dataclass(frozen=True, slots=True)
class InvocationBatch:
    """Many finished invocations of one function, without times: a reader's bulk path for large exports.

    Readers emit it only when `IngestStats.times_needed` is False (no per-minute samples are wanted), so
    the per-event cost of `InvocationEvent` is paid once per chunk instead of once per invocation.
    """

    function: str
    invocations: int
    durations_ms: FloatColumn = ()
    errors: int = 0  # including timeouts
    timeouts: int | None = None
    cold_starts: int | None = None
    init_ms: FloatColumn = ()  # one per cold start that reports an init (or restore) duration
    billed_ms: float | None = None  # sum; None when no invocation reports it
    memory_size_mb: int | None = None  # the last one reported
    memory_used_max_mb: int | None = None
    account: str | None = None
    region: str | None = None

    @property
    def at(self) -> None:
        return None


IngestEvent = InvocationEvent | ColdStartEvent | FailedInitEvent | InvocationBatch


@dataclass(slots=True)
class IngestStats:
    lines_read: int = 0
    lines_skipped: int = 0
    # Set by the consumer: False when no per-minute samples will be built, so readers may drop event times
    # and emit `InvocationBatch`es.
    times_needed: bool = True


class IngestReader(Protocol):
    def __call__(
        self, stream: TextIO, source_name: str, function: str | None, stats: IngestStats
    ) -> Iterator[IngestEvent]:
        """Yield events from one input; count every line (or record) read and every one skipped."""
        ...


_NUMPY_BATCH = 512  # from this many values on, `DurationSketch.add_many` works on a numpy array


def _numpy_loaded() -> bool:
    return "numpy" in sys.modules


class DurationSketch:
    """Quantiles in constant memory: log-spaced buckets, relative error <= 1%."""

    _GAMMA = 1.02  # (gamma - 1) / (gamma + 1) ~= 1% relative error
    _LOG_GAMMA = math.log(_GAMMA)

    __slots__ = ("buckets", "count", "zeros", "max")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.zeros = 0
        self.max: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        if self.max is None or value > self.max:
            self.max = value
        if value <= 0.0:
            self.zeros += 1
            return
        index = math.ceil(math.log(value) / self._LOG_GAMMA)
        self.buckets[index] = self.buckets.get(index, 0) + 1

    def add_many(self, values: FloatColumn) -> None:
        """Same result as `add` for each value, with the per-value work in C (numpy for large batches)."""
        if len(values) == 0:
            return
        # numpy when the caller already loaded it (its import alone outweighs a small input's savings)
        if len(values) >= _NUMPY_BATCH and _numpy_loaded() and self._add_array(values):
            return
        self.count += len(values)
        top = max(values)
        if self.max is None or top > self.max:
            self.max = top
        positive = values
        if min(values) <= 0.0:
            positive = [v for v in values if v > 0.0]
            self.zeros += len(values) - len(positive)
        # x / log(gamma), the exact float operation `add` does
        scaled = map(self._LOG_GAMMA.__rtruediv__, map(math.log, positive))
        buckets = self.buckets
        for index, n in Counter(map(math.ceil, scaled)).items():
            buckets[index] = buckets.get(index, 0) + n

    def _add_array(self, values: FloatColumn) -> bool:
        """`add_many` on a numpy array; False (nothing added) when a value is not finite."""
        import numpy as np

        array = np.asarray(values, dtype=np.float64)
        top = float(array.max())
        if not math.isfinite(top):  # inf or nan: `add`'s path, which raises as it always did
            return False
        self.count += len(array)
        if self.max is None or top > self.max:
            self.max = top
        positive = array[array > 0.0]
        self.zeros += len(array) - len(positive)
        if not len(positive):
            return True
        scaled = np.log(positive) / self._LOG_GAMMA
        indices = np.ceil(scaled)
        # numpy's log may differ from libm's in the last bit; where that could move a value to the next bucket
        # (scaled within a hair of an integer), take `add`'s exact path so the buckets are the same.
        near = np.abs(scaled - np.rint(scaled)) < 1e-9
        if near.any():
            indices[near] = [math.ceil(math.log(v) / self._LOG_GAMMA) for v in positive[near].tolist()]
        ints = indices.astype(np.int64)
        low = int(ints.min())
        counts = np.bincount(ints - low)
        found = np.flatnonzero(counts)
        buckets = self.buckets
        for index, n in zip((found + low).tolist(), counts[found].tolist(), strict=True):
            buckets[index] = buckets.get(index, 0) + n
        return True

    def quantile(self, q: float) -> float | None:
        if self.count == 0:
            return None
        rank = q * (self.count - 1)
        if rank < self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen > rank:
                # midpoint of the bucket (gamma^(i-1), gamma^i], capped by the true max
                value = 2.0 * self._GAMMA**index / (self._GAMMA + 1.0)
                return min(value, self.max) if self.max is not None else value
        return self.max


@dataclass(slots=True)
class _Acc:
    invocations: int = 0
    errors: int = 0
    timeouts: int | None = None
    throttles: int = 0
    cold_starts: int | None = None
    failed_inits: int = 0
    durations: DurationSketch = field(default_factory=DurationSketch)
    duration_sum: float = 0.0
    init_sum: float = 0.0
    init_count: int = 0
    init_max: float | None = None
    memory_size_mb: int | None = None
    memory_used_max_mb: int | None = None
    billed_ms: float | None = None

    def add_batch(self, batch: InvocationBatch) -> None:
        if batch.invocations <= 0:
            return
        self.invocations += batch.invocations
        self.errors += batch.errors
        if batch.timeouts is not None:
            self.timeouts = (self.timeouts or 0) + batch.timeouts
        if batch.cold_starts is not None:
            self.cold_starts = (self.cold_starts or 0) + batch.cold_starts
        if len(batch.init_ms):
            inits = _floats(batch.init_ms)
            self.init_sum += math.fsum(inits)
            self.init_count += len(inits)
            top = max(inits)
            self.init_max = top if self.init_max is None else max(self.init_max, top)
        if len(batch.durations_ms):
            self.durations.add_many(batch.durations_ms)
            self.duration_sum += math.fsum(_floats(batch.durations_ms))
        if batch.billed_ms is not None:
            self.billed_ms = (self.billed_ms or 0.0) + batch.billed_ms
        if batch.memory_size_mb is not None:
            self.memory_size_mb = batch.memory_size_mb
        if batch.memory_used_max_mb is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, batch.memory_used_max_mb)

    def add(self, event: IngestEvent) -> None:
        if isinstance(event, InvocationBatch):
            self.add_batch(event)
            return
        if isinstance(event, FailedInitEvent):
            self.failed_inits += 1
            return
        if isinstance(event, ColdStartEvent):
            self.cold_starts = (self.cold_starts or 0) + 1
            self._init(event.init_ms)
            return
        if event.throttled:
            self.throttles += 1
            return
        self.invocations += 1
        self.errors += int(event.error or bool(event.timeout))
        if event.timeout is not None:
            self.timeouts = (self.timeouts or 0) + int(event.timeout)
        if event.cold_start is not None:
            self.cold_starts = (self.cold_starts or 0) + int(event.cold_start)
            if event.cold_start:
                self._init(event.init_ms)
        if event.duration_ms is not None:
            self.durations.add(event.duration_ms)
            self.duration_sum += event.duration_ms
        if event.billed_ms is not None:
            self.billed_ms = (self.billed_ms or 0.0) + event.billed_ms
        if event.memory_size_mb is not None:
            self.memory_size_mb = event.memory_size_mb
        if event.memory_used_mb is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, event.memory_used_mb)

    def _init(self, init_ms: float | None) -> None:
        if init_ms is None:
            return
        self.init_sum += init_ms
        self.init_count += 1
        self.init_max = init_ms if self.init_max is None else max(self.init_max, init_ms)

    def measures(self) -> _Measures:
        d = self.durations
        return _Measures(
            invocations=self.invocations,
            errors=self.errors,
            throttles=self.throttles,
            cold_starts=self.cold_starts,
            duration_avg_ms=self.duration_sum / d.count if d.count else None,
            duration_p50_ms=d.quantile(0.50),
            duration_p95_ms=d.quantile(0.95),
            duration_p99_ms=d.quantile(0.99),
            duration_max_ms=d.max,
            init_avg_ms=self.init_sum / self.init_count if self.init_count else None,
            memory_used_max_mb=self.memory_used_max_mb,
            billed_ms=self.billed_ms,
        )


def _floats(values: FloatColumn) -> Sequence[float]:
    """Python floats (a numpy array's `tolist`: far quicker to sum and compare than its scalars)."""
    if isinstance(values, Sequence):
        return values
    floats: list[float] = values.tolist()
    return floats


@dataclass(frozen=True, slots=True)
class FunctionSummary:
    function: str
    measures: _Measures
    timeouts: int | None
    failed_inits: int
    init_max_ms: float | None
    memory_size_mb: int | None
    cost_usd: float | None

    def to_json(self) -> dict[str, Any]:
        m = self.measures
        return {
            "function": self.function,
            "invocations": m.invocations,
            "errors": m.errors,
            "timeouts": self.timeouts,
            "cold_starts": m.cold_starts,
            "duration_p50_ms": _round(m.duration_p50_ms),
            "duration_p95_ms": _round(m.duration_p95_ms),
            "duration_p99_ms": _round(m.duration_p99_ms),
            "duration_max_ms": _round(m.duration_max_ms),
            "init_avg_ms": _round(m.init_avg_ms),
            "init_max_ms": _round(self.init_max_ms),
            "memory_size_mb": self.memory_size_mb,
            "memory_used_max_mb": m.memory_used_max_mb,
            "billed_ms": _round(m.billed_ms),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(slots=True)
class IngestResult:
    functions: list[FunctionSummary]
    stats: IngestStats
    samples: list[Sample]
    infos: list[FunctionInfo]
    coverage: list[Coverage] = field(default_factory=list)
    """Per scope, from its first minute with a record to the end of its last: what `--store` may call read."""

    def to_json(self) -> dict[str, Any]:
        return {
            "functions": [f.to_json() for f in self.functions],
            "lines_read": self.stats.lines_read,
            "lines_skipped": self.stats.lines_skipped,
        }


class Ingest:
    """Accumulate events per function (totals) and, when `minutes`, per function-minute (for `--store`).

    Without `minutes` the result has no samples, and readers are told (`stats.times_needed`) that they may
    skip parsing times and send `InvocationBatch`es: the fast path for large exports.
    """

    def __init__(
        self, provider: str, price: Price | None, account: str = "ingest", region: str = "unknown",
        *, minutes: bool = True,
    ) -> None:
        self.provider = provider
        self.price = price
        self.account = account
        self.region = region
        self.minutes = minutes
        self.stats = IngestStats(times_needed=minutes)
        self._totals: dict[str, _Acc] = {}
        self._buckets: dict[tuple[str, int], _Acc] = {}
        self._where: dict[str, tuple[str, str]] = {}

    def add_all(self, events: Iterable[IngestEvent]) -> None:
        totals = self._totals
        minutes = self.minutes
        for event in events:
            acc = totals.get(event.function)
            if acc is None:
                acc = totals[event.function] = _Acc()
                account = getattr(event, "account", None) or self.account
                region = getattr(event, "region", None) or self.region
                self._where[event.function] = (account, region)
            acc.add(event)
            if minutes and event.at is not None:
                minute = to_epoch(event.at) // 60
                bucket = self._buckets.get((event.function, minute))
                if bucket is None:
                    bucket = self._buckets[(event.function, minute)] = _Acc()
                bucket.add(event)

    def result(self) -> IngestResult:
        summaries = []
        infos = []
        for name in sorted(self._totals):
            acc = self._totals[name]
            account, region = self._where[name]
            info = FunctionInfo(FunctionKey(self.provider, account, region, name), memory_mb=acc.memory_size_mb)
            infos.append(info)
            m = acc.measures()
            summaries.append(
                FunctionSummary(
                    function=name, measures=m, timeouts=acc.timeouts, failed_inits=acc.failed_inits,
                    init_max_ms=acc.init_max, memory_size_mb=acc.memory_size_mb, cost_usd=cost_usd(m, info, self.price),
                )
            )
        by_name = {i.key.name: i.key for i in infos}
        samples = [
            Sample(key=by_name[name], start=from_epoch(minute * 60), period_s=60, **_fields(acc.measures()))
            for (name, minute), acc in sorted(self._buckets.items())
        ]
        # An export holds every record of its span (a quiet minute inside it had no traffic), but nothing
        # says what lies beyond its first and last record: those bound what the store may call covered.
        spans: dict[tuple[str, str, str], tuple[int, int]] = {}
        for name, minute in self._buckets:
            scope = by_name[name][:3]
            first, last = spans.get(scope, (minute, minute))
            spans[scope] = (min(first, minute), max(last, minute))
        coverage = [Coverage(*scope, from_epoch(first * 60), from_epoch((last + 1) * 60))
                    for scope, (first, last) in sorted(spans.items())]
        return IngestResult(summaries, self.stats, samples, infos, coverage)


def _fields(m: _Measures) -> dict[str, Any]:
    return {name: getattr(m, name) for name in m.__dataclass_fields__}
