"""Charts of one function over the window, drawn with textual-plotext.

Each chart is a legend line above a plot, so the legend never covers the data. The x axis is UTC
clock time over the whole window (the time the header shows); y axes start at zero and their
labels are round numbers in the measure's unit ("30 s", "2.5k"). Counts are drawn per minute of
the bucket's time inside the window, so the newest bucket, still filling, does not read as a drop
(and the axis reads like the fleet table's inv/min). A bucket the provider did not report is a gap,
not a zero. An optional reference line (the function's timeout on the duration
chart) is drawn when it is within REFERENCE_SPAN of the data, so a far-away timeout does not
flatten every line to the floor; the legend names it either way ("↑ timeout 300 s" when it is above
the chart). Deploys inside the window are vertical lines across every chart (the caption above the charts is
their legend), drawn under the data so a line never hides a point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot
from textual_plotext.plot import Plot

from opsview.schema import Sample
from opsview.tui.axes import Unit, axis_ticks, segments, time_ticks

REFERENCE_SPAN: Final = 4.0  # draw the reference when it is at most this many times the highest point
_FALLBACK_COLOURS: Final = {"primary": "#0178D4", "success": "#4EBF71", "warning": "#FFA62B", "error": "#BA3C5B",
                            "foreground": "#E0E0E0"}
MARKER_COLOUR: Final = "foreground"  # deploy lines: the text colour, unlike any series' colour in every theme


@dataclass(frozen=True, slots=True)
class Line:
    """One measure drawn as a line: the Sample attribute, its legend label, a theme colour variable."""

    attr: str
    label: str
    colour: str
    right: bool = False  # on the right-hand axis (a second unit)


@dataclass(frozen=True, slots=True)
class Reference:
    """A horizontal line for a limit, e.g. the function's timeout on the duration chart."""

    value: float
    label: str
    colour: str = "error"


@dataclass(frozen=True, slots=True)
class ChartData:
    """What one chart draws; kept so the plot can be rebuilt for any size it is given."""

    samples: Sequence[Sample]
    start: datetime
    end: datetime
    step_s: int
    reference: Reference | None = None
    markers: Sequence[datetime] = ()  # deploys: a vertical line each, where inside [start, end]


class _Plot(PlotextPlot):
    """The plot itself: rebuilt at render time, since round ticks depend on the size it gets."""

    def __init__(self, chart: SeriesChart) -> None:
        super().__init__(classes="chart-plot")
        self.chart = chart

    def render(self) -> RenderResult:
        self.chart.draw(self.plt, self.size.width, self.size.height)
        return super().render()


class SeriesChart(Vertical):
    """A legend line over a line chart of one or two units (left axis, optional right axis)."""

    def __init__(
        self, lines: Sequence[Line], unit: Unit, *, right_unit: Unit | None = None, id: str  # noqa: A002
    ) -> None:
        super().__init__(id=id, classes="chart")
        self.lines = tuple(lines)
        self.unit = unit
        self.right_unit = right_unit
        self.data: ChartData | None = None
        self._runs: dict[Line, list[tuple[list[float], list[float]]]] = {}
        self.reference_drawn = False
        self.markers_drawn: tuple[datetime, ...] = ()  # as last drawn, for tests
        self.tops: dict[str, float] = {}  # "left"/"right" -> top of that axis as last drawn

    def compose(self) -> ComposeResult:
        yield Static(id=f"{self.id}-legend", classes="chart-legend", markup=False)
        yield _Plot(self)

    @property
    def plot(self) -> PlotextPlot:
        return self.query_one(_Plot)

    @property
    def legend(self) -> Static:
        return self.query_one(".chart-legend", Static)

    def show(self, data: ChartData) -> None:
        self.data = data
        window = (data.start, data.end)
        self._runs = {
            line: segments(data.samples, line.attr, data.step_s,
                           per_minute_of=window if self._unit(line) == "per_minute" else None)
            for line in self.lines
        }
        self.legend.update(self._legend_text(data))
        self.plot.refresh()

    def _unit(self, line: Line) -> Unit:
        return self.right_unit or self.unit if line.right else self.unit

    # --- drawing -----------------------------------------------------------------------------

    def _colour(self, name: str) -> tuple[int, int, int]:
        value = self.app.theme_variables.get(name) or _FALLBACK_COLOURS.get(name, "#888888")
        return Color.parse(value).rgb

    def _peak(self, right: bool) -> float:
        return max((y for line, runs in self._runs.items() if line.right == right for _, ys in runs for y in ys),
                   default=0.0)

    def _draws_reference(self, data: ChartData) -> bool:
        ref = data.reference
        return ref is not None and ref.value <= REFERENCE_SPAN * self._peak(right=False)

    def _legend_text(self, data: ChartData) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis", end="")
        for line in self.lines:
            if text:
                text.append("  ")
            text.append("━ ", style=f"bold {self._hex(line.colour)}")
            if self._runs.get(line):
                text.append(line.label + (" (right)" if line.right else ""))
            else:
                text.append(f"{line.label}: no data", style="italic")
        ref = data.reference
        if ref is not None:
            # drawn: a line in the legend; too far above the data to draw: an arrow up
            drawn = self._draws_reference(data)
            text.append("  ")
            text.append("─ " if drawn else "↑ ", style=f"bold {self._hex(ref.colour)}")
            text.append(ref.label)
        return text

    def _hex(self, name: str) -> str:
        return Color(*self._colour(name)).hex

    def draw(self, plt: Plot, width: int, height: int) -> None:
        """Build the figure for a `width` x `height` plot (called by the plot when it renders)."""
        plt.clear_figure()
        data = self.data
        if data is None or width < 10 or height < 4:
            return
        rows = height - 3  # frame above and below, clock labels under it
        ref = data.reference if self._draws_reference(data) else None
        left_peak = max(self._peak(right=False), ref.value if ref else 0.0)
        axes = {"left": axis_ticks(self.unit, left_peak, rows, ref.value if ref else None)}
        if self.right_unit is not None:
            axes["right"] = axis_ticks(self.right_unit, self._peak(right=True), rows)
        label_cells = 0
        for side, (top, ticks) in axes.items():
            # the stubs say float; plotext takes "left"/"right" (its docs: `plt.plot(..., yside="right")`)
            plt.ylim(0, top, yside=side)  # type: ignore[arg-type]
            plt.yticks(ticks.positions, ticks.labels, yside=side)  # type: ignore[arg-type]
            label_cells += max(len(t) for t in ticks.labels)
        self.tops = {side: top for side, (top, _) in axes.items()}
        plt.xlim(data.start.timestamp(), data.end.timestamp())
        clock = time_ticks(data.start, data.end, width - label_cells - 2)
        plt.xticks(clock.positions, clock.labels)
        self.reference_drawn = ref is not None
        if ref is not None:
            plt.hline(ref.value, self._colour(ref.colour))
        self.markers_drawn = tuple(at for at in data.markers if data.start <= at <= data.end)
        for at in self.markers_drawn:
            plt.vline(at.timestamp(), self._colour(MARKER_COLOUR))
        for line, runs in self._runs.items():
            side = "right" if line.right else "left"
            colour = self._colour(line.colour)
            for xs, ys in runs:
                if len(xs) == 1:
                    plt.scatter(xs, ys, marker="braille", color=colour, yside=side)
                else:
                    plt.plot(xs, ys, marker="braille", color=colour, yside=side)
