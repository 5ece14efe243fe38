"""Command-line tables whose numbers are never cut: a narrow terminal loses whole columns, never digits.

Rich shrinks every column of a table wider than the terminal and cuts what no longer fits ("1.2…" for
"1.25s"): a number that reads as another number. Here each column is either a value (`Column.cut_to`
None: shown whole or not at all) or a name that may be shortened to a floor (`cut_to`, with an ellipsis).
- On a terminal, the columns of least importance (highest `priority`) are dropped until every value column
  fits whole and the names keep their floor; names then share what is left. A caption names the columns
  left out. A column the rows are sorted by is kept (`keep`), like the TUI's.
- Piped or redirected (stdout is not a terminal), every column is printed at its full width, names whole:
  the output is for reading in full or for another program, not for an 80-column guess.

Cells are plain text, never Rich markup: a name from the input prints as it is (no `escape` needed; an
escaped name would show its backslashes), and control characters are stripped by `rich.text.Text`.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from opsview.formatting import printable


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    priority: int = 1
    """Which columns a narrow terminal drops first: the highest number. 0: never dropped."""
    cut_to: int | None = None
    """A name column: may be shortened down to this many cells. None: a value, shown whole or not at all."""
    right: bool = True
    """Right-justified (numbers), else left (names)."""


def print_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], *,
                keep: Collection[str] = (), console: Console | None = None) -> None:
    """Print `rows` (one string per column) under `title` (see the module docstring for the layout rules)."""
    console = console or Console()
    texts = [[literal(cell) for cell in row] for row in rows]
    natural = [max([cell_len(c.header), *(t.cell_len for t in (row[i] for row in texts))])
               for i, c in enumerate(columns)]
    if not sys.stdout.isatty() and console.file is sys.stdout:
        table = _build(title, columns, natural, texts, range(len(columns)))
        Console(file=console.file, width=max(_measure(console, table), 20)).print(table)
        return
    shown = list(range(len(columns)))
    while True:
        floors = [_floor(natural[i], columns[i].cut_to) for i in shown]
        need = _measure(console, _build(title, columns, dict(zip(shown, floors, strict=True)), [], shown))
        droppable = [i for i in shown if columns[i].priority > 0 and columns[i].header not in keep]
        if need <= console.width or not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].priority, i)))
    widths = dict(zip(shown, floors, strict=True))
    spare = console.width - need
    for i in shown:  # names grow back towards their full width, in column order
        if columns[i].cut_to is not None and spare > 0:
            grow = min(spare, natural[i] - widths[i])
            widths[i] += grow
            spare -= grow
    table = _build(title, columns, widths, texts, shown)
    hidden = [c.header for i, c in enumerate(columns) if i not in shown]
    if hidden:
        table.caption = f"not shown at {console.width} columns: {', '.join(hidden)} (widen the terminal, or pipe)"
        table.caption_justify = "left"
    console.print(table)


def _floor(natural: int, cut_to: int | None) -> int:
    return natural if cut_to is None else min(natural, cut_to)


def _build(title: str, columns: Sequence[Column], widths: dict[int, int] | Sequence[int],
           rows: Sequence[Sequence[Text]], shown: Sequence[int] | range) -> Table:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        column = columns[i]
        table.add_column(column.header, justify="right" if column.right else "left", no_wrap=True,
                         overflow="ellipsis", width=widths[i])
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def _measure(console: Console, table: Table) -> int:
    """The width `table` renders at with its columns' fixed widths (Rich's own arithmetic of padding and rules)."""
    return console.measure(table, options=console.options.update_width(10_000)).maximum


def literal(text: str) -> Text:
    """A name (function, region, source, rule) for a rich table, shown exactly as it is: rich reads a plain `str`
    cell as markup (`[/]` raises MarkupError and sinks the whole table, `[bold]x` turns bold) and emoji codes
    (`:fire:`); a `Text` is neither, unlike `rich.markup.escape`, which leaves `:fire:` to become an emoji.
    Control characters are escaped (rich passes ESC through to the terminal)."""
    return Text(printable(text))
