"""What a user reads in a view, as plain text: a Dash component tree, or a Textual Static's content."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console


def dash_text(component: Any) -> str:
    """All text under a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(dash_text(c) for c in component)
    return dash_text(getattr(component, "children", None))


def static_text(widget: Any) -> str:
    """What a Textual `Static` shows (it may hold a Rich table), without styles."""
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(widget.content)
    return console.export_text()
