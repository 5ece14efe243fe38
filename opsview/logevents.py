"""Log events and the one accumulator that folds them into measures.

A provider's log reader turns lines or JSON records into `InvocationEvent` / `ColdStartEvent` /
`FailedInitEvent` (or, on a bulk path, `InvocationBatch`); `EventTotals` folds them into the counts and
duration percentiles of one function over one bucket (a minute, or a whole file). `opsview ingest`
(`opsview.ingest`) and the live GCP collector (`opsview.collectors.gcp.buckets`) both use it, so the same
log gives the same numbers through `collect` and `ingest`. Percentiles follow `opsview.percentiles`: exact
nearest-rank up to 10,000 values per function and bucket, a sketch within 1 % beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opsview.percentiles import EXACT_LIMIT, DurationDigest, FloatColumn
from opsview.schema import Measures


@dataclass(frozen=True, slots=True)
class InvocationEvent:
    """One finished invocation (or `weight` of them: a sampled row). `None` = the log does not say (not "no")."""

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
    weight: int = 1  # how many requests this record stands for (Azure `ItemCount` under sampling)


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


LogEvent = InvocationEvent | ColdStartEvent | FailedInitEvent | InvocationBatch


@dataclass(slots=True)
class EventTotals:
    """The measures of one function over one bucket, folded event by event in bounded memory."""

    invocations: int = 0
    errors: int = 0
    timeouts: int | None = None
    throttles: int = 0
    cold_starts: int | None = None
    failed_inits: int = 0
    durations: DurationDigest = field(default_factory=DurationDigest)
    duration_sum: float = 0.0
    init_sum: float = 0.0
    init_count: int = 0
    init_max: float | None = None
    memory_size_mb: int | None = None
    memory_used_max_mb: int | None = None
    billed_ms: float | None = None

    def add(self, event: LogEvent) -> None:
        if isinstance(event, InvocationBatch):
            self.add_batch(event)
            return
        if isinstance(event, FailedInitEvent):
            self.failed_inits += 1
            return
        if isinstance(event, ColdStartEvent):
            self.cold_start(event.init_ms)
            return
        weight = event.weight
        if event.throttled:
            self.throttles += weight
            return
        self.invocation(event.duration_ms, event.error or bool(event.timeout), weight)
        if event.timeout is not None:
            self.timeouts = (self.timeouts or 0) + (weight if event.timeout else 0)
        if event.cold_start is not None:
            self.cold_starts = (self.cold_starts or 0) + (weight if event.cold_start else 0)
            if event.cold_start:
                self._init(event.init_ms, weight)
        if event.billed_ms is not None:
            self.billed_ms = (self.billed_ms or 0.0) + event.billed_ms * weight
        if event.memory_size_mb is not None:
            self.memory_size_mb = event.memory_size_mb
        if event.memory_used_mb is not None:
            self.memory_used_max_mb = max(self.memory_used_max_mb or 0, event.memory_used_mb)

    def invocation(self, duration_ms: float | None, error: bool, weight: int = 1) -> None:
        """The counting core of `add` (the live GCP collector calls it directly: one call per log entry)."""
        self.invocations += weight
        if error:
            self.errors += weight
        if duration_ms is not None:
            self.duration_sum += duration_ms * weight
            durations = self.durations
            values = durations.values
            if weight == 1 and durations.weights is None and durations.sketch is None and len(values) < EXACT_LIMIT:
                values.append(duration_ms)  # `DurationDigest.add`'s common case without a second call (bench/gcp.py)
            else:
                durations.add(duration_ms, weight)

    def cold_start(self, init_ms: float | None = None) -> None:
        self.cold_starts = (self.cold_starts or 0) + 1
        self._init(init_ms, 1)

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

    def _init(self, init_ms: float | None, weight: int) -> None:
        if init_ms is None:
            return
        self.init_sum += init_ms * weight
        self.init_count += weight
        self.init_max = init_ms if self.init_max is None else max(self.init_max, init_ms)

    def measures(self) -> Measures:
        d = self.durations
        count = d.count
        p50, p95, p99 = d.quantiles(0.50, 0.95, 0.99)
        return Measures(
            invocations=self.invocations,
            errors=self.errors,
            throttles=self.throttles,
            cold_starts=self.cold_starts,
            duration_avg_ms=self.duration_sum / count if count else None,
            duration_p50_ms=p50,
            duration_p95_ms=p95,
            duration_p99_ms=p99,
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
