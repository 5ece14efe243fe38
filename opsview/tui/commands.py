"""The command palette's entries: every key binding as an action, and a screenshot that says where it went.

A binding's tooltip names its action ("Sort by the next column"); the palette shows that as the
entry, and below it the key (as the footer draws it, after any `[tui.keymap]` remap) with what the
action would do right now ("key s · now err % ↓, next throttles").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Final

from platformdirs import user_downloads_dir
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.screen import Screen

from opsview.tui.context import TuiContext
from opsview.tui.model import FleetTableView, next_window, window_label

NOT_IN_PALETTE = {"quit", "clear_filter"}  # the palette has its own Quit; escape in the box clears it


def _sort_now(view: FleetTableView) -> str:
    return f"now {view.sort_label()}, next {view.cycle_sort().sort_label()}"


_WHAT: Final = {
    "filter": "by text or glob, e.g. payments or aws/*/us-east-1/*",
    "alerts": "firing and pending, from the store",
    "help": "every key, and its binding id for [tui.keymap]",
}


def _state(binding_id: str, ctx: TuiContext, screen: Screen[object]) -> str | None:
    """What the action would do from here, when that is worth saying."""
    if binding_id in _WHAT:
        return _WHAT[binding_id]
    view = ctx.view
    if binding_id == "window":
        return f"now {window_label(view.window)}, next {window_label(next_window(view.window))}"
    if binding_id == "sort":
        return _sort_now(view)
    if binding_id == "sort_direction":
        return f"now {view.sort_label()}"
    if binding_id.startswith("provider_"):
        return f"now {view.provider or 'every cloud'}"
    if binding_id == "refresh":
        return "re-read the store" if ctx.read_only else "collect now, then re-read the store"
    if binding_id == "detail":
        key = getattr(getattr(screen, "table", None), "cursor_key", None)
        return None if key is None else str(key)
    return None


def binding_commands(
    app: App[Any], ctx: TuiContext, screen: Screen[object], bindings: Sequence[tuple[Sequence[BindingType], DOMNode]]
) -> Iterable[SystemCommand]:
    """One palette entry per binding with an id; `bindings` pairs each list with the node its actions run on."""
    keymap = ctx.config.tui.keymap
    for group, node in bindings:
        for binding in group:
            if not isinstance(binding, Binding) or not binding.id or binding.id in NOT_IN_PALETTE:
                continue
            keys = keymap.get(binding.id, binding.key).split(",")
            shown = " or ".join(app.get_key_display(Binding(k.strip(), binding.action)) for k in keys)
            state = _state(binding.id, ctx, screen)
            help_text = f"key {shown}" + (f" · {state}" if state else "")
            yield SystemCommand(binding.tooltip or binding.description, help_text,
                                partial(app.run_action, binding.action, node))


def screenshot_dir() -> Path:
    """The Downloads folder when there is one (as Textual's own screenshot), else the working directory."""
    downloads = Path(user_downloads_dir())
    return downloads if downloads.is_dir() else Path.cwd()


def screenshot_name(now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> str:
    return f"opsview_{now():%Y-%m-%dT%H-%M-%S_%f}Z.svg"
