"""Plotly figures from the typed series in `dashboards.data`; nothing here reads the store."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go

from dashboards.data import Trace
from opsview.schema import Sample

# Fixed colours per provider so a cloud keeps its colour across charts and pages.
PROVIDER_COLOURS = {"aws": "#ff9900", "azure": "#0078d4", "gcp": "#34a853", "demo": "#8e44ad"}
_HEIGHT = 260


def _base(title: str, y_title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 14}}, height=_HEIGHT, template="plotly_white",
        margin={"l": 50, "r": 10, "t": 36, "b": 30}, legend={"orientation": "h", "y": -0.18},
        yaxis_title=y_title, hovermode="x unified", uirevision="keep",  # keep zoom across refreshes
    )
    return fig


def _step_label(step_s: int) -> str:
    return f"{step_s // 3600} h" if step_s >= 3600 else f"{step_s // 60} min"


def stacked(title: str, traces: Sequence[Trace], step_s: int) -> go.Figure:
    fig = _base(title, f"per {_step_label(step_s)}")
    for t in traces:
        fig.add_trace(go.Scatter(
            x=t.times, y=t.values, name=t.name, stackgroup="one", mode="lines",
            line={"width": 1, "color": PROVIDER_COLOURS.get(t.name)},
        ))
    return _empty_note(fig, traces)


def lines(title: str, traces: Sequence[Trace], y_title: str) -> go.Figure:
    fig = _base(title, y_title)
    for t in traces:
        fig.add_trace(go.Scatter(x=t.times, y=t.values, name=t.name, mode="lines", connectgaps=False))
    return _empty_note(fig, traces)


def _empty_note(fig: go.Figure, traces: Sequence[Trace]) -> go.Figure:
    if not any(v is not None for t in traces for v in t.values):
        fig.add_annotation(text="no data in this window", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font={"size": 14, "color": "#888"})
    return fig


def function_counts(samples: Sequence[Sample], step_s: int) -> go.Figure:
    times = [s.start for s in samples]
    return lines("Invocations, errors, throttles", [
        Trace("invocations", times, [s.invocations for s in samples]),
        Trace("errors", times, [s.errors for s in samples]),
        Trace("throttles", times, [s.throttles for s in samples]),
    ], f"per {_step_label(step_s)}")


def function_durations(samples: Sequence[Sample]) -> go.Figure:
    times = [s.start for s in samples]
    return lines("Duration", [
        Trace("p50", times, [s.duration_p50_ms for s in samples]),
        Trace("p95", times, [s.duration_p95_ms for s in samples]),
        Trace("p99", times, [s.duration_p99_ms for s in samples]),
        Trace("max", times, [s.duration_max_ms for s in samples]),
    ], "ms")


def function_cold_starts(samples: Sequence[Sample], step_s: int) -> go.Figure:
    times = [s.start for s in samples]
    fig = _base("Cold starts and init duration", f"cold starts per {_step_label(step_s)}")
    fig.add_trace(go.Bar(x=times, y=[s.cold_starts for s in samples], name="cold starts", marker_color="#5b8def"))
    fig.add_trace(go.Scatter(x=times, y=[s.init_avg_ms for s in samples], name="init avg (ms)", mode="lines",
                             yaxis="y2", line={"color": "#e67e22"}))
    fig.update_layout(yaxis2={"title": "init ms", "overlaying": "y", "side": "right", "showgrid": False})
    return _empty_note(fig, [Trace("c", times, [s.cold_starts for s in samples])])


def function_cost(samples: Sequence[Sample], costs: Sequence[float | None], step_s: int) -> go.Figure:
    fig = _base("Estimated cost", f"USD per {_step_label(step_s)}")
    times = [s.start for s in samples]
    fig.add_trace(go.Bar(x=times, y=list(costs), name="est. cost", marker_color="#27ae60"))
    return _empty_note(fig, [Trace("cost", times, list(costs))])
