"""The common schema every collector produces and every viewer reads.

`None` always means "the provider did not report this"; `0` means it reported zero.
Aggregation over buckets and the derived measures live here and nowhere else: the
store's SQL aggregation is generated from `AGGREGATION` below, so the two cannot drift.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Final, NamedTuple


class Provider(enum.StrEnum):
    AWS = "aws"
    AZURE = "azure"
    GCP = "gcp"
    DEMO = "demo"


class FunctionKey(NamedTuple):
    """Identity of one function. Azure names are `app/function`.

    A NamedTuple rather than a dataclass: keys are hashed for every sample written, and a
    tuple hashes in C.
    """

    provider: str
    account: str
    region: str
    name: str

    def __str__(self) -> str:
        return f"{self.provider}/{self.account}/{self.region}/{self.name}"

    @classmethod
    def parse(cls, text: str) -> FunctionKey:
        """Inverse of `str()`: the name may itself hold slashes (Azure `app/function`)."""
        parts = text.split("/", 3)
        if len(parts) != 4 or not all(parts):
            raise ValueError(f"not a function key: {text!r} (expected provider/account/region/name)")
        return cls(*parts)


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    """What discovery knows about a function; every field but the key may be unknown."""

    key: FunctionKey
    runtime: str | None = None
    memory_mb: int | None = None
    timeout_s: float | None = None
    resource_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Measures:
    """The measures of one bucket, or of several buckets aggregated."""

    invocations: int | None = None
    errors: int | None = None
    throttles: int | None = None
    cold_starts: int | None = None
    duration_avg_ms: float | None = None
    duration_p50_ms: float | None = None
    duration_p95_ms: float | None = None
    duration_p99_ms: float | None = None
    duration_max_ms: float | None = None
    init_avg_ms: float | None = None
    init_p95_ms: float | None = None
    concurrency_max: float | None = None
    memory_used_max_mb: float | None = None
    billed_ms: float | None = None


MEASURE_NAMES: Final[tuple[str, ...]] = tuple(f.name for f in fields(Measures))
COUNT_MEASURES: Final[frozenset[str]] = frozenset({"invocations", "errors", "throttles", "cold_starts"})


def _compile_from_values(
    cls: type, leading: Sequence[str], name: str, present: Sequence[str] = MEASURE_NAMES
) -> Callable[..., Any]:
    # Generated code, kept because reads build tens of thousands of these per refresh and a frozen
    # dataclass's __init__ sets each field through object.__setattr__: with `cls(**dict(zip(...)))`
    # instead, bench/store.py's 24 h series read took 8.4-16.3 ms against 3.7-3.8 ms and bench/tui.py's
    # first paint 0.96-1.24 s against 0.39-0.43 s (bench/README.md). Built from the fields, it cannot drift.
    env: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    env.update({f"_l{i}": getattr(cls, f).__set__ for i, f in enumerate(leading)})
    env.update({f"_s{i}": getattr(cls, f).__set__ for i, f in enumerate(MEASURE_NAMES)})
    given = {f: f"v{i}" for i, f in enumerate(present)}
    body = [f"    {', '.join(given.values())}, = values"]  # a row of the wrong length fails here, loudly
    body += [f"    _l{i}(m, {f})" for i, f in enumerate(leading)]
    body += [f"    _s{i}(m, {given.get(f, 'None')})" for i, f in enumerate(MEASURE_NAMES)]
    params = ", ".join([*leading, "values"])
    source = f"def {name}({params}):\n    m = _new(_cls)\n" + "\n".join(body) + "\n    return m\n"
    exec(source, env)  # noqa: S102 - source built above from the dataclass's own field names
    fn: Callable[..., Any] = env[name]
    return fn


measures_from_values: Final[Callable[[Sequence[Any]], Measures]] = _compile_from_values(
    Measures, (), "measures_from_values"
)
"""`Measures` from its values in MEASURE_NAMES order (a database row), without the dataclass __init__."""


@functools.cache
def measures_from(present: tuple[str, ...]) -> Callable[[Sequence[Any]], Measures]:
    """Like `measures_from_values` for a row that holds only the measures `present` (in that order;
    at least one); the others are None. Reads that aggregate a few measures fetch no NULL columns."""
    if not present or not set(present) <= set(MEASURE_NAMES):
        raise ValueError(f"measures_from needs known measure names, got {present!r}")
    if present == MEASURE_NAMES:
        return measures_from_values
    fn: Callable[[Sequence[Any]], Measures] = _compile_from_values(Measures, (), "measures_from", present)
    return fn


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample(Measures):
    """One time bucket of one function. `start` is tz-aware UTC, aligned to `period_s`."""

    key: FunctionKey
    start: datetime
    period_s: int = 60

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("Sample.start must be timezone-aware (UTC)")
        if self.period_s <= 0:
            raise ValueError("Sample.period_s must be positive")


sample_from_row: Final[Callable[[FunctionKey, datetime, int, Sequence[Any]], Sample]] = _compile_from_values(
    Sample, ("key", "start", "period_s"), "sample_from_row"
)
"""`Sample` from a stored row (measures in MEASURE_NAMES order), without __init__ or its checks: for
rows the store wrote, whose start is tz-aware (`from_epoch`) and period positive."""


@dataclass(frozen=True, slots=True)
class CollectorHealth:
    """How one collection of one source (or one of its regions/accounts) went."""

    source: str
    provider: str
    at: datetime
    ok: bool
    error: str | None = None
    scope: str = ""  # region / account / workspace the entry speaks for; "" = the whole source
    functions: int = 0
    samples: int = 0
    duration_s: float = 0.0


EVERY_REGION: Final = "*"
"""`Coverage.region` of a read that covers every region of its account (a GCP project's logs)."""


@dataclass(frozen=True, slots=True)
class Coverage:
    """A span [start, end) that one collection read completely for one scope (provider, account, region).

    Within a covered span a minute without a sample had no traffic; outside every covered span a minute
    is unknown, like a measure a provider does not report. Rates divide by covered time, never by the
    window. A collection reports what it read, not what it was asked for: a failed scope covers nothing.
    """

    provider: str
    account: str
    region: str  # or EVERY_REGION
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Coverage times must be timezone-aware (UTC)")


# --- aggregation over buckets -----------------------------------------------------------


class Agg(enum.Enum):
    SUM = "sum"
    MAX = "max"
    WEIGHTED = "weighted"  # mean weighted by another measure (see AGGREGATION)


@dataclass(frozen=True, slots=True)
class AggRule:
    kind: Agg
    weight: str | None = None  # for WEIGHTED: the count measure that weighs each bucket


# Percentiles cannot be merged exactly from per-bucket percentiles. We approximate a
# percentile over several buckets by the mean of the bucket percentiles weighted by each
# bucket's invocations (a bucket with unknown or zero invocations weighs 1). This is
# exact when buckets have the same distribution and is the documented approximation
# used everywhere (TUI, web, alerts, rollups). Averages weighted the same way are exact.
AGGREGATION: Final[Mapping[str, AggRule]] = {
    "invocations": AggRule(Agg.SUM),
    "errors": AggRule(Agg.SUM),
    "throttles": AggRule(Agg.SUM),
    "cold_starts": AggRule(Agg.SUM),
    "duration_avg_ms": AggRule(Agg.WEIGHTED, "invocations"),
    "duration_p50_ms": AggRule(Agg.WEIGHTED, "invocations"),
    "duration_p95_ms": AggRule(Agg.WEIGHTED, "invocations"),
    "duration_p99_ms": AggRule(Agg.WEIGHTED, "invocations"),
    "duration_max_ms": AggRule(Agg.MAX),
    "init_avg_ms": AggRule(Agg.WEIGHTED, "cold_starts"),
    "init_p95_ms": AggRule(Agg.WEIGHTED, "cold_starts"),
    "concurrency_max": AggRule(Agg.MAX),
    "memory_used_max_mb": AggRule(Agg.MAX),
    "billed_ms": AggRule(Agg.SUM),
}
assert set(AGGREGATION) == set(MEASURE_NAMES)


def bucket_weight(weight: int | float | None) -> float:
    """Weight of one bucket in a WEIGHTED mean; mirrored in SQL by `opsview.store.sql`."""
    return float(weight) if weight is not None and weight > 0 else 1.0


def aggregate(buckets: Iterable[Measures]) -> Measures:
    """Combine buckets by the rules in `AGGREGATION`. No buckets gives all-`None`."""
    items = list(buckets)
    out: dict[str, float | int | None] = {}
    for name, rule in AGGREGATION.items():
        values = [(getattr(b, name), b) for b in items if getattr(b, name) is not None]
        if not values:
            out[name] = None
        elif rule.kind is Agg.SUM:
            out[name] = sum(v for v, _ in values)
        elif rule.kind is Agg.MAX:
            out[name] = max(v for v, _ in values)
        else:
            assert rule.weight is not None
            weights = [bucket_weight(getattr(b, rule.weight)) for _, b in values]
            out[name] = sum(v * w for (v, _), w in zip(values, weights, strict=True)) / sum(weights)
    return Measures(**out)  # type: ignore[arg-type]


# --- derived measures --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Price:
    per_million_requests: float
    per_gb_second: float


DEFAULT_PRICES: Final[Mapping[str, Price]] = {
    "aws": Price(0.20, 0.0000166667),
    "azure": Price(0.20, 0.000016),
    "gcp": Price(0.40, 0.0000125),
    "demo": Price(0.20, 0.0000166667),
}


def _ratio(num: int | float | None, den: int | float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return num / den


def error_rate(m: Measures) -> float | None:
    return _ratio(m.errors, m.invocations)


def throttle_rate(m: Measures) -> float | None:
    if m.throttles is None:
        return None
    return _ratio(m.throttles, (m.invocations or 0) + m.throttles)


def cold_start_rate(m: Measures) -> float | None:
    return _ratio(m.cold_starts, m.invocations)


def timeout_ratio(m: Measures, info: FunctionInfo | None) -> float | None:
    """p99 duration as a share of the function's timeout (1.0 = at the timeout)."""
    if info is None or info.timeout_s is None:
        return None
    return _ratio(m.duration_p99_ms, info.timeout_s * 1000.0)


def cost_usd(m: Measures, info: FunctionInfo | None, price: Price | None) -> float | None:
    """Estimated cost: requests plus GB-seconds (billed time, else avg duration x invocations).

    `None` when the invocations, the time or the memory size is unknown: a partial
    estimate would look like a real figure.
    """
    if price is None or m.invocations is None:
        return None
    if m.invocations == 0:
        return 0.0
    billed_ms = m.billed_ms
    if billed_ms is None and m.duration_avg_ms is not None:
        billed_ms = m.duration_avg_ms * m.invocations
    if billed_ms is None or info is None or info.memory_mb is None:
        return None
    gb_seconds = billed_ms / 1000.0 * info.memory_mb / 1024.0
    return m.invocations / 1e6 * price.per_million_requests + gb_seconds * price.per_gb_second


DerivedFn = Callable[[Measures, "FunctionInfo | None", "Price | None"], float | int | None]

DERIVED: Final[Mapping[str, DerivedFn]] = {
    "error_rate": lambda m, _i, _p: error_rate(m),
    "throttle_rate": lambda m, _i, _p: throttle_rate(m),
    "cold_start_rate": lambda m, _i, _p: cold_start_rate(m),
    "timeout_ratio": lambda m, i, _p: timeout_ratio(m, i),
    "cost_usd": cost_usd,
}

ALL_MEASURES: Final[tuple[str, ...]] = MEASURE_NAMES + tuple(DERIVED)

# Which stored measures each derived one reads, so a reader can aggregate only what it needs.
DERIVED_INPUTS: Final[Mapping[str, frozenset[str]]] = {
    "error_rate": frozenset({"errors", "invocations"}),
    "throttle_rate": frozenset({"throttles", "invocations"}),
    "cold_start_rate": frozenset({"cold_starts", "invocations"}),
    "timeout_ratio": frozenset({"duration_p99_ms"}),
    "cost_usd": frozenset({"invocations", "billed_ms", "duration_avg_ms"}),
}
assert set(DERIVED_INPUTS) == set(DERIVED)


def measure_inputs(names: Iterable[str]) -> frozenset[str]:
    """The stored measures that the given stored or derived measures are computed from."""
    out: set[str] = set()
    for name in names:
        if name in DERIVED_INPUTS:
            out |= DERIVED_INPUTS[name]
        elif name in AGGREGATION:
            out.add(name)
        else:
            raise KeyError(f"unknown measure {name!r}; known: {', '.join(ALL_MEASURES)}")
    return frozenset(out)


def measure_value(
    name: str, m: Measures, info: FunctionInfo | None = None, price: Price | None = None
) -> float | int | None:
    """Any stored or derived measure by name; the one lookup alerts, top-N and views use."""
    if name in DERIVED:
        return DERIVED[name](m, info, price)
    if name in AGGREGATION:
        value: float | int | None = getattr(m, name)
        return value
    raise KeyError(f"unknown measure {name!r}; known: {', '.join(ALL_MEASURES)}")


# --- time helpers -------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_epoch(ts: datetime) -> int:
    if ts.tzinfo is None:
        raise ValueError("naive datetime; opsview works in tz-aware UTC")
    return int(ts.timestamp())


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def floor_time(ts: datetime, period_s: int) -> datetime:
    epoch = to_epoch(ts)
    return from_epoch(epoch - epoch % period_s)


def finite_or_none(value: float | None) -> float | None:
    """Guard against NaN/inf from a provider reaching the store."""
    if value is None or math.isnan(value) or math.isinf(value):
        return None
    return value
