"""A function's top error signatures on the detail screen: count in the window, first seen (NEW when first
seen inside it), last seen and the signature; enter opens the latest sample of the one under the cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from opsview import formatting as fmt
from opsview.error_records import SignatureSummary

# count, first seen ("NEW 59m ago"), last seen; then what the row takes besides its cells: a space either side
# of each of the four cells, the table's scrollbar, and the detail body's padding and scrollbar
_WIDTHS: Final = {"count": 6, "first": 11, "last": 9}
_AROUND: Final = 4 * 2 + 2 + 2 + 2
MIN_SIGNATURE: Final = 20


def first_seen_text(summary: SignatureSummary, now: datetime) -> Text:
    """`NEW 7m ago` (NEW in reverse video, which reads in every theme and without colour) or `2h ago`."""
    ago = fmt.ago(now - summary.first_seen)
    return Text.assemble(("NEW ", "bold reverse"), ago) if summary.new else Text(ago)


class ErrorTable(DataTable[Text]):
    """The signatures, most frequent first; `summaries[i]` is row i."""

    BINDINGS = [
        # not in the footer (its heading says so): at 80 columns it would push Quit off it
        Binding("enter", "show_sample", "Sample", id="error_sample", show=False,
                tooltip="Show the latest sample of the error signature under the cursor"),
    ]

    class SampleRequested(Message):
        def __init__(self, summary: SignatureSummary) -> None:
            super().__init__()
            self.summary = summary

    def __init__(self, *, id: str) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.summaries: tuple[SignatureSummary, ...] = ()

    def show(self, summaries: Sequence[SignatureSummary], now: datetime, width: int) -> None:
        """Fill the table for a screen `width` columns wide, keeping the cursor on the same signature."""
        current = self.current.signature if self.current else None
        self.summaries = tuple(summaries)
        self.clear(columns=True)
        room = max(MIN_SIGNATURE, width - sum(_WIDTHS.values()) - _AROUND)
        self.add_column(Text("count", justify="right"), key="count", width=_WIDTHS["count"])
        self.add_column("first seen", key="first", width=_WIDTHS["first"])
        self.add_column("last seen", key="last", width=_WIDTHS["last"])
        self.add_column("signature", key="signature", width=room)
        for s in self.summaries:
            signature = fmt.printable(s.signature)
            if len(signature) > room:
                signature = signature[: room - 1] + "…"
            self.add_row(Text(fmt.count(s.count), justify="right"), first_seen_text(s, now),
                         Text(fmt.ago(now - s.last_seen)), Text(signature), key=s.signature)
        # a refresh changes the counts: the cursor follows the signature, not the row
        signatures = [s.signature for s in self.summaries]
        if current in signatures:
            self.move_cursor(row=signatures.index(current))

    @property
    def current(self) -> SignatureSummary | None:
        if not self.summaries or not 0 <= self.cursor_row < len(self.summaries):
            return None
        return self.summaries[self.cursor_row]

    def action_show_sample(self) -> None:
        summary = self.current
        if summary is not None:
            self.post_message(self.SampleRequested(summary))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # a click on the highlighted row (enter is the binding above)
        event.stop()
        self.action_show_sample()
