"""Numbers and errors as people read them; `None` always shows as an em dash, never as 0.

No imports from opsview but `redact` (itself import-free): collectors, the store, notifiers and both UIs use it.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Final

from opsview.redact import redact

MISSING = "—"
ONE_LINE_MAX = 300
_SDK_BODY = "\nContent: "  # azure-core's HttpResponseError appends the raw response body after this


def one_line(error: BaseException | str) -> str:
    """An error as the one line a user sees, wherever it is shown (the traceback goes to the log).

    The rule, the same for every cloud, the store, notifiers, the CLI and the UIs:
    - a response body an SDK appends to its message is dropped (azure-core's `HttpResponseError` adds
      "Content: <body>" when the body is not OData JSON: raw HTML or JSON, up to 2 KB, not words for a user);
    - every run of whitespace, newlines included, becomes one space;
    - an exception without a message shows its type name;
    - credentials, tokens and query secrets are blanked (`opsview.redact`), before the cut so none half-shows;
    - beyond ONE_LINE_MAX characters, the first ONE_LINE_MAX - 3 are kept and "..." says that the line was cut.
    A `str` is taken as an already-built message (e.g. one with a secret blanked out before it is cut).
    """
    raw = error if isinstance(error, str) else str(error)
    text = " ".join(redact(raw.split(_SDK_BODY, 1)[0]).split())
    if not text and isinstance(error, BaseException):
        text = type(error).__name__
    return text if len(text) <= ONE_LINE_MAX else text[: ONE_LINE_MAX - 3] + "..."


def count(value: float | None) -> str:
    if value is None:
        return MISSING
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if abs(value) >= 10_000:
        return f"{value / 1000:.1f}k"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def rate(value: float | None) -> str:
    """A per-minute rate: always with decimals, so `12.0` and `14.7` line up in a column (counts use `count`)."""
    if value is None:
        return MISSING
    if abs(value) >= 10_000:
        return count(value)
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def percent(ratio: float | None) -> str:
    if ratio is None:
        return MISSING
    pct = ratio * 100
    if pct == 0:
        return "0%"
    if pct < 0.1:
        return "<0.1%"
    return f"{pct:.1f}%" if pct < 10 else f"{pct:.0f}%"


def millis(value: float | None) -> str:
    if value is None:
        return MISSING
    if value >= 60_000:
        return f"{value / 60_000:.1f}m"
    if value >= 1000:
        return f"{value / 1000:.2f}s" if value < 10_000 else f"{value / 1000:.1f}s"
    return f"{value:.0f}ms"


def ago(elapsed: timedelta | None) -> str:
    """How long ago, in the largest whole unit: `45s ago`, `12m ago`, `3h ago`, `2d ago`."""
    if elapsed is None:
        return MISSING
    seconds = max(0, int(elapsed.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def usd(value: float | None) -> str:
    if value is None:
        return MISSING
    if value == 0:
        return "$0"
    if value < 0.01:
        return "<$0.01"
    return f"${value:,.2f}"


# --- alert values in the unit of their measure ------------------------------------------------------------------
# One rule for `opsview check`, notifications, the TUI and the web. Measures are named as in opsview.schema
# (this module imports nothing from opsview): rates are fractions shown as percentages, `*_ms` durations,
# `cost_usd` dollars, `*_mb` megabytes, `timeout_ratio` a percentage of the function's timeout, the rest counts.

NO_DATA = "no data"
OP_SYMBOLS: Final[Mapping[str, str]] = {">": ">", ">=": "≥", "<": "<", "<=": "≤", "==": "=", "!=": "≠"}
NEGATED_OPS: Final[Mapping[str, str]] = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}
_COMPARE: Final[Mapping[str, Callable[[float, float], bool]]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
}
_MAX_EXTRA_DIGITS = 4


def _fixed(value: float, decimals: int) -> str:
    return f"{value:,.{max(0, decimals)}f}"


def _significant(value: float, digits: int) -> str:
    """`digits` significant digits, never in exponent notation (2.60, 850, 0.00420)."""
    if value == 0:
        return "0"
    return _fixed(value, digits - 1 - math.floor(math.log10(abs(value))))


def _percent_number(ratio: float, extra: int) -> str:
    pct = ratio * 100
    decimals = 1 + extra
    if pct != 0 and abs(pct) < 10**-decimals:  # 0.0004 is "0.040 %", never "0.0 %"
        return _significant(pct, 2 + extra) + " %"
    return _fixed(pct, decimals) + " %"


def _duration_number(ms: float, extra: int) -> str:
    if abs(ms) >= 60_000:
        return _significant(ms / 60_000, 3 + extra) + " min"
    if abs(ms) >= 1000:
        return _significant(ms / 1000, 3 + extra) + " s"
    return _significant(ms, 3 + extra) + " ms"


def _usd_number(value: float, extra: int) -> str:
    if value == 0 or abs(value) >= 1:
        return "$" + _fixed(value, 2 + extra)
    return "$" + _significant(value, 2 + extra)  # $0.0042, not "<$0.01": a threshold must read exactly


def _count_number(value: float, extra: int) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return _fixed(value, 1 + extra)  # an average of counts (an M-of-N datapoint of a rollup)


def _megabytes_number(value: float, extra: int) -> str:
    return _fixed(value, extra) + " MB"


def _plain_number(value: float, extra: int) -> str:
    return format(value, f".{4 + extra}g")


def measure_kind(measure: str | None) -> str:
    """percent | timeout | duration | usd | megabytes | count, or plain for an unknown measure (a rule gone)."""
    if not measure:
        return "plain"
    if measure == "timeout_ratio":
        return "timeout"
    if measure.endswith("_rate"):
        return "percent"
    if measure.endswith("_ms"):
        return "duration"
    if measure.endswith("_usd"):
        return "usd"
    if measure.endswith("_mb"):
        return "megabytes"
    return "count"


_NUMBER: Final[Mapping[str, Callable[[float, int], str]]] = {
    "percent": _percent_number, "timeout": _percent_number, "duration": _duration_number, "usd": _usd_number,
    "count": _count_number, "megabytes": _megabytes_number, "plain": _plain_number,
}
_SUFFIX: Final[Mapping[str, str]] = {"timeout": " of timeout"}


def measure_text(measure: str | None, value: float | None, *, missing: str = MISSING) -> str:
    """One value of `measure` in its unit: "22.0 %", "2.60 s", "$0.0042", "3"; `measure` None: the plain number.

    `timeout_ratio` reads as a percentage of the function's timeout ("85.0 % of timeout")."""
    if value is None:
        return missing
    if not math.isfinite(value):
        return str(value)
    kind = measure_kind(measure)
    return _NUMBER[kind](value, 0) + _SUFFIX.get(kind, "")


