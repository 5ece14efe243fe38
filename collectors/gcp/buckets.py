"""GCP function events -> one-minute `Sample`s and `FunctionInfo`s (pure, no I/O).

Counting rules (documented in the README):
- invocations exclude platform rejections (429 / "no available instance"), which are throttles,
  the same convention as AWS, so `throttle_rate = throttles / (invocations + throttles)`.
- gen1 has neither a cold-start marker nor logged rejections: `cold_starts` and `throttles` stay None.
- gen2 `cold_starts` counts `Starting new instance. Reason: AUTOSCALING` only; DEPLOYMENT_ROLLOUT and
  MIN_INSTANCE starts are kept apart (`InstanceStarts.other`) because no request waited on them.
- Each (function, minute) folds into `opsview.logevents.EventTotals`, the accumulator `opsview ingest`
  uses too: percentiles are exact nearest-rank up to 10,000 durations per bucket, a sketch within 1 %
  beyond (`opsview.percentiles`), so `collect` and `ingest` give the same numbers for the same log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from opsview.collectors.gcp.entries import GcpEvent, Generation, InstanceStart, Invocation
from opsview.logevents import EventTotals
from opsview.schema import FunctionInfo, FunctionKey, Sample, from_epoch

PERIOD_S = 60


@dataclass(slots=True)
class InstanceStarts:
    """Instance starts of one gen2 function that are not cold starts of traffic, by reason."""

    other: Counter[str] = field(default_factory=Counter)
    last_at: dict[str, datetime] = field(default_factory=dict)


class BucketAccumulator:
    """Fold events into per-function, per-minute buckets; memory grows with functions x minutes."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[FunctionKey, int], EventTotals] = {}
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
            self._bucket(key, event.at).cold_start()
            return
        assert type(event) is Invocation
        self._generation[key] = event.generation
        bucket = self._bucket(key, event.at)
        if event.throttled:
            bucket.throttles += 1
            return
        bucket.invocation(event.duration_ms, event.error)

    def _bucket(self, key: FunctionKey, at: datetime) -> EventTotals:
        minute = self._minutes.get(at)
        if minute is None:  # entries of one window share their seconds: convert each once
            minute = self._minutes[at] = int(at.timestamp()) // PERIOD_S  # tz-aware: `entries` makes UTC times
        slot = (key, minute)
        bucket = self._buckets.get(slot)
        if bucket is None:
            bucket = self._buckets[slot] = EventTotals()
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
        for (key, minute), totals in sorted(self._buckets.items(), key=lambda item: (item[0][0], item[0][1])):
            gen1 = self._generation.get(key) is Generation.GEN1
            m = totals.measures()
            out.append(
                Sample(
                    key=key,
                    start=from_epoch(minute * PERIOD_S),
                    period_s=PERIOD_S,
                    invocations=m.invocations,
                    errors=m.errors,
                    throttles=None if gen1 else m.throttles,
                    cold_starts=None if gen1 else m.cold_starts or 0,
                    duration_avg_ms=m.duration_avg_ms,
                    duration_p50_ms=m.duration_p50_ms,
                    duration_p95_ms=m.duration_p95_ms,
                    duration_p99_ms=m.duration_p99_ms,
                    duration_max_ms=m.duration_max_ms,
                )
            )
        return out
