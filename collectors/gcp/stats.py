"""What one project's refresh cost and found: for the health line, tests and the benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from opsview.schema import FunctionKey


@dataclass(slots=True)
class ProjectStats:
    mode: str = "logs"
    """Which path ran: `logs` (every request log) or `metrics` (Cloud Monitoring, logs for cold starts only)."""
    quota_project: str = ""
    """The project Google charges the calls to ("" = the credentials' own, not known here)."""
    calls: int = 0
    """entries.list calls, refused ones included (each is charged)."""
    retries: int = 0
    entries: int = 0
    malformed: int = 0
    monitoring_calls: int = 0
    """timeSeries.list calls, refused ones included."""
    series: int = 0
    points: int = 0
    incomplete: list[str] = field(default_factory=list)
    """Why a part of the answer may be missing (Monitoring `executionErrors`, a failed cold-start read)."""
    counts_incomplete: bool = False
    """A request or execution count query reported errors: the window's traffic is not known whole."""
    window: tuple[datetime, datetime] | None = None
    filters: list[str] = field(default_factory=list)
    percentile_widths: dict[tuple[FunctionKey, datetime], tuple[float | None, float | None, float | None]] = field(
        default_factory=dict
    )
    """Metrics path: width (ms) of the distribution bucket each of p50/p95/p99 was interpolated in, per bucket."""
