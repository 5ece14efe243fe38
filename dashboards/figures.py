"""Plotly figures from the typed series in `opsview.web.data`; nothing here reads the store.

Figures are plain dicts in plotly.js's JSON shape rather than `plotly.graph_objects`: the object
layer validates every property on every build (~20 ms a chart), which a refresh of three charts
paid for nothing. Only `scatter` and `bar` traces are used: the vendored plotly.js bundle in
`assets/` is the "basic" partial bundle (scatter, bar, pie).

Titles are the pages' HTML headings (`components.chart`), not part of the figure: inside the plot a
title shares the top edge with Plotly's toolbar (the modebar), and a long one ran under it on a
narrow screen.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opsview.deploys import deploy_facts
from opsview.error_records import FunctionEvent
from opsview.schema import Sample
from opsview.web.data import Trace

Figure = dict[str, Any]

# Fixed colours per provider so a cloud keeps its colour across charts and pages.
PROVIDER_COLOURS = {"aws": "#ff9900", "azure": "#0078d4", "gcp": "#34a853", "demo": "#8e44ad"}
TRACE_TYPES = frozenset({"scatter", "bar"})  # what the vendored plotly.js bundle must draw
_HEIGHT = 260
# No `automargin`: it makes plotly.js lay every chart out twice (measure the labels, then redraw), the
# larger part of drawing one. The fixed margins below fit the labels these charts have (SI-suffixed
# counts, "per 5 min", two-line dates), the legend under the plot and the modebar above it. The legend is
# anchored to the figure's bottom edge, not the plot's: placed under the plot, plotly.js lifts a legend
# that does not fit over the axis's dates.
_AXIS = {"gridcolor": "#EBF0F8", "linecolor": "#EBF0F8", "zerolinecolor": "#EBF0F8", "ticks": "",
         "automargin": False, "zerolinewidth": 2}
# The parts of Plotly's "plotly_white" template these charts use, sent once per figure (~0.4 kB
# instead of the 7 kB full template).
_LAYOUT: Figure = {
    "height": _HEIGHT, "paper_bgcolor": "white", "plot_bgcolor": "white", "font": {"color": "#2a3f5f"},
    "colorway": ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3", "#FF6692"],
    "margin": {"l": 62, "r": 20, "t": 30, "b": 74},
    "legend": {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"},
    "hoverlabel": {"align": "left"}, "hovermode": "x unified",
    "uirevision": "keep",  # keep zoom across refreshes
    "xaxis": {**_AXIS, "type": "date"},
}


def _base(y_title: str) -> Figure:
    # every measure charted is a count, a duration or money: an all-zero series keeps its axis at 0, not -1..1
    layout = {**_LAYOUT, "yaxis": {**_AXIS, "title": {"text": y_title}, "rangemode": "nonnegative"}}
    return {"data": [], "layout": layout}


def _times(times: Sequence[datetime]) -> list[str]:
    # UTC wall-clock strings: plotly.js draws dates as given, and the dashboard shows UTC.
    return [t.strftime("%Y-%m-%d %H:%M:%S") for t in times]


def _step_label(step_s: int) -> str:
    return f"{step_s // 3600} h" if step_s >= 3600 else f"{step_s // 60} min"


def stacked(traces: Sequence[Trace], step_s: int) -> Figure:
    fig = _base(f"per {_step_label(step_s)}")
    fig["data"] = [
        {"type": "scatter", "x": _times(t.times), "y": t.values, "name": t.name, "stackgroup": "one",
         "mode": "lines", "line": {"width": 1, "color": PROVIDER_COLOURS.get(t.name)}}
        for t in traces
    ]
    return _empty_note(fig, traces)


def lines(traces: Sequence[Trace], y_title: str) -> Figure:
    fig = _base(y_title)
    fig["data"] = [
        {"type": "scatter", "x": _times(t.times), "y": t.values, "name": t.name, "mode": "lines",
         "connectgaps": False}
        for t in traces
    ]
    return _empty_note(fig, traces)


def empty() -> Figure:
    return {"data": [], "layout": {}}


def _empty_note(fig: Figure, traces: Sequence[Trace]) -> Figure:
    if not any(v is not None for t in traces for v in t.values):
        fig["layout"]["annotations"] = [{
            "text": "no data in this window", "showarrow": False, "xref": "paper", "yref": "paper",
            "x": 0.5, "y": 0.5, "font": {"size": 14, "color": "#52606d"},
        }]
    return fig


def function_counts(samples: Sequence[Sample], step_s: int) -> Figure:
    times = [s.start for s in samples]
    fig = lines([
        Trace("invocations", times, [s.invocations for s in samples]),
        Trace("errors", times, [s.errors for s in samples]),
        Trace("throttles", times, [s.throttles for s in samples]),
    ], f"per {_step_label(step_s)}")
    # Its legend takes two rows on a phone: room for both under the axis's dates.
    fig["layout"]["margin"] = {**_LAYOUT["margin"], "b": 96}
    return fig


def function_durations(samples: Sequence[Sample]) -> Figure:
    times = [s.start for s in samples]
    return lines([
        Trace("p50", times, [s.duration_p50_ms for s in samples]),
        Trace("p95", times, [s.duration_p95_ms for s in samples]),
        Trace("p99", times, [s.duration_p99_ms for s in samples]),
        Trace("max", times, [s.duration_max_ms for s in samples]),
    ], "ms")


def function_cold_starts(samples: Sequence[Sample], step_s: int) -> Figure:
    times = [s.start for s in samples]
    x = _times(times)
    fig = _base(f"cold starts per {_step_label(step_s)}")
    fig["data"] = [
        {"type": "bar", "x": x, "y": [s.cold_starts for s in samples], "name": "cold starts",
         "marker": {"color": "#5b8def"}},
        {"type": "scatter", "x": x, "y": [s.init_avg_ms for s in samples], "name": "init avg (ms)",
         "mode": "lines", "yaxis": "y2", "line": {"color": "#e67e22"}},
    ]
    fig["layout"]["yaxis2"] = {**_AXIS, "title": {"text": "init ms"}, "overlaying": "y", "side": "right",
                               "showgrid": False, "rangemode": "nonnegative"}
    fig["layout"]["margin"] = {**_LAYOUT["margin"], "r": 62}  # room for the right axis's labels and title
    return _empty_note(fig, [Trace("c", times, [s.cold_starts for s in samples])])


def function_cost(samples: Sequence[Sample], costs: Sequence[float | None], step_s: int) -> Figure:
    fig = _base(f"USD per {_step_label(step_s)}")
    times = [s.start for s in samples]
    fig["data"] = [{"type": "bar", "x": _times(times), "y": list(costs), "name": "est. cost",
                    "marker": {"color": "#27ae60"}}]
    return _empty_note(fig, [Trace("cost", times, list(costs))])


DEPLOY_COLOUR = "#52606d"
DEPLOY_AXIS = "y3"  # a hidden 0..1 axis over the plot: the markers span its height whatever the data's scale


def with_deploys(fig: Figure, deploys: Sequence[FunctionEvent]) -> Figure:
    """`fig` with a dotted vertical line at each deploy, named "deploy" in the legend; hovering near one shows
    what the provider said about it (version, code sha, revision). One trace for every marker, drawn as
    line segments on an axis of its own, so the markers need no shapes and take part in the hover."""
    if not deploys:
        return fig
    xs: list[str | None] = []
    ys: list[float | None] = []
    texts: list[str | None] = []
    for event in deploys:
        at = _times([event.at])[0]
        # hover text is drawn by plotly.js as (a subset of) HTML: what a provider said is shown as text
        hover = "<br>".join(f"{html.escape(name)}: {html.escape(value)}" for name, value in deploy_facts(event))
        xs += [at, at, None]
        ys += [0.0, 1.0, None]
        texts += [hover, hover, None]
    fig["data"].append({
        "type": "scatter", "x": xs, "y": ys, "text": texts, "name": "deploy", "mode": "lines",
        "yaxis": DEPLOY_AXIS, "line": {"color": DEPLOY_COLOUR, "width": 1.5, "dash": "dot"},
        "hovertemplate": "%{text}<extra>deploy</extra>", "connectgaps": False,
    })
    layout = fig["layout"]
    layout["yaxis3"] = {"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    # One more legend entry: room for a second legend row under the dates on a phone, as the counts chart has;
    # a chart with a right-hand axis has a narrower plot, and at 390 px its three entries take a row each.
    margin = layout.get("margin", _LAYOUT["margin"])
    rows_height = 118 if "yaxis2" in layout else 96
    layout["margin"] = {**margin, "b": max(rows_height, margin.get("b", 0))}
    return fig
