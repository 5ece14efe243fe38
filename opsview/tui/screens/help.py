"""`?`: every key, its binding id (for `[tui.keymap]`) and what it does."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def help_table(
    sections: Sequence[tuple[str, Sequence[BindingType]]],
    keymap: Mapping[str, str],
    key_display: Callable[[Binding], str],
) -> Table:
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False, expand=False)
    table.add_column("screen", no_wrap=True)
    table.add_column("keys", no_wrap=True)
    table.add_column("id (for \\[tui.keymap])", no_wrap=True)
    table.add_column("action")
    for section, bindings in sections:
        for b in bindings:
            if not isinstance(b, Binding) or not b.id:
                continue
            keys = keymap.get(b.id, b.key)
            shown = ", ".join(key_display(replace(b, key=k.strip(), key_display=None)) for k in keys.split(","))
            table.add_row(section, shown, b.id, b.tooltip or b.description)
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="close_help")]

    def __init__(self, sections: Sequence[tuple[str, Sequence[BindingType]]], keymap: Mapping[str, str]) -> None:
        super().__init__(id="help")
        self.sections = sections
        self.keymap = keymap
        self.table: Table | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static("Keys · ctrl+p opens the command palette · escape closes", id="help-title", markup=False)
            self.table = help_table(self.sections, self.keymap, self.app.get_key_display)
            yield Static(self.table, id="help-keys")
