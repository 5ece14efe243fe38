"""Log events and the accumulators that fold them into measures and error signatures.

A provider's log reader turns lines or JSON records into `InvocationEvent` / `ColdStartEvent` /
`FailedInitEvent` (or, on a bulk path, `InvocationBatch`), and error records into `ErrorEvent`; `EventTotals`
folds the first into the counts and duration percentiles of one function over one bucket (a minute, or a
whole file), `ErrorTally` the errors into signatures with counts, first/last seen and the latest sample.
`opsview ingest` (`opsview.ingest`) and the live GCP collector (`opsview.collectors.gcp.buckets`) both use
`EventTotals`, so the same log gives the same numbers through `collect` and `ingest`. Percentiles follow
`opsview.percentiles`: exact nearest-rank up to 10,000 values per function and bucket, a sketch within 1 %
beyond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from opsview.error_records import ErrorObservation
from opsview.percentiles import EXACT_LIMIT, DurationDigest, FloatColumn
from opsview.schema import FunctionKey, Measures, from_epoch, to_epoch
from opsview.signatures import cap_sample, signature

MAX_SIGNATURES = 1000
"""Distinct error signatures one function keeps; occurrences of more are counted (`ErrorTally.other`), not
kept: memory stays bounded by the functions, never by the file (a hostile log can make every line unique)."""


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
    # None when the log cannot show a throttle: a throttled Lambda invocation never runs, so it never logs
    # (AWS); gen1 Cloud Functions do not log the platform's rejections. Azure rows (429) and gen2 logs can.
    throttled: bool | None = None
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
    throttles: int | None = None  # None: the log cannot show throttles (see `InvocationEvent.throttled`)
    init_ms: FloatColumn = ()  # one per cold start that reports an init (or restore) duration
    billed_ms: float | None = None  # sum; None when no invocation reports it
    memory_size_mb: int | None = None  # the last one reported
    memory_used_max_mb: int | None = None
    account: str | None = None
    region: str | None = None

    @property
    def at(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """One error record as the log prints it: *why* an invocation failed. The failed invocation comes as its
    own event (its REPORT line, status or request row), so this counts no invocation and no error in the
    measures; `ErrorTally` folds it into error signatures. Readers pass the type and message as logged:
    the signature comes from `opsview.signatures`, the one rule, in the accumulator."""

    function: str
    at: datetime | None = None
    error_type: str | None = None
    message: str | None = None
    request_id: str | None = None  # request id (AWS), operation id (Azure), trace / execution id (GCP)
    sample: str | None = None  # the text to keep as the sample (e.g. with its stack trace); default: message
    account: str | None = None
    region: str | None = None
    weight: int = 1  # how many occurrences this record stands for (Azure `ItemCount` under sampling)


LogEvent = InvocationEvent | ColdStartEvent | FailedInitEvent | InvocationBatch | ErrorEvent


@dataclass(slots=True)
class EventTotals:
    """The measures of one function over one bucket, folded event by event in bounded memory."""

    invocations: int = 0
    errors: int = 0
    timeouts: int | None = None
    throttles: int | None = None  # stays None unless some event could have shown a throttle
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
        if isinstance(event, ErrorEvent):
            return  # the why of an invocation counted by its own event; see ErrorTally
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
            self.throttle(weight)
            return
        if event.throttled is not None:
            self.throttles = self.throttles or 0  # this log shows throttles, and this request was none
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

    def throttle(self, weight: int = 1) -> None:
        """A request the platform refused: a throttle, not an invocation."""
        self.throttles = (self.throttles or 0) + weight

    def cold_start(self, init_ms: float | None = None) -> None:
        self.cold_starts = (self.cold_starts or 0) + 1
        self._init(init_ms, 1)

    def add_batch(self, batch: InvocationBatch) -> None:
        if batch.throttles is not None:
            self.throttles = (self.throttles or 0) + batch.throttles
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


@dataclass(slots=True)
class SignatureTally:
    """One error signature of one function: how often, when first and last, and its latest occurrence."""

    error_type: str | None
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    sample: str | None = None
    sample_id: str | None = None
    sample_at: datetime | None = None
    minutes: dict[int, int] | None = None  # epoch minute -> count, when per-minute counts are kept


@dataclass(slots=True)
class ErrorTally:
    """The error signatures of one function, folded event by event in bounded memory (`MAX_SIGNATURES`)."""

    per_minute: bool = False
    signatures: dict[str, SignatureTally] = field(default_factory=dict)
    other: int = 0
    """Occurrences of signatures beyond the first MAX_SIGNATURES distinct ones: counted, not kept."""

    def add(self, event: ErrorEvent) -> None:
        sig = signature(event.error_type, event.message)
        tally = self.signatures.get(sig)
        if tally is None:
            if len(self.signatures) >= MAX_SIGNATURES:
                self.other += event.weight
                return
            tally = self.signatures[sig] = SignatureTally(event.error_type or None)
        tally.count += event.weight
        at = event.at
        if at is not None:
            if tally.first_at is None or at < tally.first_at:
                tally.first_at = at
            if tally.last_at is None or at > tally.last_at:
                tally.last_at = at
            if self.per_minute:
                minute = to_epoch(at) // 60
                minutes = tally.minutes if tally.minutes is not None else {}
                minutes[minute] = minutes.get(minute, 0) + event.weight
                tally.minutes = minutes
        # The latest occurrence is the sample: by time, else (no times in the log) the last one read.
        if (at is not None and (tally.sample_at is None or at >= tally.sample_at)) or (
            at is None and tally.sample_at is None
        ):
            tally.sample = cap_sample(event.sample if event.sample is not None else event.message)
            tally.sample_id = event.request_id
            tally.sample_at = at

    def top(self, n: int) -> list[tuple[str, SignatureTally]]:
        """The `n` most frequent signatures (ties: the latest seen first, then by signature)."""
        ranked = sorted(self.signatures.items(), key=lambda item: (
            -item[1].count, -(item[1].last_at.timestamp() if item[1].last_at else 0.0), item[0]))
        return ranked[:n]

    def observations(self, key: FunctionKey) -> list[ErrorObservation]:
        """Per-minute observations for a store (only occurrences with a time); the latest sample rides on the
        observation of its own minute."""
        out = []
        for sig, tally in self.signatures.items():
            sample_minute = to_epoch(tally.sample_at) // 60 if tally.sample_at is not None else None
            for minute, count in sorted((tally.minutes or {}).items()):
                latest = minute == sample_minute
                out.append(ErrorObservation(
                    key=key, minute=from_epoch(minute * 60), signature=sig, error_type=tally.error_type, count=count,
                    sample=tally.sample if latest else None, sample_id=tally.sample_id if latest else None,
                    sample_at=tally.sample_at if latest else None,
                ))
        return out
