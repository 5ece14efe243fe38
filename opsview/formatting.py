"""Numbers and errors as people read them; `None` always shows as an em dash, never as 0.

No imports from opsview: collectors, the store, notifiers and both UIs all use it.
"""

from __future__ import annotations

from datetime import timedelta

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
    - beyond ONE_LINE_MAX characters, the first ONE_LINE_MAX - 3 are kept and "..." says that the line was cut.
    A `str` is taken as an already-built message (e.g. one with a secret blanked out before it is cut).
    """
    raw = error if isinstance(error, str) else str(error)
    text = " ".join(raw.split(_SDK_BODY, 1)[0].split())
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


def usd(value: float | None) -> str:
    if value is None:
        return MISSING
    if value == 0:
        return "$0"
    if value < 0.01:
        return "<$0.01"
    return f"${value:,.2f}"


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
