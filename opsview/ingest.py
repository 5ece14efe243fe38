"""Offline analysis of exported logs (`opsview ingest`): the provider-neutral half.

A provider reader (`opsview.collectors.<cloud>.ingest`) turns lines or JSON records into log events
(`opsview.logevents`); this module folds them per function (and per function-minute for `--store`) with
`EventTotals`, in memory bounded by the number of functions and minutes, never by the file size: exact
nearest-rank percentiles up to 10,000 durations per function and bucket, a sketch within 1 % beyond
(`opsview.percentiles`). Error records fold into signatures per function with `ErrorTally` (at most
`MAX_SIGNATURES` kept per function).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol, TextIO

from opsview.error_records import ErrorCoverage, ErrorObservation
from opsview.logevents import ErrorEvent, ErrorTally, EventTotals, LogEvent
from opsview.schema import Coverage, FunctionInfo, FunctionKey, Price, Sample, cost_usd, from_epoch, to_epoch
from opsview.schema import Measures as _Measures

TOP_ERRORS = 10
"""Signatures per function in `top_errors` (all of them go to the store with --store)."""


@dataclass(slots=True)
class IngestStats:
    lines_read: int = 0
    lines_skipped: int = 0
    notes: list[str] = field(default_factory=list)
    """What a reader noticed about its input, worth a line to the user (e.g. where a JSON document stops
    parsing); `opsview ingest` prints each with the file's name."""
    # Set by the consumer: False when no per-minute samples will be built, so readers may drop event times
    # and emit `InvocationBatch`es.
    times_needed: bool = True
    # Set by a reader that reads error records (emits `ErrorEvent`s): then a function without any has no
    # errors to show, where otherwise its errors are unknown (`top_errors` null, not []).
    errors_read: bool = False


@dataclass(frozen=True, slots=True)
class InputFormat:
    """What a provider's reader reads, for the one line `opsview ingest` prints when a file holds none of it."""

    nothing_found: str
    """Follows "<file>: ", e.g. "no Lambda invocation records found (expected REPORT lines ...)"."""
    looks_like: re.Pattern[str]
    """Text that marks this provider's logs near the start of a file: another provider's reader, finding
    nothing, suggests `--provider <this one>`."""


class IngestReader(Protocol):
    def __call__(
        self, stream: TextIO, source_name: str, function: str | None, stats: IngestStats
    ) -> Iterator[LogEvent]:
        """Yield events from one input; count every line (or record) read and every one skipped."""
        ...


@dataclass(frozen=True, slots=True)
class TopError:
    """One error signature of one function over the whole input."""

    signature: str
    error_type: str | None
    count: int
    first_seen: datetime | None  # None: the log gave no times
    last_seen: datetime | None
    sample: str | None
    sample_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "signature": self.signature, "error_type": self.error_type, "count": self.count,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "sample": self.sample, "sample_id": self.sample_id,
        }


@dataclass(frozen=True, slots=True)
class FunctionSummary:
    function: str
    measures: _Measures
    timeouts: int | None
    failed_inits: int
    init_max_ms: float | None
    memory_size_mb: int | None
    cost_usd: float | None
    percentiles_exact: bool | None = None  # None: no durations; False: from the sketch, within 1 %
    top_errors: tuple[TopError, ...] | None = None  # None: the reader reads no error records (unknown)
    other_errors: int = 0  # occurrences of signatures past MAX_SIGNATURES distinct ones (counted, not kept)

    def to_json(self) -> dict[str, Any]:
        m = self.measures
        return {
            "function": self.function,
            "invocations": m.invocations,
            "errors": m.errors,
            "throttles": m.throttles,
            "timeouts": self.timeouts,
            "cold_starts": m.cold_starts,
            "duration_p50_ms": _round(m.duration_p50_ms),
            "duration_p95_ms": _round(m.duration_p95_ms),
            "duration_p99_ms": _round(m.duration_p99_ms),
            "duration_max_ms": _round(m.duration_max_ms),
            "percentiles_exact": self.percentiles_exact,
            "init_avg_ms": _round(m.init_avg_ms),
            "init_max_ms": _round(self.init_max_ms),
            "memory_size_mb": self.memory_size_mb,
            "memory_used_max_mb": m.memory_used_max_mb,
            "billed_ms": _round(m.billed_ms),
            "cost_usd": _round(self.cost_usd, 8),
            "top_errors": None if self.top_errors is None else [e.to_json() for e in self.top_errors],
            "other_errors": None if self.top_errors is None else self.other_errors,
        }


