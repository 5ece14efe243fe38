"""What every screen needs from the app: the store, the config, the clock and the user's view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsview.config import Config
from opsview.schema import utcnow
from opsview.store import Store
from opsview.tui.model import FleetTableView

Clock = Callable[[], datetime]


@dataclass
class TuiContext:
    """Shared by the app and its screens. `view` is only changed on the UI thread; workers get copies."""

    store: Store
    config: Config
    clock: Clock = utcnow
    read_only: bool = False
    view: FleetTableView = field(default_factory=FleetTableView)

    @property
    def interval(self) -> timedelta:
        return self.config.collect.interval
