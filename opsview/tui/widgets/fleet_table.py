"""The fleet table: one row per function, updated cell by cell so a refresh never loses the cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual import events
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from opsview.schema import FunctionKey
from opsview.tui.widgets.cells import ColumnSpec, FunctionCell, fit_columns, label

Row = tuple[FunctionKey, Mapping[str, Text]]

# Above this many removed rows one rebuild is cheaper than DataTable.remove_row's O(n) each.
_REBUILD_REMOVALS = 64


class FleetTable(DataTable[Text]):
    """Rows keyed by `str(FunctionKey)`; `show_rows` diffs against what is on screen."""

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own parameter name
        super().__init__(id=id, cursor_type="row", zebra_stripes=True, cell_padding=0)
        self._layout: list[tuple[ColumnSpec, int]] = []
        self._rows: list[Row] = []
        self._shown: dict[FunctionKey, Mapping[str, Text]] = {}
        self._order: list[FunctionKey] = []

    # --- what the rest of the app reads --------------------------------------------------------

    @property
    def column_keys(self) -> list[str]:
        return [spec.key for spec, _ in self._layout]

    @property
    def shown_keys(self) -> list[FunctionKey]:
        """Functions in screen order."""
        return list(self._order)

    @property
    def cursor_key(self) -> FunctionKey | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]

    def move_to(self, key: FunctionKey) -> None:
        if key in self._shown:
            self.move_cursor(row=self.get_row_index(str(key)), scroll=True)

    # --- layout --------------------------------------------------------------------------------

    def _on_resize(self, event: events.Resize) -> None:
        super()._on_resize(event)
        self._relayout(event.size.width)

    def _relayout(self, width: int) -> None:
        layout = fit_columns(max(40, width - 2))  # leave room for the vertical scrollbar
        if layout == self._layout:
            return
        self._layout = layout
        cursor = self.cursor_key
        self.clear(columns=True)
        for spec, col_width in layout:
            self.add_column(label(spec), width=col_width, key=spec.key)
        self._shown = {}
        self._order = []
        self._apply(self._rows, cursor)

    # --- rows ----------------------------------------------------------------------------------

    def show_rows(self, rows: Sequence[Row]) -> None:
        """Make the table show `rows` in this order, touching only cells whose text changed."""
        self._rows = list(rows)
        if self._layout:
            self._apply(self._rows, self.cursor_key)

    def _apply(self, rows: Sequence[Row], cursor: FunctionKey | None) -> None:
        wanted = {key for key, _ in rows}
        removed = [key for key in self._shown if key not in wanted]
        if len(removed) > _REBUILD_REMOVALS:
            self.clear()
            self._shown = {}
            self._order = []
        else:
            for key in removed:
                self.remove_row(str(key))
                del self._shown[key]
        columns = self.column_keys
        dirty = False
        on_screen = [key for key in self._order if key in self._shown and key in wanted]
        for key, cells in rows:
            old = self._shown.get(key)
            if old is None:
                self.add_row(*(cells[c] for c in columns), key=str(key))
                on_screen.append(key)  # add_row appends at the bottom
            elif old is not cells:
                changed = [c for c in columns if old[c] is not cells[c] and old[c] != cells[c]]
                if changed:
                    row = self._data[RowKey(str(key))]
                    for c in changed:
                        # what update_cell does, minus its refresh() per cell: one refresh below
                        row[ColumnKey(c)] = cells[c]
                    dirty = True
            self._shown[key] = cells
        order = [key for key, _ in rows]
        if on_screen != order:
            position = {key: i for i, key in enumerate(order)}
            self.sort("function", key=lambda cell: position[cell.function_key] if isinstance(cell, FunctionCell)
                      else len(position))
        self._order = order
        if dirty:
            self._update_count += 1  # invalidates the row render caches, as update_cell does
            self.refresh()
        if cursor is not None and cursor in self._shown:
            self.move_to(cursor)
