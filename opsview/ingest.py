"""Offline analysis of exported logs (`opsview ingest`): the provider-neutral half.

A provider reader (`opsview.collectors.<cloud>.ingest`) turns lines or JSON records into log events
(`opsview.logevents`); this module folds them per function (and per function-minute for `--store`) with
`EventTotals`, in memory bounded by the number of functions and minutes, never by the file size: exact
nearest-rank percentiles up to 10,000 durations per function and bucket, a sketch within 1 % beyond
(`opsview.percentiles`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from opsview.logevents import EventTotals, LogEvent
from opsview.schema import FunctionInfo, FunctionKey, Price, Sample, cost_usd, from_epoch, to_epoch
from opsview.schema import Measures as _Measures


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
    ) -> Iterator[LogEvent]:
        """Yield events from one input; count every line (or record) read and every one skipped."""
        ...


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
            "percentiles_exact": self.percentiles_exact,
            "init_avg_ms": _round(m.init_avg_ms),
            "init_max_ms": _round(self.init_max_ms),
            "memory_size_mb": self.memory_size_mb,
            "memory_used_max_mb": m.memory_used_max_mb,
            "billed_ms": _round(m.billed_ms),
            "cost_usd": _round(self.cost_usd, 8),
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

    def add_all(self, events: Iterable[LogEvent]) -> None:
        totals = self._totals
        minutes = self.minutes
        for event in events:
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
                    percentiles_exact=acc.durations.exact if acc.durations.count else None,
                )
            )
        by_name = {i.key.name: i.key for i in infos}
        samples = [
            Sample(key=by_name[name], start=from_epoch(minute * 60), period_s=60, **_fields(acc.measures()))
            for (name, minute), acc in sorted(self._buckets.items())
        ]
        return IngestResult(summaries, self.stats, samples, infos)


def _fields(m: _Measures) -> dict[str, Any]:
    return {name: getattr(m, name) for name in m.__dataclass_fields__}
