"""Human durations such as `30s`, `5m`, `1h30m`, `7d` (as in Prometheus and Alertmanager)."""

from __future__ import annotations

import re
from datetime import timedelta

from opsview.formatting import quoted

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
EXAMPLES = "e.g. 30s, 5m, 1h30m, 7d"
_MAX_SECONDS = float(timedelta.max.days * 86400)
"""Past this a `timedelta` overflows (about 2.7 million years): such a duration is refused, not crashed on."""


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raises ValueError with the expected form on anything else."""
    cleaned = text.strip().replace(" ", "")
    if cleaned == "0":
        return timedelta(0)
    pos = 0
    total = 0.0
    for match in _PART.finditer(cleaned):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(cleaned) or not cleaned:
        raise ValueError(f"invalid duration {quoted(text)} (expected {EXAMPLES})")
    if not total < _MAX_SECONDS:  # also catches inf from a 400-digit number
        raise ValueError(f"duration {quoted(text)} is too long")
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Shortest exact text form: 90 s -> `1m30s`, 1.5 s -> `1s500ms`; inverse of `parse_duration`
    (to the millisecond; a negative duration gets a leading `-`)."""
    if delta < timedelta(0):
        return "-" + format_duration(-delta)
    millis = round(delta / timedelta(milliseconds=1))
    if millis == 0:
        return "0s"
    seconds, millis = divmod(millis, 1000)
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    if millis:
        out.append(f"{millis}ms")
    return "".join(out)
