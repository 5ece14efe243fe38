"""The fleet table: a virtual table that formats and draws only the rows on screen.

A DataTable holds a styled cell object for every row and re-sorts its own row list; at 5,000 functions
that made every refresh, keystroke and sort cost hundreds of milliseconds. Here the rows are the
snapshot's `FunctionStatus` objects in screen order, and a row's cells are built the first time it
is drawn (then cached until that function's numbers change), so applying a refresh, a filter or a
sort is list work on plain data plus one repaint of the visible lines. The cursor follows its
function (by `FunctionKey`), not its row number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from opsview.fleet import FunctionStatus
from opsview.schema import FunctionKey
from opsview.tui.model import Sparks
from opsview.tui.widgets.cells import CellCache, ColumnSpec, Palette, fit_columns, label

_HEADER_LINES = 1


class FleetTable(ScrollView, can_focus=True):
    """Rows are `FunctionStatus` in screen order; `show_rows` swaps them and keeps the cursor's function."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Select", show=False),
        Binding("up", "cursor_up", "Cursor up", show=False),
        Binding("down", "cursor_down", "Cursor down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "first_row", "First row", show=False),
        Binding("end", "last_row", "Last row", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "fleet-table--header", "fleet-table--cursor", "fleet-table--even-row", "fleet-table--odd-row",
    }

    # The same look as Textual's DataTable (which this table replaced), from theme variables only.
    DEFAULT_CSS = """
    FleetTable {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        &:focus {
            background-tint: $foreground 5%;
            & > .fleet-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .fleet-table--header {
                background-tint: $foreground 5%;
            }
        }
        &:dark > .fleet-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .fleet-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .fleet-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .fleet-table--even-row {
            background: $surface-lighten-1 50%;
        }
        & > .fleet-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    class RowSelected(Message):
        """The user chose a row (enter on the table, or a click)."""

        def __init__(self, table: FleetTable, key: FunctionKey) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> FleetTable:
            return self.table

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id)
        self._layout: list[tuple[ColumnSpec, int]] = []
        self._rows: Sequence[FunctionStatus] = ()
        self._position: dict[FunctionKey, int] = {}
        self._sparks: Mapping[FunctionKey, Sparks] = {}
        self._cells = CellCache(Palette())
        self._fit_width = 0
        self._sort_column: str | None = None
        self.cursor_row = 0

    # --- what the rest of the app reads --------------------------------------------------------

    @property
    def column_keys(self) -> list[str]:
        return [spec.key for spec, _ in self._layout]

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def shown_keys(self) -> list[FunctionKey]:
        """Functions in screen order."""
        return [status.key for status in self._rows]

    @property
    def cursor_key(self) -> FunctionKey | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row].key
        return None

    def get_cell(self, row: FunctionKey | str, column: str) -> Text:
        """One cell as it is drawn; `row` is a key or its `provider/account/region/name` text."""
        index = self._position.get(row) if isinstance(row, FunctionKey) else next(
            (i for i, status in enumerate(self._rows) if str(status.key) == row), None
        )
        if index is None:
            raise KeyError(row)
        return self._row_cells(index)[column]

    def move_to(self, key: FunctionKey) -> None:
        index = self._position.get(key)
        if index is not None:
            self._move_cursor(index)

    # --- rows ----------------------------------------------------------------------------------

    def show_rows(
        self, rows: Sequence[FunctionStatus], sparks: Mapping[FunctionKey, Sparks], palette: Palette,
        *, sort_column: str, to_top: bool = False,
    ) -> None:
        """Show `rows` in this order, sorted by `sort_column` (kept on screen however narrow).

        The cursor stays on its function while that function is shown, unless `to_top`: a new sort
        starts at its first row, not wherever the cursor's function landed in the new order.
        """
        if sort_column != self._sort_column:
            self._sort_column = sort_column
            self._fit_layout()
        cursor = None if to_top else self.cursor_key
        self._rows = rows
        self._position = {status.key: i for i, status in enumerate(rows)}
        self._sparks = sparks
        if palette != self._cells.palette:
            self._cells = CellCache(palette)
        self._cells.keep_only(self._position)
        self.virtual_size = Size(self.size.width, len(rows) + _HEADER_LINES)
        index = self._position.get(cursor) if cursor is not None else None
        self._move_cursor(0 if to_top else self.cursor_row if index is None else index)
        self.refresh()

    def show_sparks(self, sparks: Mapping[FunctionKey, Sparks]) -> None:
        """New sparklines for the rows shown (they land after the numbers)."""
        self._sparks = sparks
        self.refresh()

    def _row_cells(self, index: int) -> Mapping[str, Text]:
        status = self._rows[index]
        return self._cells.get(status, self._sparks.get(status.key))

    # --- cursor --------------------------------------------------------------------------------

    @property
    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - _HEADER_LINES)

    def _move_cursor(self, index: int) -> None:
        index = max(0, min(index, len(self._rows) - 1))
        if index != self.cursor_row:
            self.cursor_row = index
            self.refresh()
        top = round(self.scroll_y)
        if index < top:
            self.scroll_to(y=index, animate=False, force=True)
        elif index >= top + self._body_height:
            self.scroll_to(y=index - self._body_height + 1, animate=False, force=True)

    def action_cursor_up(self) -> None:
        self._move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self._move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self._move_cursor(self.cursor_row - self._body_height)

    def action_page_down(self) -> None:
        self._move_cursor(self.cursor_row + self._body_height)

    def action_first_row(self) -> None:
        self._move_cursor(0)

    def action_last_row(self) -> None:
        self._move_cursor(len(self._rows) - 1)

    def action_select_cursor(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.RowSelected(self, key))

    def on_click(self, event: events.Click) -> None:
        row = event.y - _HEADER_LINES + round(self.scroll_y)
        if event.y >= _HEADER_LINES and 0 <= row < len(self._rows):
            self._move_cursor(row)
            self.action_select_cursor()
            event.stop()

    # --- layout and drawing --------------------------------------------------------------------

    def _on_resize(self, event: events.Resize) -> None:
        self._fit_width = max(40, event.size.width - 2)  # leave room for the vertical scrollbar
        self._fit_layout()
        self.virtual_size = Size(event.size.width, len(self._rows) + _HEADER_LINES)

    def _fit_layout(self) -> None:
        if not self._fit_width:
            return  # not laid out yet: the first resize fits the columns
        layout = fit_columns(self._fit_width, keep=self._sort_column)
        if layout != self._layout:
            self._layout = layout
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y < _HEADER_LINES:
            return self._header(base + self.get_component_rich_style("fleet-table--header"), width)
        index = y - _HEADER_LINES + round(self.scroll_y)
        if index >= len(self._rows):
            return Strip.blank(width, base)
        cells = self._row_cells(index)
        shown = [cells[spec.key] for spec, _ in self._layout]
        if index == self.cursor_row:
            # the cursor's colours win over the cells' own (as in DataTable), so its row reads as one bar
            return self._strip(shown, base, width, self.get_component_rich_style("fleet-table--cursor"))
        stripe = self.get_component_rich_style("fleet-table--odd-row" if index % 2 else "fleet-table--even-row")
        return self._strip(shown, base + stripe, width)

    def _header(self, style: Style, width: int) -> Strip:
        """Column labels; the sorted column's label is underlined (its words, not the gutter beside them)."""
        segments = []
        for spec, col_width in self._layout:
            text = _fit(label(spec), col_width)
            if spec.key == self._sort_column:
                words = text.strip()
                start = text.index(words)
                segments += [Segment(text[:start], style), Segment(words, style + Style(underline=True)),
                             Segment(text[start + len(words):], style)]
            else:
                segments.append(Segment(text, style))
        used = sum(w for _, w in self._layout)
        if used < width:
            segments.append(Segment(" " * (width - used), style))
        return Strip(segments).crop(0, width)

    def _strip(self, cells: Sequence[Text], row_style: Style, width: int, over: Style | None = None) -> Strip:
        segments = []
        used = 0
        for cell, (_, col_width) in zip(cells, self._layout, strict=True):
            style = row_style + _style(cell.style)
            segments.append(Segment(_fit(cell, col_width), style if over is None else style + over))
            used += col_width
        if used < width:
            segments.append(Segment(" " * (width - used), row_style if over is None else row_style + over))
        return Strip(segments).crop(0, width)


def _style(style: str | Style) -> Style:
    return Style.parse(style) if isinstance(style, str) else style  # Style.parse is cached


def _fit(cell: Text, width: int) -> str:
    """The cell's text in exactly `width` cells: cut with an ellipsis, padded on its justified side."""
    text = cell.plain
    size = cell_len(text)
    if size > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    pad = " " * (width - size)
    return pad + text if cell.justify == "right" else text + pad
