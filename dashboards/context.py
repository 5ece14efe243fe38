"""What callbacks read: the app's store, config, clock and read cache, kept on the Flask app (no module globals)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from flask import Flask, current_app

from opsview.config import Config, RuleConfig
from opsview.store import Store
from opsview.web.reads import ReadCache

_EXTENSION = "opsview"


@dataclass(frozen=True, slots=True)
class WebContext:
    store: Store
    config: Config
    clock: Callable[[], datetime]
    reads: ReadCache = field(default_factory=ReadCache)  # per app: shared by its requests
    rules: tuple[RuleConfig, ...] = ()  # the alert rules, for the thresholds the Functions grid marks
    rules_error: str | None = None  # why the rules could not be loaded (the grid then marks nothing)


def attach(server: Flask, ctx: WebContext) -> None:
    server.extensions[_EXTENSION] = ctx


def context_of(server: Flask) -> WebContext:
    ctx: WebContext = server.extensions[_EXTENSION]
    return ctx


def web_context() -> WebContext:
    """The context of the app serving the current request (callbacks run inside one)."""
    ctx: WebContext = current_app.extensions[_EXTENSION]
    return ctx