def condition_text(
    measure: str | None, value: float | None, op: str, threshold: float, state: str | None = None
) -> str:
    """An alert's value against its threshold, in the measure's unit: "22.0 % > 5.0 %".

    The symbol is the comparison that holds between the two numbers, so a resolved alert reads
    "0.0 % ≤ 5.0 %" rather than repeating the rule's "> 5.0 %". A resolved alert whose value still
    breaches (it resolved because of `previous`, M of N or its match) says it no longer alerts.
    Two different numbers never read the same: digits are added until they differ ("5.04 % > 5.00 %").
    Missing data reads "no data".
    """
    if value is None:
        return NO_DATA
    compare = _COMPARE.get(op)
    holds = compare(value, threshold) if compare is not None and math.isfinite(value) else True
    shown_op = op if holds else NEGATED_OPS.get(op, op)
    kind = measure_kind(measure)
    number = _NUMBER[kind]
    left, right = number(value, 0), number(threshold, 0)
    extra = 0
    while left == right and value != threshold and extra < _MAX_EXTRA_DIGITS and math.isfinite(value):
        extra += 1
        left, right = number(value, extra), number(threshold, extra)
    text = f"{left} {OP_SYMBOLS.get(shown_op, shown_op)} {right}{_SUFFIX.get(kind, '')}"
    if state == "resolved" and holds:
        text += " (no longer alerting)"
    return text


def printable(text: str) -> str:
    """A name as a terminal shows it: every unprintable character (ESC, BEL, a newline) escaped, so a function
    named with a terminal control sequence prints the sequence, not its effect."""
    return text if text.isprintable() else "".join(c if c.isprintable() else _escape(c) for c in text)


def quoted(text: str, limit: int = 40) -> str:
    """A user's text inside an error line: double-quoted, every unprintable character escaped (a newline in
    a value must not split the one line), cut to `limit` characters."""
    cut = text if len(text) <= limit else text[: limit - 3] + "..."
    inner = "".join(c if c.isprintable() and c not in '"\\' else _escape(c) for c in cut)
    return f'"{inner}"'


def _escape(char: str) -> str:
    named = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return named.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")


# --- windows and the time collected in them -------------------------------------------------------

COVERAGE_SLACK_S = 120
"""Coverage this close to the window (or within 1% of it) is not called short: the newest minute or two
are still being collected on every refresh, and saying so each time would drown the note that matters."""


def window_label(window: timedelta) -> str:
    """`15m`, `24h`, `7d`: a window as the views name it (never `1440m`)."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def span(delta: timedelta) -> str:
    """A stretch of collected time, never rounded up (so it never reads as the whole window): `45m`, `5h30m`,
    `23h45m`, `3d4h`."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{rest:02d}m" if rest else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h" if hours else f"{days}d"


def coverage_short(window: timedelta, covered: timedelta) -> bool:
    """Whether `covered` falls short of `window` by more than the slack every live view has."""
    slack = max(COVERAGE_SLACK_S, window.total_seconds() * 0.01)
    return window.total_seconds() - covered.total_seconds() > slack


def coverage_note(window: timedelta, least: timedelta, most: timedelta | None = None) -> str | None:
    """`6h of data` (or `2h–6h of data` when scopes differ) when the least covered scope falls short of
    the window; None when every scope covers it."""
    most = least if most is None else most
    if not coverage_short(window, least):
        return None
    if most <= timedelta(0):
        return "no data collected"
    low, high = span(least), span(most)
    return f"{low} of data" if low == high else f"{low}–{high} of data"


def covered_of(window: timedelta, covered: timedelta) -> str:
    """One function's collected time: `6h of 24h` when short, else `all 24h`."""
    label = window_label(window)
    if not coverage_short(window, covered):
        return f"all {label}"
    return f"{span(covered)} of {label}" if covered > timedelta(0) else f"none of {label}"
