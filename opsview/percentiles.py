"""Duration percentiles of log events: exact nearest-rank while small, a log-bucket sketch beyond.

The one rule, for `opsview ingest` and for live collection from logs (GCP) alike:

- **Nearest rank.** The q-th percentile of n values is the smallest value x such that at least q*n of the
  values are <= x (so p99 of two values is the larger one, and p50 of 1, 2, 3, 4 is 2). With weights (an
  Azure row with `ItemCount = k` stands for k requests), "at least q*W of the total weight W".
- **Exact up to `EXACT_LIMIT` values** per function and bucket: every value is kept.
- **Beyond, a sketch** in constant memory: values fall into log-spaced buckets (gamma = 1.02, as DDSketch
  does) and a percentile is its bucket's midpoint, clamped to the smallest and largest value seen; that is
  within `RELATIVE_ERROR` (1 %) of the exact nearest-rank value. On the 10,001st value the kept values are
  folded into the sketch, so memory per function and bucket never exceeds `EXACT_LIMIT` values.

Durations are >= 0 (the readers refuse negative ones); the sketch counts 0 exactly.
"""

from __future__ import annotations

import functools
import math
import sys
from collections import Counter
from collections.abc import Sequence
from fractions import Fraction
from typing import TYPE_CHECKING, Final, TypeAlias

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# Values of a bulk batch: a list, or a numpy array straight from a columnar reader (numpy is imported lazily).
FloatColumn: TypeAlias = "Sequence[float] | NDArray[np.float64]"

EXACT_LIMIT: Final = 10_000
"""Values kept per function and bucket before they are folded into the sketch."""
RELATIVE_ERROR: Final = 0.01
"""Bound on a sketch percentile's error relative to the exact nearest-rank value ((gamma-1)/(gamma+1) < 1 %)."""

_NUMPY_BATCH = 512  # from this many values on, `LogSketch.add_many` works on a numpy array


@functools.cache
def _fraction(q: float) -> Fraction:
    """`q` as the decimal it was written as (0.95 is 19/20), so q*n has no binary rounding to mis-rank."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"a percentile is in (0, 1], got {q!r}")
    return Fraction(repr(q))


def rank(q: float, total: int) -> int:
    """The 1-based nearest rank: the smallest k with k >= q * total (at least 1)."""
    f = _fraction(q)
    return max(1, -(-f.numerator * total // f.denominator))


def nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile of a sorted, non-empty sequence by the nearest-rank rule."""
    return sorted_values[rank(q, len(sorted_values)) - 1]


def _numpy_loaded() -> bool:
    return "numpy" in sys.modules


class LogSketch:
    """Counts per log-spaced bucket: constant memory, percentiles within 1 % (see the module docstring)."""

    _GAMMA = 1.02  # (gamma - 1) / (gamma + 1) ~= 0.0099
    _LOG_GAMMA = math.log(_GAMMA)

    __slots__ = ("buckets", "count", "zeros", "min", "max")

    def __init__(self) -> None:
        self.buckets: dict[int, int] = {}  # i -> weight of the values in (gamma^(i-1), gamma^i]
        self.count = 0
        self.zeros = 0
        self.min: float | None = None
        self.max: float | None = None

    def add(self, value: float, weight: int = 1) -> None:
        self.count += weight
        if self.max is None or value > self.max:
            self.max = value
        if self.min is None or value < self.min:
            self.min = value
        if value <= 0.0:
            self.zeros += weight
            return
        index = math.ceil(math.log(value) / self._LOG_GAMMA)
        self.buckets[index] = self.buckets.get(index, 0) + weight

    def add_many(self, values: FloatColumn) -> None:
        """Same result as `add` for each value, with the per-value work in C (numpy for large batches)."""
        if len(values) == 0:
            return
        # numpy when the caller already loaded it (its import alone outweighs a small input's savings)
        if len(values) >= _NUMPY_BATCH and _numpy_loaded() and self._add_array(values):
            return
        self.count += len(values)
        bottom = min(values)
        self._extremes(max(values), bottom)
        positive = values
        if bottom <= 0.0:
            positive = [v for v in values if v > 0.0]
            self.zeros += len(values) - len(positive)
        # x / log(gamma), the exact float operation `add` does
        scaled = map(self._LOG_GAMMA.__rtruediv__, map(math.log, positive))
        buckets = self.buckets
        for index, n in Counter(map(math.ceil, scaled)).items():
            buckets[index] = buckets.get(index, 0) + n

    def _extremes(self, top: float, bottom: float) -> None:
        if self.max is None or top > self.max:
            self.max = top
        if self.min is None or bottom < self.min:
            self.min = bottom

    def _add_array(self, values: FloatColumn) -> bool:
        """`add_many` on a numpy array; False (nothing added) when a value is not finite."""
        import numpy as np

        array = np.asarray(values, dtype=np.float64)
        top, bottom = float(array.max()), float(array.min())
        if not (math.isfinite(top) and math.isfinite(bottom)):  # inf or nan: `add`'s path
            return False
        self.count += len(array)
        self._extremes(top, bottom)
        positive = array[array > 0.0]
        self.zeros += len(array) - len(positive)
        if not len(positive):
            return True
        scaled = np.log(positive) / self._LOG_GAMMA
        indices = np.ceil(scaled)
        # numpy's log may differ from libm's in the last bit; where that could move a value to the next bucket
        # (scaled within a hair of an integer), take `add`'s exact path so the buckets are the same.
        near = np.abs(scaled - np.rint(scaled)) < 1e-9
        if near.any():
            indices[near] = [math.ceil(math.log(v) / self._LOG_GAMMA) for v in positive[near].tolist()]
        ints = indices.astype(np.int64)
        low = int(ints.min())
        counts = np.bincount(ints - low)
        found = np.flatnonzero(counts)
        buckets = self.buckets
        for index, n in zip((found + low).tolist(), counts[found].tolist(), strict=True):
            buckets[index] = buckets.get(index, 0) + n
        return True

    def quantile(self, q: float) -> float | None:
        """The nearest-rank percentile to within 1 %: the midpoint of the bucket holding that rank."""
        if self.count == 0 or self.max is None or self.min is None:
            return None
        wanted = rank(q, self.count)
        if wanted <= self.zeros:
            return 0.0
        seen = self.zeros
        for index in sorted(self.buckets):
            seen += self.buckets[index]
            if seen >= wanted:
                # midpoint of (gamma^(i-1), gamma^i]: within 1 % of every value in it; the true value lies
                # between the smallest and largest seen, so clamping only brings it closer
                value = 2.0 * self._GAMMA**index / (self._GAMMA + 1.0)
                return min(max(value, self.min), self.max)
        return self.max


