"""CloudWatch `GetMetricData` for a whole region at once: query building, period choice, result folding.

Pure (no I/O): `opsview.collectors.aws.collector` sends the batches this module builds and hands the pages back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from opsview.schema import COUNT_MEASURES, FunctionKey, Sample, finite_or_none, from_epoch, to_epoch

MAX_QUERIES: Final = 500  # per GetMetricData call
MAX_DATAPOINTS: Final = 100_800  # per GetMetricData call
NAMESPACE: Final = "AWS/Lambda"


@dataclass(frozen=True, slots=True)
class MetricSpec:
    suffix: str
    metric: str
    stat: str
    measure: str


METRICS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("inv", "Invocations", "Sum", "invocations"),
    MetricSpec("err", "Errors", "Sum", "errors"),
    MetricSpec("thr", "Throttles", "Sum", "throttles"),
    MetricSpec("avg", "Duration", "Average", "duration_avg_ms"),
    MetricSpec("p50", "Duration", "p50", "duration_p50_ms"),
    MetricSpec("p95", "Duration", "p95", "duration_p95_ms"),
    MetricSpec("p99", "Duration", "p99", "duration_p99_ms"),
    MetricSpec("max", "Duration", "Maximum", "duration_max_ms"),
    MetricSpec("conc", "ConcurrentExecutions", "Maximum", "concurrency_max"),
)
FUNCTIONS_PER_CALL: Final = MAX_QUERIES // len(METRICS)


def choose_period(start: datetime, end: datetime, queries: int) -> int:
    """Smallest multiple of 60 s that keeps `queries` x buckets within one call's datapoint limit."""
    window = max(60, to_epoch(end) - to_epoch(start))
    buckets_allowed = max(1, MAX_DATAPOINTS // max(1, queries))
    period = 60 * math.ceil(window / 60 / buckets_allowed)
    return max(60, period)


@dataclass(frozen=True, slots=True)
class MetricBatch:
    """One GetMetricData call's queries and how to read its answer back."""

    queries: list[dict[str, Any]]
    ids: Mapping[str, tuple[str, MetricSpec]]  # query id -> (function name, metric)


def build_batches(functions: Sequence[str], period: int) -> list[MetricBatch]:
    batches = []
    for offset in range(0, len(functions), FUNCTIONS_PER_CALL):
        queries: list[dict[str, Any]] = []
        ids: dict[str, tuple[str, MetricSpec]] = {}
        for index, name in enumerate(functions[offset : offset + FUNCTIONS_PER_CALL], start=offset):
            for spec in METRICS:
                query_id = f"f{index}_{spec.suffix}"  # ids must match ^[a-z][a-zA-Z0-9_]*$
                ids[query_id] = (name, spec)
                queries.append({
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": NAMESPACE, "MetricName": spec.metric,
                            "Dimensions": [{"Name": "FunctionName", "Value": name}],
                        },
                        "Period": period,
                        "Stat": spec.stat,
                    },
                    "ReturnData": True,
                })
        batches.append(MetricBatch(queries, ids))
    return batches


Buckets = dict[tuple[str, int], dict[str, float]]
"""(function name, bucket start epoch) -> measure -> value."""


def fold_results(batch: MetricBatch, results: Iterable[Mapping[str, Any]], into: Buckets) -> None:
    """Add one page's `MetricDataResults` to `into`; a missing datapoint stays absent (never 0)."""
    for result in results:
        target = batch.ids.get(str(result.get("Id")))
        if target is None:
            continue
        name, spec = target
        for ts, value in zip(result.get("Timestamps", []), result.get("Values", []), strict=False):
            checked = finite_or_none(float(value))
            if checked is None:
                continue
            into.setdefault((name, to_epoch(ts)), {})[spec.measure] = checked


def to_samples(buckets: Buckets, keys: Mapping[str, FunctionKey], period: int) -> list[Sample]:
    samples = []
    for (name, start), values in sorted(buckets.items()):
        key = keys.get(name)
        if key is None:
            continue
        fields: dict[str, Any] = {
            m: (int(round(v)) if m in COUNT_MEASURES else v) for m, v in values.items()
        }
        samples.append(Sample(key=key, start=from_epoch(start), period_s=period, **fields))
    return samples
