"""Small building blocks shared by pages: KPI cards, top-N tables, empty states."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from dash import dcc, html

from opsview import formatting as fmt
from opsview.console_links import ConsoleLinks
from opsview.error_records import SignatureSummary
from opsview.web.data import TOTAL, HealthRow, Kpi, TopList, function_href

_FORMATS: dict[str, Callable[[float | None], str]] = {"count": fmt.count, "millis": fmt.millis, "usd": fmt.usd}


def chart(graph_id: str, title: str, figure: dict[str, Any] | None = None) -> html.Div:
    """A chart under its title. The title is a heading outside the plot, clear of Plotly's toolbar,
    which appears over the plot's top right corner."""
    graph = (dcc.Graph(id=graph_id, config={"displaylogo": False}) if figure is None
             else dcc.Graph(id=graph_id, figure=figure, config={"displaylogo": False}))
    return html.Div([html.H3(title, className="chart-title"), graph], className="chart")


def empty_state(title: str, detail: str, *, id_: str | None = None) -> html.Div:
    children = [html.Strong(title), html.P(detail)]
    if id_:
        return html.Div(children, className="empty-state", id=id_)
    return html.Div(children, className="empty-state")


def _signed(value: float, digits: int, unit: str) -> str:
    # The arrow follows the number as shown: a change that rounds to nothing reads "±0.0 pt", not "▲0.0 pt".
    shown = round(abs(value), digits)
    arrow = "±" if shown == 0 else "▲" if value > 0 else "▼"
    return f"{arrow}{shown:.{digits}f}{unit}"


def _relative_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    if before == 0:
        return "new" if now else "±0%"
    change = (now - before) / before * 100
    return _signed(change, 0, "%")


