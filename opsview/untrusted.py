"""Values read from untrusted input (exported logs): one guarded parser per kind of value.

Every reader of `opsview ingest` (and the live GCP collector, which reads the same log entries) takes its
numbers, times and JSON through here, so that no input can end in a traceback or put a number in the
store that it cannot hold:

- `number` / `decimal` / `whole`: finite, >= 0 and at most a limit per kind (durations `MAX_DURATION_MS`,
  memory `MAX_MEMORY_MB`); NaN, infinities, 400-digit and negative numbers raise `BadValue` (a reader
  skips and counts that record).
- `utc_time` / `epoch_time`: tz-aware UTC between `EARLIEST` and `LATEST`, else `None` (unknown), never
  an `OverflowError` from a time zone pushed past year 1 or 9999.
- `json_loads` / `json_raw_decode`: nesting past the interpreter's recursion limit and integers past
  Python's digit limit raise `json.JSONDecodeError`, like any other undecodable text.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

MAX_DURATION_MS: Final = 1e10
"""About 115 days: no function platform runs an invocation (or an init) longer; past it a value is garbage."""
MAX_MEMORY_MB: Final = 1 << 20
"""1 TiB: more than any function platform offers, and far inside the store's 64-bit integers."""
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 1, 1, tzinfo=UTC)
"""Times outside [EARLIEST, LATEST) are not log times; the year before 9999 leaves room for window arithmetic."""


class BadValue(ValueError):  # noqa: N818 (reads as what it is)
    """A value present in a record that cannot be what its field holds."""


def number(value: object, what: str, limit: float = MAX_DURATION_MS) -> float | None:
    """A JSON number or decimal text in [0, limit] as a float; `None` stays `None`; anything else `BadValue`."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadValue(f"{what} is not a number: {value!r}")
    if isinstance(value, int):
        if not 0 <= value <= limit:  # int against float compares exactly, even with 400 digits
            raise BadValue(f"{what} out of range: {_short(value)}")
        return float(value)
    if isinstance(value, float):
        if not 0.0 <= value <= limit:  # NaN fails every comparison
            raise BadValue(f"{what} out of range: {_short(value)}")
        return value
    if isinstance(value, str):
        return decimal(value, what, limit)
    raise BadValue(f"{what} is not a number: {type(value).__name__}")


def decimal(text: str, what: str, limit: float = MAX_DURATION_MS) -> float:
    """Decimal text (as a regex captured it) in [0, limit]."""
    try:
        value = float(text)
    except ValueError:
        raise BadValue(f"{what} is not a number: {_short(text)}") from None
    if not 0.0 <= value <= limit:
        raise BadValue(f"{what} out of range: {_short(text)}")
    return value


def whole(value: object, what: str, limit: float = MAX_MEMORY_MB) -> int | None:
    """`number`, truncated to an integer (memory sizes)."""
    found = number(value, what, limit)
    return None if found is None else int(found)


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def in_range(at: datetime) -> datetime | None:
    """A tz-aware time in UTC if it lies in [EARLIEST, LATEST), else `None`."""
    try:
        utc = at.astimezone(UTC)
    except (OverflowError, ValueError):  # 0001-01-01T00:00:00+14:00 has no UTC equivalent
        return None
    return utc if EARLIEST <= utc < LATEST else None


def utc_time(text: str, *, naive_is_utc: bool = False) -> datetime | None:
    """An ISO-8601 / RFC 3339 time (`Z`, offsets, any number of fractional digits) in UTC, else `None`.

    A time without a zone is `None` (its zone is unknown) unless `naive_is_utc` (Kusto prints UTC without one).
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        if not naive_is_utc:
            return None
        parsed = parsed.replace(tzinfo=UTC)
    return in_range(parsed)


def epoch_time(value: object, per_second: int = 1) -> datetime | None:
    """Time since the epoch in `1 / per_second` s (a JSON number; CloudWatch gives ms) in UTC, else `None`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # compared before dividing: a 400-digit integer divided by 1000 would overflow a float
    if not EARLIEST.timestamp() * per_second <= value < LATEST.timestamp() * per_second:  # NaN fails too
        return None
    return datetime.fromtimestamp(value / per_second, UTC)


def _decode_error(exc: Exception, doc: str, pos: int) -> json.JSONDecodeError:
    # a ValueError that is not a JSONDecodeError: an integer past Python's digit limit
    why = "nested too deeply" if isinstance(exc, RecursionError) else "number too long"
    return json.JSONDecodeError(why, doc, pos)


def json_loads(text: str) -> Any:
    """`json.loads`, with every failure a `json.JSONDecodeError`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise _decode_error(exc, text, 0) from None


def json_raw_decode(decoder: json.JSONDecoder, text: str, pos: int) -> tuple[Any, int]:
    """`decoder.raw_decode(text, pos)`, with every failure a `json.JSONDecodeError`."""
    try:
        return decoder.raw_decode(text, pos)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise _decode_error(exc, text, pos) from None
