"""GCP error records and revisions -> error observations and function events (pure, no I/O).

- Errors: each `ErrorEntry` (`entries.parse_error` / `failed_execution`, the rule `opsview ingest` applies
  too) counts once in its function's (signature, minute); the latest one is the sample.
- Deploys (gen2): a Cloud Run revision (`resource.labels.revision_name`) is a deploy when it is new to the
  function after another revision was seen (in this read or an earlier refresh), or when Cloud Run logged a
  `DEPLOYMENT_ROLLOUT` instance start for it; dated by the earlier of that start and the revision's first entry.
  The first revision ever seen of a function, with no rollout in view, is where the book starts: when it went
  live is not in what was read. gen1 entries carry no version (`resource.labels`: function_name, project_id,
  region; `labels`: execution_id), so gen1 deploys are not seen.
- Instance starts that are not cold starts of traffic (DEPLOYMENT_ROLLOUT, MIN_INSTANCE, ...) are events with
  their reason and revision; AUTOSCALING starts are cold starts (samples), not events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from opsview.collectors.gcp.entries import ErrorEntry, InstanceStart, Invocation
from opsview.error_records import ErrorObservation, EventDetail, EventKind, FunctionEvent
from opsview.schema import FunctionKey, floor_time
from opsview.signatures import signature

ROLLOUT: Final = "DEPLOYMENT_ROLLOUT"
_REMEMBERED_REVISIONS: Final = 20  # per function: a new revision told from a recent one rolled back to


@dataclass(slots=True)
class _Seen:
    error_type: str | None
    count: int = 0
    sample: str | None = None
    sample_id: str | None = None
    sample_at: datetime | None = None


class ErrorAccumulator:
    """Error entries folded per (function, minute, signature), in memory bounded by what was seen."""

    def __init__(self) -> None:
        self._found: dict[tuple[FunctionKey, datetime, str], _Seen] = {}
        self._keys: dict[tuple[str, str, str], FunctionKey] = {}

    def add(self, entry: ErrorEntry) -> None:
        key = self.key((entry.project, entry.region, entry.function))
        slot = (key, floor_time(entry.at, 60), signature(entry.error_type, entry.message))
        seen = self._found.get(slot)
        if seen is None:
            seen = self._found[slot] = _Seen(entry.error_type)
        seen.count += 1
        if seen.sample_at is None or entry.at >= seen.sample_at:
            seen.sample, seen.sample_id, seen.sample_at = entry.sample, entry.sample_id, entry.at

    def key(self, where: tuple[str, str, str]) -> FunctionKey:
        key = self._keys.get(where)
        if key is None:
            key = self._keys[where] = FunctionKey("gcp", *where)
        return key

    @property
    def functions(self) -> set[FunctionKey]:
        return {key for key, _, _ in self._found}

    def observations(self) -> list[ErrorObservation]:
        return [ErrorObservation(key=key, minute=minute, signature=sig, error_type=s.error_type, count=s.count,
                                 sample=s.sample, sample_id=s.sample_id, sample_at=s.sample_at)
                for (key, minute, sig), s in sorted(self._found.items(), key=lambda item: item[0])]


@dataclass(slots=True)
class Revisions:
    """What one read showed of each gen2 function's revisions and its non-traffic instance starts."""

    first: dict[tuple[FunctionKey, str], datetime] = field(default_factory=dict)
    rollout: dict[tuple[FunctionKey, str], datetime] = field(default_factory=dict)
    starts: list[FunctionEvent] = field(default_factory=list)

    def observe(self, key: FunctionKey, event: Invocation | InstanceStart | ErrorEntry) -> None:
        revision = event.revision
        if isinstance(event, InstanceStart) and not event.cold_start:
            self.starts.append(FunctionEvent(key, event.at, EventKind.INSTANCE_START,
                                             EventDetail(revision=revision, reason=event.reason)))
            if revision and event.reason == ROLLOUT:
                slot = (key, revision)
                if slot not in self.rollout or event.at < self.rollout[slot]:
                    self.rollout[slot] = event.at
        if revision:
            slot = (key, revision)
            have = self.first.get(slot)
            if have is None or event.at < have:
                self.first[slot] = event.at


@dataclass(slots=True)
class RevisionBook:
    """The revisions seen so far per function, kept across refreshes (see the module docstring)."""

    seen: dict[FunctionKey, dict[str, datetime]] = field(default_factory=dict)

    def events(self, read: Revisions) -> list[FunctionEvent]:
        out = list(read.starts)
        for (key, revision), first in sorted(read.first.items(), key=lambda item: (item[1], item[0][1])):
            known = self.seen.setdefault(key, {})
            rollout = read.rollout.get((key, revision))
            at = min(first, rollout) if rollout is not None else first
            if revision in known:
                known[revision] = min(known[revision], at)
                continue
            if rollout is not None or any(seen < at for seen in known.values()):
                out.append(FunctionEvent(key, at, EventKind.DEPLOY, EventDetail(revision=revision)))
            known[revision] = at
            if len(known) > _REMEMBERED_REVISIONS:
                del known[min(known, key=lambda r: known[r])]
        return out
