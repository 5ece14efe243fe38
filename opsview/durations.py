"""Human durations such as `30s`, `5m`, `1h30m`, `7d` (as in Prometheus and Alertmanager)."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
EXAMPLES = "e.g. 30s, 5m, 1h30m, 7d"


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
        raise ValueError(f'invalid duration "{text}" (expected {EXAMPLES})')
    return timedelta(seconds=total)


def format_duration(delta: timedelta) -> str:
    """Shortest exact text form: 90 s -> `1m30s`; inverse of `parse_duration`."""
    seconds = int(delta.total_seconds())
    if seconds == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(out)
