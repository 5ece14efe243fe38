"""Percentiles from Cloud Monitoring distributions (bucket layouts per
https://cloud.google.com/monitoring/api/ref_v3/rest/v3/TypedValue#Distribution)."""

from __future__ import annotations

import math
import random

import pytest
from google.api import distribution_pb2

from opsview.collectors.gcp.distribution import DistributionSum, bucket_bounds, percentiles


def _dist(values: list[float], options: distribution_pb2.Distribution.BucketOptions,
          with_range: bool = False) -> distribution_pb2.Distribution:
    bounds = bucket_bounds(options)
    counts = [0] * (len(bounds) + 1)
    for v in values:
        counts[sum(1 for b in bounds if v >= b)] += 1
    last = max(i for i, c in enumerate(counts) if c)
    dist = distribution_pb2.Distribution(count=len(values), mean=sum(values) / len(values), bucket_options=options,
                                         bucket_counts=counts[:last + 1])  # trailing zeros left out, as allowed
    if with_range:
        dist.range.min, dist.range.max = min(values), max(values)
    return dist


def _options(kind: str) -> distribution_pb2.Distribution.BucketOptions:
    options = distribution_pb2.Distribution.BucketOptions()
    if kind == "linear":
        options.linear_buckets.num_finite_buckets = 50
        options.linear_buckets.width = 20.0
        options.linear_buckets.offset = 0.0
    elif kind == "exponential":
        options.exponential_buckets.num_finite_buckets = 60
        options.exponential_buckets.growth_factor = 1.3
        options.exponential_buckets.scale = 1.0
    else:
        options.explicit_buckets.bounds.extend([0, 5, 10, 25, 50, 100, 250, 500, 1000, 2500])
    return options


def test_bounds_follow_each_documented_layout() -> None:
    assert bucket_bounds(_options("linear"))[:3] == [0.0, 20.0, 40.0]
    assert bucket_bounds(_options("exponential"))[:3] == pytest.approx([1.0, 1.3, 1.69])
    assert bucket_bounds(_options("explicit"))[-1] == 2500


@pytest.mark.parametrize("kind", ["linear", "exponential", "explicit"])
def test_each_percentile_lies_within_its_recorded_width_of_the_exact_nearest_rank(kind: str) -> None:
    rng = random.Random(3)
    values = sorted(rng.lognormvariate(4.0, 0.7) for _ in range(997))
    total = DistributionSum()
    total.add(_dist(values[:500], _options(kind)))
    total.add(_dist(values[500:], _options(kind)))  # two series of one function, summed bucket by bucket
    assert total.count == 997
    assert total.mean == pytest.approx(sum(values) / 997)
    for q, p in zip((0.5, 0.95, 0.99), total.percentiles((0.5, 0.95, 0.99)), strict=True):
        exact = values[math.ceil(q * 997) - 1]
        assert p is not None
        assert abs(p.value - exact) <= p.width


def test_a_percentile_in_the_overflow_bucket_is_unknown_unless_the_range_bounds_it() -> None:
    values = [10.0] * 90 + [5000.0] * 10  # above the explicit layout's last bound (2500)
    total = DistributionSum()
    total.add(_dist(values, _options("explicit")))
    p50, p99 = total.percentiles((0.5, 0.99))
    assert p50 is not None
    assert p50.width == 15.0  # bucket [10, 25)
    assert p99 is None
    assert total.max is None
    ranged = DistributionSum()
    ranged.add(_dist(values, _options("explicit"), with_range=True))
    [p99] = ranged.percentiles((0.99,))
    assert p99 is not None
    assert 2500 <= p99.value <= 5000
    assert ranged.max == 5000.0


def test_two_bucket_layouts_cannot_be_mixed() -> None:
    total = DistributionSum()
    total.add(_dist([1.0, 2.0], _options("linear")))
    total.add(_dist([1.0, 2.0], _options("explicit")))
    assert total.percentiles((0.5,)) == [None]
    assert percentiles([1.0, 2.0], [0, 0, 0], (0.5,)) == [None]
