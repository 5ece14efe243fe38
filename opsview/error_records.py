"""Why a function fails and what changed: error observations and function events (deploys, instance starts).

On the ground floor beside `opsview.schema`: collectors and `opsview ingest` produce these records, the
store keeps them (`opsview.store.base.ErrorEventStore`), and the CLI, alerts, TUI and web read them back,
all without importing one another. The signature of an error comes from `opsview.signatures`, the one rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from opsview.schema import FunctionKey, floor_time
from opsview.signatures import MAX_SIGNATURE_CHARS, cap_sample, signature


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True)
class ErrorObservation:
    """How often one error signature occurred in one function during one minute, with the latest sample.

    A collector reports the *whole* count of each (function, signature, minute) it returns: the store
    replaces the count it holds for that minute (a re-collection refines a minute, as with samples), and
    observations repeated within one batch add up. Build one with `ErrorObservation.of` from a raw error,
    so the signature comes from the one rule.
    """

    key: FunctionKey
    minute: datetime
    """Start of the minute (tz-aware UTC, whole minute)."""
    signature: str
    error_type: str | None
    count: int
    sample: str | None = None
    """The latest occurrence's message as logged (stack trace included), cut to MAX_SAMPLE_BYTES."""
    sample_id: str | None = None
    """Its request id (AWS), operation id (Azure) or trace / execution id (GCP): what to search the logs for."""
    sample_at: datetime | None = None
    """When the sample occurred (within the minute); None = not known (the minute's start stands for it)."""

    def __post_init__(self) -> None:
        _aware("ErrorObservation.minute", self.minute)
        _aware("ErrorObservation.sample_at", self.sample_at)
        if self.minute.second or self.minute.microsecond:
            raise ValueError("ErrorObservation.minute must be the start of a minute")
        if self.count <= 0:
            raise ValueError("ErrorObservation.count must be positive")
        if not self.signature or len(self.signature) > MAX_SIGNATURE_CHARS:
            raise ValueError(f"ErrorObservation.signature must be 1 to {MAX_SIGNATURE_CHARS} characters")
        object.__setattr__(self, "sample", cap_sample(self.sample))
        if self.sample_id is not None:
            object.__setattr__(self, "sample_id", cap_sample(self.sample_id[:200]))

    @classmethod
    def of(
        cls,
        key: FunctionKey,
        at: datetime,
        error_type: str | None,
        message: str | None,
        *,
        count: int = 1,
        sample: str | None = None,
        sample_id: str | None = None,
    ) -> ErrorObservation:
        """An observation of an error at `at`: its minute, and its signature by the one rule. `sample` is
        the text to keep (default: the message)."""
        return cls(
            key=key, minute=floor_time(at, 60), signature=signature(error_type, message),
            error_type=error_type or None, count=count, sample=message if sample is None else sample,
            sample_id=sample_id, sample_at=at,
        )


@dataclass(frozen=True, slots=True)
class ErrorCoverage:
    """The functions whose errors a collector searched over [start, end), whether it found any or not.

    What tells "no errors" from "errors not collected": a function without coverage shows its errors as
    unknown, and a signature first seen before the store watched a function is not called new.
    """

    keys: tuple[FunctionKey, ...]
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _aware("ErrorCoverage.start", self.start)
        _aware("ErrorCoverage.end", self.end)
        if self.end < self.start:
            raise ValueError("ErrorCoverage.end must not be before its start")


@dataclass(frozen=True, slots=True)
class SignatureSummary:
    """One signature of one function over a window, as the store reads it back."""

    key: FunctionKey
    signature: str
    error_type: str | None
    count: int
    """Occurrences within the window."""
    first_seen: datetime
    """Start of the first minute the store counted it in (ever, not only in the window)."""
    last_seen: datetime
    """Its latest occurrence the store knows of."""
    sample: str | None
    sample_id: str | None
    sample_at: datetime | None
    new: bool | None
    """True: first seen inside the window, the store having watched the function's errors for at least one
    window's length before it first appeared (new in the last hour = not seen in the hour before it, at
    least); False: seen before the window; None: first seen inside the window, but the store had not watched
    the function's errors that long before, so whether it is new cannot be told (a fresh store, a new source)."""


class EventKind(enum.StrEnum):
    DEPLOY = "deploy"
    """New code or configuration went live (AWS version / CodeSha256, Azure app version, GCP revision)."""
    INSTANCE_START = "instance_start"
    """An instance started, with the reason when the platform gives one (GCP DEPLOYMENT_ROLLOUT, AUTOSCALING)."""
    RESTART = "restart"
    """The host restarted (Azure host restarts after a deployment or a crash)."""


@dataclass(frozen=True, slots=True)
class EventDetail:
    """What a provider says about an event; every field may be unknown. Stored as is, shown as is."""

    version: str | None = None
    """AWS function version, Azure AppVersion, GCP gen1 version label."""
    code_sha: str | None = None
    """AWS CodeSha256."""
    revision: str | None = None
    """GCP gen2 (Cloud Run) revision name."""
    reason: str | None = None
    """Why an instance started or a host restarted (DEPLOYMENT_ROLLOUT, AUTOSCALING, ...)."""
    instance: str | None = None
    """The instance or role instance that started."""


@dataclass(frozen=True, slots=True)
class FunctionEvent:
    """Something that happened to one function at one time. Writing the same event twice keeps one."""

    key: FunctionKey
    at: datetime
    kind: EventKind
    detail: EventDetail = field(default_factory=EventDetail)

    def __post_init__(self) -> None:
        _aware("FunctionEvent.at", self.at)
