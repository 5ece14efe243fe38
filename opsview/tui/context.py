"""What every screen needs from the app: the store, the config, the clock and the user's view."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from opsview.config import Config
from opsview.schema import utcnow
from opsview.store import Store
from opsview.tui.model import ViewState

Clock = Callable[[], datetime]


@dataclass
class TuiContext:
    """Shared by the app and its screens. `view` is only changed on the UI thread; workers get copies."""

    store: Store
    config: Config
    clock: Clock = utcnow
    read_only: bool = False
    view: ViewState = field(default_factory=ViewState)

    @property
    def interval(self) -> timedelta:
        return self.config.collect.interval


class Reloadable(Protocol):
    """A screen that re-reads the store when the window changes or a collection lands."""

    def reload(self) -> None: ...
