"""What the thread workers post back to the UI thread: small, typed, applied by one handler each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from textual.message import Message

from opsview.alert_records import AlertRecord, Silence
from opsview.collect import SourceReport
from opsview.fleet import FunctionStatus
from opsview.schema import FunctionKey
from opsview.tui.loader import DetailData
from opsview.tui.model import FleetSnapshot, Sparks


@dataclass
class FleetLoaded(Message):
    """A fleet read finished (sparklines follow in `SparksLoaded`); `rows` went through the read's view."""

    generation: int
    snapshot: FleetSnapshot
    rows: Sequence[FunctionStatus]

    def can_replace(self, message: Message) -> bool:
        # only the newest read matters when several queue up behind a busy UI thread
        return isinstance(message, FleetLoaded)


@dataclass
class SparksLoaded(Message):
    """The sparkline series for the fleet read of the same generation."""

    generation: int
    sparks: Mapping[FunctionKey, Sparks]

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SparksLoaded)


@dataclass
class FleetLoadFailed(Message):
    generation: int
    error: str


@dataclass
class CollectionFinished(Message):
    """A background collection pass ended (each failing source is inside `reports`, not raised)."""

    reports: Sequence[SourceReport]
    error: str | None = None


@dataclass
class DetailLoaded(Message):
    data: DetailData | None
    error: str | None = None


@dataclass
class AlertsLoaded(Message):
    records: Sequence[AlertRecord]
    has_rules: bool
    error: str | None = None
    measures: Mapping[str, str] = field(default_factory=dict)  # rule name -> measure, for values in their unit


@dataclass
class SilenceAdded(Message):
    """A silence written from the alerts screen (None and the reason when the write failed)."""

    silence: Silence | None
    error: str | None = None
