"""Enter on a signature of the detail screen: its latest sample as logged, its request id, first and last seen."""

from __future__ import annotations

from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from opsview import formatting as fmt
from opsview.error_records import SignatureSummary


def _when(at: datetime | None, now: datetime) -> str:
    return fmt.MISSING if at is None else f"{at:%Y-%m-%d %H:%M:%S} UTC ({fmt.ago(now - at)})"


def sample_facts(summary: SignatureSummary, now: datetime, window: str) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    new = {True: "NEW: first seen inside the window", False: "seen before the window",
           None: "first seen inside the window, but its errors were not watched long enough before to call it new"}
    table.add_row("count", f"{fmt.count(summary.count)} in the last {window}")
    table.add_row("first seen", f"{_when(summary.first_seen, now)} · {new[summary.new]}")
    table.add_row("last seen", _when(summary.last_seen, now))
    table.add_row("request id", fmt.printable(summary.sample_id) if summary.sample_id else fmt.MISSING)
    table.add_row("sampled at", _when(summary.sample_at, now))
    return table


class ErrorSampleScreen(ModalScreen[None]):
    """The sample is shown as logged (stack trace included, up to the store's 2 KB), its control characters
    escaped so a hostile message cannot drive the terminal."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close", id="close_sample", tooltip="Close the sample")]

    def __init__(self, summary: SignatureSummary, now: datetime, window: str) -> None:
        super().__init__(id="error-sample")
        self.summary = summary
        self.now = now
        self.window = window

    def compose(self) -> ComposeResult:
        s = self.summary
        with Vertical(id="sample-box"):
            yield Static(Text(fmt.printable(s.signature), style="bold"), id="sample-signature")
            yield Static(sample_facts(s, self.now, self.window), id="sample-facts")
            with VerticalScroll(id="sample-scroll"):
                lines = (s.sample or "").splitlines()
                body = "\n".join(fmt.printable(line) for line in lines) if lines else "no sample was kept"
                yield Static(Text(body), id="sample-text")
            yield Static("escape closes", id="sample-hint", markup=False)
