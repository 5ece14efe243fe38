"""`opsview.untrusted`: the guarded parsers every log reader takes its numbers, times and JSON through."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsview.untrusted import (
    MAX_DURATION_MS,
    MAX_MEMORY_MB,
    BadValue,
    decimal,
    epoch_time,
    json_loads,
    json_raw_decode,
    number,
    utc_time,
    whole,
)

HOSTILE_NUMBERS = [float("nan"), float("inf"), float("-inf"), -1, -0.5, 10**400, -(10**400), 1e300, True, "1e400",
                   "NaN", "Infinity", "-5", "1" * 400, "", "12 ms", [], {}]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS, ids=repr)
def test_hostile_numbers_raise_bad_value_not_overflow(value: object) -> None:
    with pytest.raises(BadValue):
        number(value, "durationMs")


def test_numbers_in_range_are_floats_and_none_stays_none() -> None:
    assert number(0, "x") == 0.0
    assert number("12.5", "x") == 12.5
    assert number(MAX_DURATION_MS, "x") == MAX_DURATION_MS
    assert number(None, "x") is None
    assert whole(10240.0, "Memory Size") == 10240
    with pytest.raises(BadValue):
        whole(MAX_MEMORY_MB + 1, "Memory Size")  # would overflow no store, but no platform has it: garbage
    with pytest.raises(BadValue):
        decimal("9" * 20, "Memory Size", MAX_MEMORY_MB)  # past SQLite's and PostgreSQL's BIGINT


@given(st.one_of(st.floats(), st.integers(), st.text(max_size=50), st.none(), st.booleans()))
def test_number_returns_a_finite_value_in_range_or_raises_bad_value(value: object) -> None:
    try:
        found = number(value, "x")
    except BadValue:
        return
    assert found is None or (math.isfinite(found) and 0 <= found <= MAX_DURATION_MS)


@pytest.mark.parametrize("text", [
    "0001-01-01T00:00:00+14:00",  # no UTC equivalent: OverflowError in astimezone
    "9999-12-31T23:59:59-14:00",
    "1969-12-31T23:59:59Z",
    "2024-05-01T10:00:00",  # no zone
    "2024-13-01T10:00:00Z",
    "not a time",
    "",
])
def test_times_out_of_range_or_without_zone_are_unknown(text: str) -> None:
    assert utc_time(text) is None


def test_times_in_range_are_utc() -> None:
    assert utc_time("2024-05-01T12:00:00.123456789+02:00") == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert utc_time("2024-05-01 10:00:00.1234567", naive_is_utc=True) == datetime(2024, 5, 1, 10, 0, 0, 123456,
                                                                                   tzinfo=UTC)


@pytest.mark.parametrize("value", [1e400, float("nan"), 10**400, -(10**30), -1, True, "1714557600000"], ids=repr)
def test_epoch_times_out_of_range_are_unknown(value: object) -> None:
    assert epoch_time(value, per_second=1000) is None


def test_epoch_milliseconds() -> None:
    assert epoch_time(1714557600000, per_second=1000) == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("text", ["[" * 200_000, '{"a":' * 200_000, "1" * 5000, "[" + "1" * 5000 + "]"],
                         ids=["deep-array", "deep-object", "5000-digit-int", "5000-digit-int-in-array"])
def test_json_that_python_cannot_hold_is_a_decode_error(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json_loads(text)
    with pytest.raises(json.JSONDecodeError):
        json_raw_decode(json.JSONDecoder(), text, 0)
