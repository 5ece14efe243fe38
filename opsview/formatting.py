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


def quoted(text: str, limit: int = 40) -> str:
    """A user's text inside an error line: double-quoted, every unprintable character escaped (a newline in
    a value must not split the one line), cut to `limit` characters."""
    cut = text if len(text) <= limit else text[: limit - 3] + "..."
    inner = "".join(c if c.isprintable() and c not in '"\\' else _escape(c) for c in cut)
    return f'"{inner}"'


def _escape(char: str) -> str:
    named = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
    return named.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
