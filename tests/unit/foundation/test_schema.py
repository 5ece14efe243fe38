"""The common schema: None stays None through aggregation, derived measures mean one thing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsview.schema import (
    DEFAULT_PRICES,
    FunctionInfo,
    FunctionKey,
    Measures,
    Sample,
    aggregate,
    cold_start_rate,
    cost_usd,
    error_rate,
    measure_value,
    throttle_rate,
    timeout_ratio,
)

KEY = FunctionKey("aws", "123456789012", "us-east-1", "checkout")


def test_key_text_form_round_trips_even_with_azure_slash_names() -> None:
    key = FunctionKey("azure", "sub", "westeurope", "orders-func/ProcessOrder")
    assert str(key) == "azure/sub/westeurope/orders-func/ProcessOrder"
    assert FunctionKey.parse(str(key)) == key
    with pytest.raises(ValueError, match="provider/account/region/name"):
        FunctionKey.parse("aws/only-two")


def test_aggregate_keeps_unreported_apart_from_zero() -> None:
    unreported = aggregate([Measures(invocations=5), Measures(invocations=7)])
    assert unreported.throttles is None  # nobody reported throttles
    reported_zero = aggregate([Measures(invocations=5, throttles=0), Measures(invocations=7)])
    assert reported_zero.throttles == 0
    assert aggregate([]).invocations is None


def test_aggregate_sums_counts_and_takes_max_of_maxima() -> None:
    a = Measures(invocations=10, errors=1, duration_max_ms=900.0, concurrency_max=3)
    b = Measures(invocations=30, errors=2, duration_max_ms=400.0, concurrency_max=8)
    total = aggregate([a, b])
    assert (total.invocations, total.errors, total.duration_max_ms, total.concurrency_max) == (40, 3, 900.0, 8)


def test_percentiles_across_buckets_are_invocation_weighted_not_plain_means() -> None:
    busy = Measures(invocations=900, duration_p99_ms=100.0, duration_avg_ms=50.0)
    quiet = Measures(invocations=100, duration_p99_ms=1000.0, duration_avg_ms=500.0)
    total = aggregate([busy, quiet])
    assert total.duration_p99_ms == pytest.approx(190.0)  # not (100 + 1000) / 2
    assert total.duration_avg_ms == pytest.approx(95.0)  # exact for averages


def test_init_durations_are_weighted_by_cold_starts() -> None:
    total = aggregate([Measures(cold_starts=3, init_avg_ms=100.0), Measures(cold_starts=1, init_avg_ms=500.0)])
    assert total.init_avg_ms == pytest.approx(200.0)


def test_derived_rates_are_none_without_a_denominator() -> None:
    assert error_rate(Measures(errors=3)) is None
    assert error_rate(Measures(invocations=0, errors=0)) is None
    assert error_rate(Measures(invocations=200, errors=3)) == pytest.approx(0.015)
    assert throttle_rate(Measures(invocations=90, throttles=10)) == pytest.approx(0.1)
    assert throttle_rate(Measures(invocations=90)) is None
    assert cold_start_rate(Measures(invocations=50, cold_starts=5)) == pytest.approx(0.1)
    assert timeout_ratio(Measures(duration_p99_ms=2400.0), FunctionInfo(KEY, timeout_s=3.0)) == pytest.approx(0.8)
    assert timeout_ratio(Measures(duration_p99_ms=2400.0), FunctionInfo(KEY)) is None


def test_cost_follows_the_published_lambda_price() -> None:
    # 1M invocations of 100 ms at 1024 MB: $0.20 + 100,000 GB-s x $0.0000166667 = $1.87
    m = Measures(invocations=1_000_000, billed_ms=100.0 * 1_000_000)
    assert cost_usd(m, FunctionInfo(KEY, memory_mb=1024), DEFAULT_PRICES["aws"]) == pytest.approx(1.8666, rel=1e-3)
    assert cost_usd(m, FunctionInfo(KEY), DEFAULT_PRICES["aws"]) is None  # memory unknown: no half-estimate
    assert cost_usd(Measures(invocations=0), FunctionInfo(KEY, memory_mb=128), DEFAULT_PRICES["aws"]) == 0.0


def test_measure_value_covers_stored_and_derived_and_rejects_typos() -> None:
    m = Measures(invocations=10, errors=1)
    assert measure_value("errors", m) == 1
    assert measure_value("error_rate", m) == pytest.approx(0.1)
    with pytest.raises(KeyError, match="unknown measure 'eror_rate'"):
        measure_value("eror_rate", m)


def test_samples_refuse_naive_timestamps() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Sample(key=KEY, start=datetime(2026, 1, 1))  # noqa: DTZ001 (the point of the test)
    assert Sample(key=KEY, start=datetime(2026, 1, 1, tzinfo=UTC)).period_s == 60


counts = st.one_of(st.none(), st.integers(min_value=0, max_value=10_000))
durations = st.one_of(st.none(), st.floats(min_value=0, max_value=900_000, allow_nan=False))


@given(st.lists(st.builds(Measures, invocations=counts, errors=counts, duration_p99_ms=durations), max_size=20))
def test_aggregated_percentile_stays_within_the_bucket_range(buckets: list[Measures]) -> None:
    total = aggregate(buckets)
    reported = [b.duration_p99_ms for b in buckets if b.duration_p99_ms is not None]
    if not reported:
        assert total.duration_p99_ms is None
    else:
        assert total.duration_p99_ms is not None
        assert min(reported) - 1e-6 <= total.duration_p99_ms <= max(reported) + 1e-6


def test_measures_from_a_database_row_equal_the_dataclass() -> None:
    from opsview.schema import MEASURE_NAMES, Measures, measures_from_values

    values = tuple(range(4)) + tuple(float(i) for i in range(4, len(MEASURE_NAMES) - 2)) + (None, None)
    built = measures_from_values(values)
    assert built == Measures(**dict(zip(MEASURE_NAMES, values, strict=True)))
    assert hash(built) == hash(Measures(**dict(zip(MEASURE_NAMES, values, strict=True))))
    with pytest.raises(ValueError, match="not enough values"):
        measures_from_values(values[:-1])  # a row from another schema fails loudly, never shifts columns


def test_samples_from_a_stored_row_equal_the_dataclass() -> None:
    from opsview.schema import MEASURE_NAMES, Sample, from_epoch, sample_from_row

    key = FunctionKey("aws", "1", "us-east-1", "fn")
    values = (10, 1, 0, None, *[float(i) for i in range(len(MEASURE_NAMES) - 4)])
    built = sample_from_row(key, from_epoch(120), 60, values)
    assert built == Sample(key=key, start=from_epoch(120), period_s=60, **dict(zip(MEASURE_NAMES, values, strict=True)))
    assert (built.key, built.start.tzinfo is not None, built.period_s, built.cold_starts) == (key, True, 60, None)


def test_measures_from_a_row_of_some_measures_leaves_the_others_unreported() -> None:
    from opsview.schema import measures_from

    build = measures_from(("invocations", "duration_p99_ms"))
    m = build((12, 480.0))
    assert (m.invocations, m.duration_p99_ms) == (12, 480.0)
    assert m.errors is None  # not read is not reported, never 0
    with pytest.raises(ValueError, match="not enough values"):
        build((12,))
    with pytest.raises(ValueError, match="known measure names"):
        measures_from(("invocation",))
