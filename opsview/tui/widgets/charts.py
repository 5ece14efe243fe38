"""Charts of one function over the window, drawn with textual-plotext.

The x axis is minutes before now, so the chart reads the same at any hour; a bucket the
provider did not report is left out rather than drawn as zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from textual_plotext import PlotextPlot

from opsview.schema import Sample


def _points(samples: Sequence[Sample], attr: str, now: datetime) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for s in samples:
        value = getattr(s, attr)
        if value is not None:
            xs.append(round((s.start - now).total_seconds() / 60.0, 1))
            ys.append(float(value))
    return xs, ys


class SeriesChart(PlotextPlot):
    """A titled line chart of several measures of the same unit."""

    def __init__(self, title: str, measures: Sequence[tuple[str, str]], *, id: str) -> None:  # noqa: A002
        super().__init__(id=id, classes="chart")
        self.title = title
        self.measures = measures  # (attribute, legend label)
        self.right: tuple[str, str] | None = None  # an optional second measure on its own axis

    def show(self, samples: Sequence[Sample], now: datetime, step_s: int) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(f"{self.title} (per {step_s // 60} min)")
        plt.xlabel("minutes ago")
        drawn = False
        for attr, label in self.measures:
            xs, ys = _points(samples, attr, now)
            if xs:
                plt.plot(xs, ys, label=label, marker="braille")
                drawn = True
        if self.right is not None:
            xs, ys = _points(samples, self.right[0], now)
            if xs:
                plt.plot(xs, ys, label=self.right[1], yside="right", marker="braille")
                drawn = True
        if not drawn:
            plt.title(f"{self.title}: no data in this window")
        self.refresh()
