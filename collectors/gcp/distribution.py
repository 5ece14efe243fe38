"""Percentiles from Cloud Monitoring distributions, with the width of the bucket each came from.

A `Distribution` (https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TypedValue#Distribution) carries
`count`, `mean`, optionally `range` (min/max), `bucketOptions` and `bucketCounts`. Bucket 0 is the underflow
bucket (-inf, first bound), the last is the overflow bucket (last bound, +inf); `bucketCounts` may be shorter
than the number of buckets (trailing zeros omitted). Bounds per `bucketOptions`:
- linear: `offset + width * (i - 1)` for the lower bound of bucket i (1 <= i <= numFiniteBuckets);
- exponential: `scale * growthFactor ** (i - 1)`;
- explicit: `bounds[i - 1]`.

The p-th percentile is taken at nearest rank k = ceil(p * count) (the rank the logs path reports exactly),
located in its bucket, and interpolated linearly inside that bucket. The exact value lies in the same bucket,
so the error is at most the bucket's width, which is returned with it. Durations are never negative, so the
underflow bucket's lower bound is taken as 0; a percentile in the overflow bucket is unknown (None) unless the
distribution carries its `range`, whose max bounds it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Percentile:
    value: float
    width: float
    """Width of the bucket the value was interpolated in: the most it can differ from the exact percentile."""


def bucket_bounds(options: Any) -> list[float]:
    """The finite bounds b0 < b1 < ... of a protobuf `Distribution.BucketOptions` (N finite buckets: N+1)."""
    kind = options.WhichOneof("options")
    if kind == "linear_buckets":
        lin = options.linear_buckets
        return [lin.offset + lin.width * i for i in range(lin.num_finite_buckets + 1)]
    if kind == "exponential_buckets":
        exp = options.exponential_buckets
        return [exp.scale * exp.growth_factor**i for i in range(exp.num_finite_buckets + 1)]
    if kind == "explicit_buckets":
        return list(options.explicit_buckets.bounds)
    return []


def percentiles(
    bounds: list[float], counts: list[int], quantiles: tuple[float, ...], *, low: float = 0.0,
    high: float | None = None,
) -> list[Percentile | None]:
    """Nearest-rank percentiles interpolated within their bucket. `counts[0]` is the underflow bucket.

    `low`: the smallest possible value (the underflow bucket's lower edge); `high`: the distribution's max if
    known (the overflow bucket's upper edge), else a percentile that falls there is None."""
    total = sum(counts)
    out: list[Percentile | None] = []
    for q in quantiles:
        if total <= 0:
            out.append(None)
            continue
        rank = max(1, math.ceil(q * total - 1e-9))
        seen = 0
        result: Percentile | None = None
        for i, count in enumerate(counts):
            if count <= 0 or seen + count < rank:
                seen += count
                continue
            lower = low if i == 0 else bounds[i - 1]
            upper = bounds[i] if i < len(bounds) else high
            if upper is None or not bounds:
                break
            if i == 0:
                upper = min(upper, bounds[0])
            fraction = (rank - seen - 0.5) / count  # the k-th of `count` values spread evenly in the bucket
            result = Percentile(lower + (upper - lower) * fraction, upper - lower)
            break
        out.append(result)
    return out


@dataclass(slots=True)
class DistributionSum:
    """Distributions of one function and minute added up (the server already sums across series; pages or
    several series of one key are added here). Bucket layouts must agree, as they do for one metric."""

    count: int = 0
    total: float = 0.0
    bounds: list[float] | None = None
    counts: list[int] | None = None
    max: float | None = None
    mixed: bool = False
    """Two different bucket layouts were added: percentiles are unknown."""

    def add(self, dist: Any) -> None:
        if dist.count <= 0:
            return
        self.count += dist.count
        self.total += dist.mean * dist.count
        if dist.HasField("range"):
            self.max = dist.range.max if self.max is None else max(self.max, dist.range.max)
        bounds = bucket_bounds(dist.bucket_options)
        counts = list(dist.bucket_counts)
        if self.bounds is None:
            self.bounds = bounds
            self.counts = counts + [0] * (len(bounds) + 1 - len(counts))
            return
        if bounds != self.bounds:
            self.mixed = True
            return
        assert self.counts is not None
        for i, c in enumerate(counts):
            self.counts[i] += c

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def percentiles(self, quantiles: tuple[float, ...]) -> list[Percentile | None]:
        if self.mixed or self.bounds is None or self.counts is None:
            return [None] * len(quantiles)
        return percentiles(self.bounds, self.counts, quantiles, high=self.max)
