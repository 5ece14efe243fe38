"""Fleet table cells: which columns fit the terminal, and one row of styled text per function.

Pure functions of the snapshot, so the thread worker builds every cell and the UI thread only
swaps the ones that changed. Colours come from the running theme (`Palette.from_theme`), and every
warning is also bold so it still stands out under NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rich.text import Text

from opsview import formatting as fmt
from opsview.fleet import FunctionStatus
from opsview.schema import FunctionKey
from opsview.tui.model import SortColumn, Sparks

SPARK_BLOCKS: Final = "▁▂▃▄▅▆▇█"

ERROR_RATE_WARN: Final = 0.01
ERROR_RATE_BAD: Final = 0.05
TIMEOUT_WARN: Final = 0.7  # p99 as a share of the function's timeout
TIMEOUT_BAD: Final = 0.9


@dataclass(frozen=True, slots=True)
class Palette:
    error: str = "red"
    warning: str = "yellow"
    success: str = "green"
    muted: str = "bright_black"

    @classmethod
    def from_theme(cls, variables: Mapping[str, str]) -> Palette:
        def pick(name: str, fallback: str) -> str:
            value = variables.get(name, "")
            return value if value.startswith("#") and len(value) in (7, 9) else fallback

        default = cls()
        return cls(
            error=pick("error", default.error),
            warning=pick("warning", default.warning),
            success=pick("success", default.success),
            muted=pick("foreground-muted", default.muted)[:7],
        )


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    key: str
    label: str
    width: int  # including the one-space gutter; the function column takes what is left
    right: bool
    drop_rank: int  # columns with the highest rank go first when the terminal is narrow; 0 never goes


COLUMNS: Final[tuple[ColumnSpec, ...]] = (
    ColumnSpec("cloud", "cloud", 6, False, 0),
    ColumnSpec("account", "account", 14, False, 11),
    ColumnSpec("region", "region", 13, False, 1),
    ColumnSpec("function", "function", 0, False, 0),
    ColumnSpec("inv", "inv/min", 8, True, 0),
    ColumnSpec("err", "err %", 6, True, 0),
    ColumnSpec("thr", "thr", 6, True, 3),
    ColumnSpec("cold", "cold%", 6, True, 6),
    ColumnSpec("p50", "p50", 6, True, 8),
    ColumnSpec("p95", "p95", 6, True, 7),
    ColumnSpec("p99", "p99", 6, True, 0),
    ColumnSpec("max", "max", 6, True, 10),
    ColumnSpec("cost", "$/h", 7, True, 2),
    ColumnSpec("spark_inv", "inv 1h", 11, False, 5),
    ColumnSpec("spark_err", "err 1h", 11, False, 4),
)
_WIDTH: Final = {c.key: c.width for c in COLUMNS}
# the table column each sort reads, kept on screen while the table is sorted by it
SORT_COLUMN: Final[Mapping[SortColumn, str]] = {
    SortColumn.FUNCTION: "function",
    SortColumn.INVOCATIONS: "inv",
    SortColumn.ERROR_RATE: "err",
    SortColumn.THROTTLES: "thr",
    SortColumn.COLD_STARTS: "cold",
    SortColumn.P99: "p99",
    SortColumn.COST: "cost",
}
FUNCTION_MIN_WIDTH: Final = 20
FUNCTION_MAX_WIDTH: Final = 40


def fit_columns(width: int, keep: str | None = None) -> list[tuple[ColumnSpec, int]]:
    """The columns that fit `width` cells, with the function column's width.

    The least important column goes first (highest `drop_rank`), but never `keep`: the column the
    table is sorted by stays, and the next one in line goes instead.
    """
    chosen = list(COLUMNS)
    while True:
        fixed = sum(c.width for c in chosen)
        droppable = [c for c in chosen if c.drop_rank and c.key != keep]
        if fixed + FUNCTION_MIN_WIDTH <= width or not droppable:
            break
        chosen.remove(max(droppable, key=lambda c: c.drop_rank))
    function_width = min(FUNCTION_MAX_WIDTH, max(FUNCTION_MIN_WIDTH, width - sum(c.width for c in chosen)))
    return [(c, function_width if c.key == "function" else c.width) for c in chosen]


def sparkline(values: Sequence[float | None]) -> str:
    """Blocks scaled to the series' own peak; a bucket without data is a blank, not a zero bar."""
    known = [v for v in values if v is not None]
    peak = max(known, default=0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif peak <= 0:
            out.append(SPARK_BLOCKS[0])
        else:
            out.append(SPARK_BLOCKS[min(len(SPARK_BLOCKS) - 1, int(v / peak * (len(SPARK_BLOCKS) - 1) + 0.5))])
    return "".join(out)


def short_account(account: str, limit: int = 13) -> str:
    return account if len(account) <= limit else account[: limit - 1] + "…"


def _cell(text: str, right: bool, style: str = "", width: int = 0) -> Text:
    # The table has no cell padding (so the columns fit 80 and 120 terminals): numbers carry a
    # leading space, and text is cut one short of its column, so neighbours never touch.
    if width and len(text) >= width:
        text = text[: width - 2] + "…"
    cell = Text(" " + text if right else text, style=style, justify="right" if right else "left",
                no_wrap=True, overflow="ellipsis", end="")
    return cell


def label(spec: ColumnSpec) -> Text:
    return _cell(spec.label, spec.right or spec.key.startswith("spark"))


def row_cells(status: FunctionStatus, sparks: Sparks | None, palette: Palette) -> dict[str, Text]:
    """Every column's cell for one function (the table shows the ones that fit)."""
    key, m = status.key, status.measures
    bad, warn = f"bold {palette.error}", f"bold {palette.warning}"
    err_style = ""
    if status.error_rate is not None:
        err_style = bad if status.error_rate >= ERROR_RATE_BAD else warn if status.error_rate >= ERROR_RATE_WARN else ""
    p99_style = ""
    timeout_ms = (status.info.timeout_s or 0) * 1000
    if m.duration_p99_ms is not None and timeout_ms > 0:
        share = m.duration_p99_ms / timeout_ms
        p99_style = bad if share >= TIMEOUT_BAD else warn if share >= TIMEOUT_WARN else ""
    thr_style = warn if m.throttles else ""
    idle = "" if status.buckets else palette.muted
    inv_spark, err_spark = sparks if sparks is not None else ((), ())
    return {
        "cloud": _cell(key.provider, False, idle),
        "account": _cell(short_account(key.account), False, palette.muted),
        "region": _cell(key.region, False, width=_WIDTH["region"]),
        "function": _cell(key.name, False),
        "inv": _cell(fmt.rate(status.invocations_per_min), True, idle),
        "err": _cell(fmt.percent(status.error_rate), True, err_style),
        "thr": _cell(fmt.count(m.throttles), True, thr_style),
        "cold": _cell(fmt.percent(status.cold_start_rate), True),
        "p50": _cell(fmt.millis(m.duration_p50_ms), True),
        "p95": _cell(fmt.millis(m.duration_p95_ms), True),
        "p99": _cell(fmt.millis(m.duration_p99_ms), True, p99_style),
        "max": _cell(fmt.millis(m.duration_max_ms), True),
        "cost": _cell(fmt.usd(status.cost_per_hour), True),
        "spark_inv": _cell(sparkline(inv_spark) if inv_spark else "", True, palette.success),
        "spark_err": _cell(sparkline(err_spark) if err_spark else "", True,
                           palette.error if any(err_spark) else palette.muted),
    }


class CellCache:
    """Each function's formatted cells, built when its row is first drawn and kept while its numbers hold.

    Only rows that reach the screen are ever formatted, so a refresh costs the visible rows, not the fleet.
    """

    def __init__(self, palette: Palette) -> None:
        self.palette = palette
        self._entries: dict[FunctionKey, tuple[FunctionStatus, Sparks | None, dict[str, Text]]] = {}

    def get(self, status: FunctionStatus, sparks: Sparks | None) -> dict[str, Text]:
        entry = self._entries.get(status.key)
        if entry is not None and (entry[0] is status or entry[0] == status) and entry[1] == sparks:
            if entry[0] is not status:
                self._entries[status.key] = (status, sparks, entry[2])
            return entry[2]
        cells = row_cells(status, sparks, self.palette)
        self._entries[status.key] = (status, sparks, cells)
        return cells

    def keep_only(self, keys: Mapping[FunctionKey, object]) -> None:
        """Forget functions no longer in the table (a provider switch, a deleted function)."""
        if any(key not in keys for key in self._entries):
            self._entries = {key: entry for key, entry in self._entries.items() if key in keys}
