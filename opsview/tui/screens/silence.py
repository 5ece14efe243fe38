"""`s` on the alerts screen: how long to silence one alert, and why; the write is the caller's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from opsview.alerts.silencing import parse_silence_duration
from opsview.schema import FunctionKey

DEFAULT_DURATION = "1h"


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    duration: timedelta
    comment: str


class SilenceScreen(ModalScreen[SilenceRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="silence_cancel")]

    def __init__(self, rule: str, key: FunctionKey) -> None:
        super().__init__(id="silence")
        self.rule = rule
        self.key = key

    def compose(self) -> ComposeResult:
        with Vertical(id="silence-box"):
            yield Static(Text(f"Silence {self.rule}", style="bold"), id="silence-title")
            yield Static(Text(f"for {self.key}"), id="silence-function")
            yield Label("How long (e.g. 30m, 2h, 1d)")
            yield Input(DEFAULT_DURATION, id="silence-duration")
            yield Label("Comment (shown by `opsview silence list`)")
            yield Input(placeholder="why", id="silence-comment")
            yield Static("", id="silence-error", markup=False)
            with Horizontal(id="silence-buttons"):
                yield Button("Silence", id="silence-ok", variant="warning")
                yield Button("Cancel", id="silence-cancel")

    def on_mount(self) -> None:
        self.query_one("#silence-duration", Input).focus()

    @on(Input.Submitted, "#silence-duration")
    def _next_field(self) -> None:
        self.query_one("#silence-comment", Input).focus()

    @on(Input.Submitted, "#silence-comment")
    @on(Button.Pressed, "#silence-ok")
    def submit(self) -> None:
        text = self.query_one("#silence-duration", Input).value
        try:
            duration = parse_silence_duration(text)
        except ValueError as exc:
            self.query_one("#silence-error", Static).update(str(exc))
            self.query_one("#silence-duration", Input).focus()
            return
        self.dismiss(SilenceRequest(duration, self.query_one("#silence-comment", Input).value.strip()))

    @on(Button.Pressed, "#silence-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
