"""`opsview.percentiles`: the one percentile rule of log events (exact nearest-rank, then a 1 % sketch)."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opsview.percentiles as percentiles
from opsview.percentiles import EXACT_LIMIT, RELATIVE_ERROR, DurationDigest, LogSketch, nearest_rank, rank

QS = (0.5, 0.95, 0.99)


def _by_definition(values: list[float], q: float) -> float:
    """The README's words, literally: the smallest value x such that at least q*n values are <= x."""
    n = len(values)
    return min(x for x in values if sum(v <= x for v in values) >= q * n - 1e-9 * n)


def test_two_values_p95_and_p99_are_the_slow_one() -> None:
    """The issue's two-line file: 1.15 ms and 2599.4 ms. Interpolating or rounding down hid the slow call."""
    digest = DurationDigest()
    digest.add(1.15)
    digest.add(2599.4)
    assert digest.quantiles(*QS) == [1.15, 2599.4, 2599.4]


@pytest.mark.parametrize(("n", "q", "expected"), [
    (4, 0.5, 2), (5, 0.5, 3), (20, 0.95, 19), (100, 0.99, 99), (100, 0.95, 95), (101, 0.99, 100), (1, 0.99, 1),
    (100, 0.07, 7),  # 0.07 * 100 is 7.000000000000001 in binary floating point: still rank 7
])
def test_rank_is_the_ceiling_of_q_n(n: int, q: float, expected: int) -> None:
    assert rank(q, n) == expected


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200),
       st.sampled_from([0.01, 0.07, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0]))
def test_exact_path_matches_the_definition(values: list[float], q: float) -> None:
    digest = DurationDigest()
    for v in values:
        digest.add(v)
    assert digest.quantile(q) == _by_definition(values, q) == nearest_rank(sorted(values), q)


@given(st.lists(st.tuples(st.floats(min_value=0, max_value=1e5, allow_nan=False), st.integers(1, 10_000)),
                min_size=1, max_size=60), st.sampled_from(QS))
def test_weights_count_as_repeated_values(rows: list[tuple[float, int]], q: float) -> None:
    """A sampled row with ItemCount k is k requests of that duration, without k entries in memory."""
    weighted = DurationDigest()
    for value, weight in rows:
        weighted.add(value, weight)
    repeated = sorted(v for v, w in rows for _ in range(w))
    assert weighted.count == len(repeated)
    assert weighted.quantile(q) == nearest_rank(repeated, q)
    assert len(weighted.values) == len(rows)


def test_weighted_values_fold_into_the_sketch_with_their_weights() -> None:
    rng = random.Random(6)
    rows = [(rng.lognormvariate(3, 1), rng.randint(1, 50)) for _ in range(EXACT_LIMIT + 1)]
    digest = DurationDigest()
    for value, weight in rows:
        digest.add(value, weight)
    assert not digest.exact
    repeated = sorted(v for v, w in rows for _ in range(w))
    assert digest.count == len(repeated)
    for q, got in zip(QS, digest.quantiles(*QS), strict=True):
        exact = nearest_rank(repeated, q)
        assert got is not None
        assert abs(got - exact) <= RELATIVE_ERROR * exact


def test_exact_up_to_the_limit_then_a_sketch_within_one_percent() -> None:
    rng = random.Random(5)
    values = [rng.lognormvariate(4, 1.5) for _ in range(EXACT_LIMIT)]
    digest = DurationDigest()
    for v in values:
        digest.add(v)
    ordered = sorted(values)
    assert digest.exact
    assert digest.quantiles(*QS) == [nearest_rank(ordered, q) for q in QS]
    values += [rng.lognormvariate(4, 1.5) for _ in range(EXACT_LIMIT * 3)]
    for v in values[EXACT_LIMIT:]:
        digest.add(v)
    ordered = sorted(values)
    assert not digest.exact
    assert digest.values == []  # folded: memory no longer grows with the values
    assert digest.count == len(values)
    assert digest.max == ordered[-1]
    for q, got in zip(QS, digest.quantiles(*QS), strict=True):
        exact = nearest_rank(ordered, q)
        assert got is not None
        assert abs(got - exact) <= RELATIVE_ERROR * exact


def test_sketch_keeps_the_one_slow_call_at_p99_and_zeros_exact() -> None:
    digest = DurationDigest()
    digest.add_many([0.0] * 5000 + [1.0] * 9000 + [3000.0] * 200)
    assert not digest.exact
    p50, p95, p99 = digest.quantiles(*QS)
    assert p50 == pytest.approx(1.0, rel=RELATIVE_ERROR)
    assert p95 == pytest.approx(1.0, rel=RELATIVE_ERROR)
    assert p99 == pytest.approx(3000.0, rel=RELATIVE_ERROR)  # 200 of 14,200 calls: above the 99th percentile
    assert digest.quantile(0.3) == 0.0


@given(st.lists(st.floats(min_value=1e-3, max_value=1e7, allow_nan=False), min_size=1, max_size=400),
       st.sampled_from(QS))
@settings(max_examples=50)
def test_sketch_within_stated_error_of_the_exact_value(values: list[float], q: float) -> None:
    sketch = LogSketch()
    for v in values:
        sketch.add(v)
    exact = nearest_rank(sorted(values), q)
    got = sketch.quantile(q)
    assert got is not None
    assert abs(got - exact) <= RELATIVE_ERROR * exact


def test_bulk_and_one_by_one_fold_the_same() -> None:
    """A reader's bulk batches and its line-by-line path give the same digest, in any order of batches."""
    rng = random.Random(9)
    values = [rng.lognormvariate(4, 1.5) for _ in range(EXACT_LIMIT + 5000)] + [0.0, 1e-3, 120000.0]
    one, many = DurationDigest(), DurationDigest()
    for value in values:
        one.add(value)
    for start in range(0, len(values), 777):
        many.add_many(values[start:start + 777])
    assert many.quantiles(*QS) == one.quantiles(*QS)
    assert (many.count, many.max) == (one.count, one.max)


@pytest.mark.parametrize("use_numpy", [True, False])
def test_sketch_add_many_equals_adding_one_by_one(use_numpy: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of `add_many`: numpy (when it is loaded), else `map`/`Counter`."""
    import numpy  # noqa: F401 (loaded, as the bulk reader loads it)

    monkeypatch.setattr(percentiles, "_numpy_loaded", lambda: use_numpy)
    rng = random.Random(9)
    values = [rng.lognormvariate(4, 1.5) for _ in range(5000)] + [0.0, 0.0, 1e-3, 120000.0]
    one, many = LogSketch(), LogSketch()
    for value in values:
        one.add(value)
    many.add_many(values[:1000])
    many.add_many(values[1000:])
    assert (many.count, many.zeros, many.max, many.min, many.buckets) == (
        one.count, one.zeros, one.max, one.min, one.buckets)


def test_sketch_numpy_path_equals_adding_one_by_one_at_bucket_edges() -> None:
    """Values on and beside bucket boundaries (gamma**k), where numpy's and libm's log could disagree."""
    import numpy  # noqa: F401

    gamma = 1.02
    edges = [gamma**k for k in range(-400, 700)]
    values = [v for e in edges for v in (e, math.nextafter(e, 0), math.nextafter(e, math.inf))]
    values += [0.0, 1.0, 5e-324, 1e300]
    one, many = LogSketch(), LogSketch()
    for value in values:
        one.add(value)
    many.add_many(values)
    assert (many.count, many.zeros, many.max, many.buckets) == (one.count, one.zeros, one.max, one.buckets)