class DurationDigest:
    """The durations of one function and bucket: kept exactly up to `EXACT_LIMIT` values, then a `LogSketch`.

    Weights are whole numbers (sampled rows); while every weight is 1 none is stored.
    """

    __slots__ = ("values", "weights", "sketch")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.weights: list[int] | None = None  # parallel to `values` once some weight is not 1
        self.sketch: LogSketch | None = None

    def add(self, value: float, weight: int = 1) -> None:
        if self.sketch is not None:
            self.sketch.add(value, weight)
            return
        self.values.append(value)
        if weight != 1 or self.weights is not None:
            if self.weights is None:
                self.weights = [1] * (len(self.values) - 1)
            self.weights.append(weight)
        if len(self.values) > EXACT_LIMIT:
            self._fold()

    def add_many(self, values: FloatColumn) -> None:
        """Each of `values` with weight 1 (a reader's bulk batch)."""
        if len(values) == 0:
            return
        if self.sketch is None and len(self.values) + len(values) <= EXACT_LIMIT:
            self.values.extend(values if isinstance(values, Sequence) else values.tolist())
            if self.weights is not None:
                self.weights.extend([1] * len(values))
            return
        if self.sketch is None:
            self._fold()
        assert self.sketch is not None
        self.sketch.add_many(values)

    def _fold(self) -> None:
        sketch = self.sketch = LogSketch()
        if self.weights is None:
            sketch.add_many(self.values)
        else:
            for value, weight in zip(self.values, self.weights, strict=True):
                sketch.add(value, weight)
        self.values = []
        self.weights = None

    @property
    def exact(self) -> bool:
        return self.sketch is None

    @property
    def count(self) -> int:
        """The total weight (the number of invocations with a duration)."""
        if self.sketch is not None:
            return self.sketch.count
        return len(self.values) if self.weights is None else sum(self.weights)

    @property
    def max(self) -> float | None:
        if self.sketch is not None:
            return self.sketch.max
        return max(self.values) if self.values else None

    def quantiles(self, *qs: float) -> list[float | None]:
        """Several percentiles at once (one sort)."""
        if self.sketch is not None:
            sketch = self.sketch
            return [sketch.quantile(q) for q in qs]
        if not self.values:
            return [None] * len(qs)
        if self.weights is None:
            ordered = sorted(self.values)
            return [nearest_rank(ordered, q) for q in qs]
        pairs = sorted(zip(self.values, self.weights, strict=True))
        total = sum(self.weights)
        out: list[float | None] = []
        for q in qs:
            wanted = rank(q, total)
            seen = 0
            for value, weight in pairs:
                seen += weight
                if seen >= wanted:
                    out.append(value)
                    break
        return out

    def quantile(self, q: float) -> float | None:
        return self.quantiles(q)[0]
