"""The contract every collector meets: a request in, schema records and health out.

SDK responses become schema records inside the collector module and never travel further.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from opsview.error_records import ErrorCoverage, ErrorObservation, FunctionEvent
from opsview.schema import CollectorHealth, Coverage, FunctionInfo, Sample

LastBucket = Callable[[str, "str | None", "str | None"], "datetime | None"]
"""(provider, account, region) -> start of the newest stored bucket, for incremental collection."""


def _no_history(provider: str, account: str | None = None, region: str | None = None) -> datetime | None:
    return None


@dataclass(frozen=True, slots=True)
class CollectRequest:
    start: datetime
    """Earliest time to collect (the --since reach); collectors go later when the store has data."""
    end: datetime
    """Collect buckets that start before this time."""
    last_bucket: LastBucket = _no_history


@dataclass(slots=True)
class CollectResult:
    functions: list[FunctionInfo] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    health: list[CollectorHealth] = field(default_factory=list)
    """One entry per scope (region, account, workspace, project); failures are entries, not exceptions."""
    coverage: list[Coverage] = field(default_factory=list)
    """The spans read completely, per (provider, account, region): a failed scope adds none. Time no
    collection covered is unknown to every reader, so a collector that says nothing here covers nothing."""
    errors: list[ErrorObservation] = field(default_factory=list)
    """Error signatures per function and minute (`ErrorObservation.of` applies the signature rule), each with
    the minute's whole count."""
    error_coverage: list[ErrorCoverage] = field(default_factory=list)
    """Which functions' errors were searched over which span, errors found or not. Without it the errors of
    a function stay unknown (not "none") and none of its signatures counts as new."""
    events: list[FunctionEvent] = field(default_factory=list)
    """Deploys, instance starts and restarts; the same event reported again is stored once."""


class Collector(Protocol):
    name: str
    """The source name from the config (unique)."""
    provider: str

    def collect(self, request: CollectRequest) -> CollectResult:
        """Fetch one window. Must not raise for a failing scope: report it in `health`."""
        ...
