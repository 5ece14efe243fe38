"""GCP function events -> one-minute `Sample`s and `FunctionInfo`s (pure, no I/O).

Counting rules (documented in the README):
- invocations exclude platform rejections (429 / "no available instance"), which are throttles,
  the same convention as AWS, so `throttle_rate = throttles / (invocations + throttles)`.
- gen1 has neither a cold-start marker nor logged rejections: `cold_starts` and `throttles` stay None.
- gen2 `cold_starts` counts `Starting new instance. Reason: AUTOSCALING` only; DEPLOYMENT_ROLLOUT and
  MIN_INSTANCE starts are kept apart (`InstanceStarts.other`) because no request waited on them.
- Durations are exact per bucket (every logged duration is kept for the minute), percentiles by
  linear interpolation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from opsview.collectors.gcp.entries import GcpEvent, Generation, InstanceStart, Invocation
from opsview.schema import FunctionInfo, FunctionKey, Sample, from_epoch

PERIOD_S = 60


@dataclass(slots=True)
class _Bucket:
    invocations: int = 0
    errors: int = 0
    throttles: int = 0
    cold_starts: int = 0
    durations: list[float] = field(default_factory=list)


@dataclass(slots=True)
class InstanceStarts:
    """Instance starts of one gen2 function that are not cold starts of traffic, by reason."""

    other: Counter[str] = field(default_factory=Counter)
    last_at: dict[str, datetime] = field(default_factory=dict)


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on a sorted, non-empty list."""
    rank = q * (len(sorted_values) - 1)
    low = int(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


class BucketAccumulator:
    """Fold events into per-function, per-minute buckets; memory grows with functions x minutes."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[FunctionKey, int], _Bucket] = {}
        self._generation: dict[FunctionKey, Generation] = {}
        self._keys: dict[tuple[str, ...], FunctionKey] = {}
        self._minutes: dict[datetime, int] = {}
        self.starts: dict[FunctionKey, InstanceStarts] = {}

    def add_all(self, events: Iterable[GcpEvent]) -> None:
        for event in events:
            self.add(event)

    def add(self, event: GcpEvent) -> None:
        # Both event types start with (project, region, function): one slice names the function.
        where = event[:3]
        key = self._keys.get(where)
        if key is None:  # building a FunctionKey per entry would cost more than parsing it
            key = self._keys[where] = FunctionKey("gcp", *where)
        if type(event) is InstanceStart:
            self._generation.setdefault(key, Generation.GEN2)
            if not event.cold_start:
                starts = self.starts.setdefault(key, InstanceStarts())
                starts.other[event.reason] += 1
                previous = starts.last_at.get(event.reason)
                if previous is None or event.at > previous:
                    starts.last_at[event.reason] = event.at
                return
            self._bucket(key, event.at).cold_starts += 1
            return
        assert type(event) is Invocation
        self._generation[key] = event.generation
        bucket = self._bucket(key, event.at)
        if event.throttled:
            bucket.throttles += 1
            return
        bucket.invocations += 1
        if event.error:
            bucket.errors += 1
        if event.duration_ms is not None:
            bucket.durations.append(event.duration_ms)

    def _bucket(self, key: FunctionKey, at: datetime) -> _Bucket:
        minute = self._minutes.get(at)
        if minute is None:  # entries of one window share their seconds: convert each once
            minute = self._minutes[at] = int(at.timestamp()) // PERIOD_S  # tz-aware: `entries` makes UTC times
        slot = (key, minute)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = _Bucket()
        return bucket

    def generation(self, key: FunctionKey) -> Generation:
        return self._generation.get(key, Generation.GEN2)

    def functions(self) -> list[FunctionInfo]:
        return [
            FunctionInfo(
                key,
                resource_id=f"projects/{key.account}/locations/{key.region}/functions/{key.name}",
                labels={"generation": str(gen)},
            )
            for key, gen in sorted(self._generation.items())
        ]

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        for (key, minute), b in sorted(self._buckets.items(), key=lambda item: (item[0][0], item[0][1])):
            gen1 = self._generation.get(key) is Generation.GEN1
            durations = sorted(b.durations)
            has = bool(durations)
            out.append(
                Sample(
                    key=key,
                    start=from_epoch(minute * PERIOD_S),
                    period_s=PERIOD_S,
                    invocations=b.invocations,
                    errors=b.errors,
                    throttles=None if gen1 else b.throttles,
                    cold_starts=None if gen1 else b.cold_starts,
                    duration_avg_ms=sum(durations) / len(durations) if has else None,
                    duration_p50_ms=quantile(durations, 0.50) if has else None,
                    duration_p95_ms=quantile(durations, 0.95) if has else None,
                    duration_p99_ms=quantile(durations, 0.99) if has else None,
                    duration_max_ms=durations[-1] if has else None,
                )
            )
        return out
