"""Shared pieces of the config models: the frozen strict base, durations and numbers with bounds.

Every duration and number in the config carries a bound (the models' tests check that none is left
without one): a negative retention deleted every sample, `1e300` seconds crashed every command.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from opsview.durations import EXAMPLES, format_duration, parse_duration


class Model(BaseModel):
    """Frozen, strict about unknown keys, documented per field."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


_LONGEST = timedelta(days=36500)
"""No duration in the config is longer than a century; past this arithmetic on dates overflows."""


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError(f"expected a duration ({EXAMPLES}), got {str(value).lower()}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"expected a duration ({EXAMPLES}), got {value}")
        if abs(value) > _LONGEST.total_seconds():
            raise ValueError(f"duration of {value:.4g} seconds is too long")
        return timedelta(seconds=value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration written as `30s`, `5m`, `1h30m`, `7d` (or a number of seconds). Give every field one
`within(...)` bound as well."""


class DurationBounds:
    """The range a duration field accepts; kept on the field so tests can list every bound."""

    def __init__(self, low: str, high: str) -> None:
        self.low, self.high = low, high
        self.min, self.max = parse_duration(low), parse_duration(high)

    def __call__(self, value: timedelta) -> timedelta:
        if value < self.min:
            least = "must not be negative" if not self.min else f"must be at least {self.low}"
            raise ValueError(f"{least}, got {format_duration(value)}")
        if value > self.max:
            raise ValueError(f"must be at most {self.high}, got {format_duration(value)}")
        return value

    def __repr__(self) -> str:
        return f"within({self.low!r}, {self.high!r})"


def within(low: str, high: str) -> AfterValidator:
    """Bound a `Duration` field: `Annotated[Duration, within("1h", "3650d")]`."""
    return AfterValidator(DurationBounds(low, high))


def finite(low: float, high: float) -> Any:
    """Bound a float field and refuse nan / inf: `Annotated[float, finite(0, 1000)]`."""
    return Field(allow_inf_nan=False, ge=low, le=high)