def _point_change(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    delta = (now - before) * 100
    return _signed(delta, 1, " pt")


def _direction(change: str) -> int:
    """+1 for a rise, -1 for a fall, 0 for none, as the change's text shows it."""
    return {"▲": 1, "n": 1, "▼": -1}.get(change[:1], 0)


def _metric(name: str, value: str, change: str, metric_id: str, rise_is_worse: bool = False) -> list[html.Span]:
    """Three cells of the card's grid (no wrapper per metric: fewer components to re-render).

    With `rise_is_worse` a rise is red and a fall green, always beside the arrow and the number that
    say the same without colour."""
    tone = {1: " worse", -1: " better"}.get(_direction(change), "") if rise_is_worse else ""
    return [
        html.Span(name, className="kpi-name"),
        html.Span(value, className="kpi-value", id=metric_id),
        html.Span(change, className=f"kpi-change{tone}", title=_CHANGE_TITLE),
    ]


# Counts and cost compare per collected minute: a previous window the store collected less of is no drop.
_CHANGE_TITLE = "change vs the previous window of the same length (counts and cost per collected minute)"


def _coverage_line(k: Kpi) -> list[html.Div]:
    """`24h window · 6h of data` when the store collected less than the window for these functions."""
    note = k.covered.note if k.covered is not None else None
    if k.covered is None or note is None:
        return []
    text = f"{fmt.window_label(k.covered.window)} window · {note}"
    return [html.Div(text, className="kpi-coverage", id=f"kpi-{k.label}-coverage")]


def kpi_card(k: Kpi) -> html.Div:
    c, p = k.current, k.previous
    r, pr = k.rates, k.previous_rates
    slug = k.label
    title = "All providers" if k.label == TOTAL else k.label.upper()
    # More invocations is neither good nor bad; more of everything else shown is worse.
    metrics = [
        *_metric("invocations", fmt.count(c.invocations),
                 _relative_change(r.invocations_per_min, pr.invocations_per_min), f"kpi-{slug}-invocations"),
        *_metric("error %", fmt.percent(k.error_rate), _point_change(k.error_rate, k.previous_error_rate),
                f"kpi-{slug}-errors", True),
        *_metric("throttles", fmt.count(c.throttles), _relative_change(r.throttles_per_min, pr.throttles_per_min),
                f"kpi-{slug}-throttles", True),
        *_metric("cold start %", fmt.percent(k.cold_start_rate),
                _point_change(k.cold_start_rate, k.previous_cold_start_rate), f"kpi-{slug}-cold", True),
        *_metric("p95", fmt.millis(c.duration_p95_ms), _relative_change(c.duration_p95_ms, p.duration_p95_ms),
                f"kpi-{slug}-p95", True),
        *_metric("est. cost", fmt.usd(k.cost), _relative_change(r.cost_per_hour, pr.cost_per_hour),
                 f"kpi-{slug}-cost", True),
    ]
    return html.Div([
        html.Div([html.Span(title), html.Span(f"{k.functions:,} functions", className="kpi-sub")],
                 className="kpi-title"),
        *_coverage_line(k),
        html.Div(metrics, className="kpi-metrics"),
    ], className=f"kpi-card kpi-{slug}", id=f"kpi-card-{slug}")


def top_table(top: TopList, query: str) -> html.Div:
    """Two cells a row in a CSS grid rather than a table's four components (row, cell, link, cell):
    the Dash renderer's work on every update grows with the number of components on the page, and
    the five lists hold most of the overview's."""
    render = _FORMATS[top.measure]
    if not top.entries:
        body: html.Div | html.P = html.P("nothing in this window", className="muted")
    else:
        cells: list[dcc.Link | html.Span] = []
        for e in top.entries:
            cells.append(dcc.Link(f"{e.key.provider}/{e.key.region}/{e.key.name}", href=function_href(e.key, query),
                                  className="top-name"))
            cells.append(html.Span(render(e.value), className="num"))
        body = html.Div(cells, className="top-table")
    return html.Div([html.H4(top.title), body], className="top-box")


def when(ts: datetime | None, now: datetime) -> str:
    if ts is None:
        return "never"
    age = (now - ts).total_seconds()
    ago = f"{age:.0f}s ago" if age < 120 else f"{age / 60:.0f}m ago" if age < 7200 else f"{age / 3600:.0f}h ago"
    return f"{ts:%Y-%m-%d %H:%M:%S} UTC ({ago})"


def scroll_table(table: html.Table, label: str) -> html.Div:
    """A table that scrolls sideways inside its own box when the screen is narrower than its columns,
    rather than widening the page. The box takes focus, so the keyboard can scroll it too."""
    aria: dict[str, Any] = {"aria-label": label}
    return html.Div(table, className="table-scroll", tabIndex="0", role="region", **aria)


def health_table(rows: Sequence[HealthRow], now: datetime) -> html.Div:
    if not rows:
        return empty_state("No collector has reported yet",
                           "Run `opsview collect` (or keep a collector running) to fill the store.")
    return scroll_table(html.Table([
        html.Thead(html.Tr([html.Th(h) for h in ("source", "scope", "status", "last run", "last success",
                                                  "functions", "error")])),
        html.Tbody([
            html.Tr([
                html.Td(r.source), html.Td(r.scope or "—"),
                html.Td("ok" if r.ok else "failing", className="ok" if r.ok else "bad"),
                html.Td(when(r.at, now)), html.Td(when(r.last_success, now)), html.Td(f"{r.functions:,}"),
                html.Td(r.error or "", className="error-text"),
            ]) for r in rows
        ]),
    ], className="health-table"), "collector health")


SAMPLE_CHARS = 240  # of a sample's first line in a table cell (the cell's tooltip holds the whole sample)


def first_seen(summary: SignatureSummary, now: datetime) -> list[Any]:
    """`NEW 7m ago` (a badge, the word carrying it without colour) or `2h ago`, with the time as a tooltip."""
    ago = html.Span(fmt.ago(now - summary.first_seen), title=f"{summary.first_seen:%Y-%m-%d %H:%M:%S} UTC")
    return [html.Span("NEW", className="badge-new"), " ", ago] if summary.new else [ago]


def _sample_cell(summary: SignatureSummary) -> html.Td:
    sample = summary.sample or ""
    first = sample.strip().splitlines()[0] if sample.strip() else ""
    shown = first if len(first) <= SAMPLE_CHARS else first[: SAMPLE_CHARS - 1] + "…"
    children: list[Any] = [html.Div(shown or fmt.MISSING, className="mono sample")]
    if summary.sample_id:
        children.append(html.Div(f"request {summary.sample_id}", className="muted mono"))
    return html.Td(children, title=sample or None)


def error_table(summaries: Sequence[SignatureSummary], now: datetime, label: str, *,
                with_function: str | None = None) -> html.Div:
    """Signatures most frequent first: count in the window, first seen (NEW), last seen, the signature and the
    latest sample with its request id. `with_function` (the page's query) adds a column linking each row's
    function page (the overview's new error types)."""
    heads = ["count", "first seen", "last seen", *(["function"] if with_function is not None else []),
             "signature", "latest sample"]
    rows = []
    for s in summaries:
        cells: list[html.Td] = [
            html.Td(fmt.count(s.count), className="num"),
            html.Td(first_seen(s, now), className="nowrap"),
            html.Td(fmt.ago(now - s.last_seen), className="nowrap",
                    title=f"{s.last_seen:%Y-%m-%d %H:%M:%S} UTC"),
        ]
        if with_function is not None:
            cells.append(html.Td(dcc.Link(f"{s.key.provider}/{s.key.region}/{s.key.name}",
                                          href=function_href(s.key, with_function)), className="nowrap"))
        cells += [html.Td(s.signature, className="mono signature"), _sample_cell(s)]
        rows.append(html.Tr(cells))
    return scroll_table(html.Table([
        html.Thead(html.Tr([html.Th(h, className="num" if h == "count" else None) for h in heads])),
        html.Tbody(rows),
    ], className="health-table error-table"), label)


def console_links(links: ConsoleLinks) -> html.Div:
    """The function's console and logs links (new tab, no referrer: they carry the function's names)."""
    items: list[Any] = [html.Span("Open in:", className="muted")]
    for link in links.links:
        items.append(html.A(link.label, href=link.url, target="_blank", rel="noopener noreferrer",
                            id=f"function-link-{link.id}", className="console-link"))
    items += [html.Span(f"(no link: {reason})", className="muted") for reason in links.missing]
    return html.Div(items, id="function-links", className="console-links")
