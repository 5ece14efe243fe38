"""Cloud Monitoring minutes (+ cold starts from the narrow log read) -> one-minute `Sample`s.

Unknown stays None, per measure and generation (README, "GCP: metrics mode"):
- gen1: throttles and cold starts (no marker in either API); billed time (no metric).
- gen2: concurrency (instances serve up to `concurrency` requests each: the instance count is not it); memory.
- both: `duration_max_ms` and memory used unless the distribution carries its `range`; a percentile that falls in
  the overflow bucket; cold starts of a refresh whose log read failed.
- gen2 cold starts of a function whose instances started (`startup_latencies` counted some) while the logs
  hold not one `Starting new instance` line for it in the window: its system logs are excluded from ingestion
  (or not yet arrived), so "no AUTOSCALING start found" does not mean none happened.
"""

from __future__ import annotations

from datetime import datetime

from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.distribution import Percentile
from opsview.collectors.gcp.metrics_path import QUANTILES, MetricsResult, MinuteMetrics
from opsview.schema import FunctionKey, Sample

NS_TO_MS = 1e-6
BYTES_TO_MB = 1 / (1024 * 1024)

Widths = dict[tuple[FunctionKey, datetime], tuple[float | None, float | None, float | None]]


def _scaled(p: Percentile | None, scale: float) -> tuple[float | None, float | None]:
    return (None, None) if p is None else (p.value * scale, p.width * scale)


def unseen_starts(result: MetricsResult, starts: BucketAccumulator) -> set[FunctionKey]:
    """gen2 functions whose instances started per Monitoring but that logged no instance start at all."""
    started: dict[FunctionKey, int] = {}
    for (key, _), m in result.minutes.items():
        started[key] = started.get(key, 0) + m.startup.count
    logged = {s.key for s in starts.samples() if s.cold_starts} | {k for k, v in starts.starts.items() if v.other}
    return {k for k, n in started.items() if n > 0 and k not in logged}


def to_samples(result: MetricsResult, starts: BucketAccumulator | None) -> tuple[list[Sample], Widths]:
    """`starts` None = the cold-start read failed: gen2 cold starts unknown."""
    cold: dict[tuple[FunctionKey, datetime], int] = {}
    blind: set[FunctionKey] = set()
    if starts is not None:
        for s in starts.samples():
            if s.cold_starts:
                cold[(s.key, s.start)] = s.cold_starts
        blind = unseen_starts(result, starts)
    slots = dict(result.minutes)
    for slot in cold:  # a minute with a cold start and no request point yet: its counts stay unknown
        slots.setdefault(slot, MinuteMetrics())
    samples: list[Sample] = []
    widths: Widths = {}
    for (key, minute), m in sorted(slots.items()):
        gen1 = result.generation.get(key, "gen2") == "gen1"
        scale = NS_TO_MS if gen1 else 1.0
        mean = m.duration.mean
        (p50, w50), (p95, w95), (p99, w99) = (_scaled(p, scale) for p in m.duration.percentiles(QUANTILES))
        if m.duration.count:
            widths[(key, minute)] = (w50, w95, w99)
        init_mean = m.startup.mean
        [init_p95] = m.startup.percentiles((0.95,))
        cold_starts = None if gen1 or starts is None or key in blind else cold.get((key, minute), 0)
        samples.append(Sample(
            key=key,
            start=minute,
            period_s=60,
            invocations=m.invocations,
            errors=m.errors,
            throttles=None if gen1 else m.throttles,
            cold_starts=cold_starts,
            duration_avg_ms=mean * scale if mean is not None else None,
            duration_p50_ms=p50,
            duration_p95_ms=p95,
            duration_p99_ms=p99,
            duration_max_ms=m.duration.max * scale if m.duration.max is not None else None,
            init_avg_ms=None if gen1 or init_mean is None else init_mean,
            init_p95_ms=None if gen1 or init_p95 is None else init_p95.value,
            concurrency_max=m.instances_max if gen1 else None,
            memory_used_max_mb=m.memory.max * BYTES_TO_MB if gen1 and m.memory.max is not None else None,
            billed_ms=None if gen1 else m.billed_ms,
        ))
    return samples, widths
