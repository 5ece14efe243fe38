"""Shared pieces of the config models: the frozen strict base and the duration type."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from opsview.durations import format_duration, parse_duration


class Model(BaseModel):
    """Frozen, strict about unknown keys, documented per field."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True)


def _to_timedelta(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool):
        raise ValueError(f"expected a duration string ({'e.g. 30s, 5m, 1h30m, 7d'}), got {value!r}")
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return value


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]
"""A duration written as `30s`, `5m`, `1h30m`, `7d` (or a number of seconds)."""