def _round(value: float | None, digits: int = 2) -> float | None:
    """Rounded for output; a value that is not finite is not a number to show (`--format json` stays strict)."""
    return None if value is None or not math.isfinite(value) else round(value, digits)


@dataclass(slots=True)
class IngestResult:
    functions: list[FunctionSummary]
    stats: IngestStats
    samples: list[Sample]
    infos: list[FunctionInfo]
    coverage: list[Coverage] = field(default_factory=list)
    """Per scope, from its first minute with a record to the end of its last: what `--store` may call read."""
    errors: list[ErrorObservation] = field(default_factory=list)
    """Per function, signature and minute, for --store (only when per-minute samples are built)."""
    error_coverage: list[ErrorCoverage] = field(default_factory=list)
    """Per function, the span its errors were read over (only from a reader that reads error records)."""

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
        self._totals: dict[str, EventTotals] = {}
        self._buckets: dict[tuple[str, int], EventTotals] = {}
        self._where: dict[str, tuple[str, str]] = {}
        self._errors: dict[str, ErrorTally] = {}

    def add_all(self, events: Iterable[LogEvent]) -> None:
        totals = self._totals
        minutes = self.minutes
        for event in events:
            if type(event) is ErrorEvent:
                self._error(event)
                continue
            acc = totals.get(event.function)
            if acc is None:
                acc = totals[event.function] = EventTotals()
                account = getattr(event, "account", None) or self.account
                region = getattr(event, "region", None) or self.region
                self._where[event.function] = (account, region)
            acc.add(event)
            if minutes and event.at is not None:
                minute = to_epoch(event.at) // 60
                bucket = self._buckets.get((event.function, minute))
                if bucket is None:
                    bucket = self._buckets[(event.function, minute)] = EventTotals()
                bucket.add(event)

    def _error(self, event: ErrorEvent) -> None:
        tally = self._errors.get(event.function)
        if tally is None:
            tally = self._errors[event.function] = ErrorTally(per_minute=self.minutes)
            if event.function not in self._where:
                self._where[event.function] = (event.account or self.account, event.region or self.region)
        tally.add(event)

    def result(self) -> IngestResult:
        summaries = []
        infos = []
        read_errors = self.stats.errors_read or bool(self._errors)
        for name in sorted(self._totals.keys() | self._errors.keys()):
            acc = self._totals.get(name)
            account, region = self._where[name]
            info = FunctionInfo(FunctionKey(self.provider, account, region, name),
                                memory_mb=acc.memory_size_mb if acc else None)
            infos.append(info)
            tally = self._errors.get(name)
            errors = _top_errors(tally) if tally else (() if read_errors else None)
            other = tally.other if tally else 0
            if acc is None:  # only error records: how often it ran is not in the input (unknown, not 0)
                summaries.append(FunctionSummary(name, _Measures(), None, 0, None, None, None, None, errors, other))
                continue
            m = acc.measures()
            summaries.append(
                FunctionSummary(
                    function=name, measures=m, timeouts=acc.timeouts, failed_inits=acc.failed_inits,
                    init_max_ms=acc.init_max, memory_size_mb=acc.memory_size_mb, cost_usd=cost_usd(m, info, self.price),
                    percentiles_exact=acc.durations.exact if acc.durations.count else None,
                    top_errors=errors, other_errors=other,
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
        observations = [o for name, tally in sorted(self._errors.items()) for o in tally.observations(by_name[name])]
        error_coverage = _coverage(samples, observations) if read_errors and self.minutes else []
        return IngestResult(summaries, self.stats, samples, infos, coverage, observations, error_coverage)


def _top_errors(tally: ErrorTally) -> tuple[TopError, ...]:
    return tuple(
        TopError(sig, t.error_type, t.count, t.first_at, t.last_at, t.sample, t.sample_id)
        for sig, t in tally.top(TOP_ERRORS)
    )


def _coverage(samples: Iterable[Sample], observations: Iterable[ErrorObservation]) -> list[ErrorCoverage]:
    """Per function, from its first to the end of its last minute in the input: errors were read there."""
    spans: dict[FunctionKey, tuple[int, int]] = {}
    minutes = chain(((s.key, to_epoch(s.start)) for s in samples), ((o.key, to_epoch(o.minute)) for o in observations))
    for key, start in minutes:
        low, high = spans.get(key, (start, start))
        spans[key] = (min(low, start), max(high, start))
    return [ErrorCoverage((key,), from_epoch(low), from_epoch(high + 60)) for key, (low, high) in sorted(spans.items())]


def _fields(m: _Measures) -> dict[str, Any]:
    return {name: getattr(m, name) for name in m.__dataclass_fields__}
