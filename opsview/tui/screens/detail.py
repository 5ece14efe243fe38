"""One function: what discovery knows, charts over the window, its source's health, its alert history."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from opsview import formatting as fmt
from opsview.alerts.display import event_value
from opsview.fleet import Fact
from opsview.formatting import one_line
from opsview.schema import FunctionKey
from opsview.tui.context import TuiContext
from opsview.tui.loader import DetailData, load_detail
from opsview.tui.messages import DetailLoaded
from opsview.tui.model import window_label
from opsview.tui.widgets.charts import ChartData, Line, Reference, SeriesChart

log = logging.getLogger(__name__)


class DetailScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back", tooltip="Back to the fleet")]

    def __init__(self, ctx: TuiContext, key: FunctionKey) -> None:
        super().__init__(id="detail")
        self.ctx = ctx
        self.key = key
        self.data: DetailData | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(str(self.key), end=""), id="detail-title", markup=False)
        with VerticalScroll(id="detail-body"):
            # the first screenful: the window's figures and every chart; setup, collection and alert
            # history follow below it
            with Vertical(id="detail-top"):
                yield Static("Loading…", id="detail-info", markup=False)
                yield Static(id="charts-caption", markup=False)
                with Grid(id="detail-charts"):
                    yield SeriesChart([Line("invocations", "invocations", "primary"),
                                       Line("throttles", "throttles", "warning")], "per_minute", id="chart-calls")
                    yield SeriesChart([Line("errors", "errors", "error")], "per_minute", id="chart-errors")
                    yield SeriesChart([Line("duration_p50_ms", "p50", "success"),
                                       Line("duration_p95_ms", "p95", "primary"),
                                       Line("duration_p99_ms", "p99", "warning")], "duration", id="chart-duration")
                    yield SeriesChart([Line("cold_starts", "cold starts", "primary"),
                                       Line("init_avg_ms", "init avg", "success", right=True)],
                                      "per_minute", right_unit="duration", id="chart-cold")
            yield Static(id="detail-setup", markup=False)
            yield Static(id="detail-collection", markup=False)
            yield Static(id="detail-alerts", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#detail-body").focus()
        self.reload()

    def reload(self) -> None:
        self._load(self.ctx.view.window, self.ctx.clock())

    @work(thread=True, exclusive=True, exit_on_error=False, group="detail-read")
    def _load(self, window: timedelta, now: datetime) -> None:
        try:
            data = load_detail(self.ctx.store, self.ctx.config, self.key, window, now)
        except Exception as exc:
            log.exception("detail read failed for %s", self.key)
            self.post_message(DetailLoaded(None, one_line(exc)))
            return
        self.post_message(DetailLoaded(data))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        info = self.query_one("#detail-info", Static)
        if message.data is None:
            info.update(f"Could not read this function from the store: {message.error}")
            return
        self.data = data = message.data
        now = self.ctx.clock()
        detail = data.detail
        series, step = (detail.series, detail.step_s) if detail else ((), 60)
        timeout = detail.info.timeout_s if detail else None
        with self.app.batch_update():
            info.update(_info_table(data))
            self.query_one("#charts-caption", Static).update(
                f"last {window_label(data.window)} · counts per minute, {_step_text(step)} buckets · times in UTC"
            )
            for chart in self.query(SeriesChart):
                reference = None
                if chart.id == "chart-duration" and timeout is not None:
                    reference = Reference(timeout * 1000.0, f"timeout {timeout:g} s")
                chart.show(ChartData(series, now - data.window, now, step, reference))
            self.query_one("#detail-setup", Static).update(_setup_table(data))
            self.query_one("#detail-collection", Static).update(_collection_text(data))
            self.query_one("#detail-alerts", Static).update(_alerts_text(data))


def _step_text(step_s: int) -> str:
    return f"{step_s // 60} min" if step_s % 60 == 0 else f"{step_s} s"


def _info_table(data: DetailData) -> Table:
    """The window's figures, one line each, cut rather than wrapped so the charts keep their rows."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(no_wrap=True, overflow="ellipsis")
    detail = data.detail
    if detail is None:
        table.add_row("function", "not in the store (was it removed?)")
        return table
    table.add_row("function", _facts_line(detail.setup()))
    table.add_row(f"last {window_label(data.window)}", _facts_line(detail.calls()))
    table.add_row("duration", _facts_line(detail.durations()))
    table.add_row("cold starts", _facts_line(detail.cold_starts()))
    return table


def _setup_table(data: DetailData) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    if data.detail is not None:
        info = data.detail.info
        table.add_row("resource", info.resource_id or fmt.MISSING)
        table.add_row("labels", ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items())) or "none")
    return table


def _facts_line(facts: Sequence[Fact]) -> str:
    return " · ".join(f"{f.label} {f.text}" for f in facts)


def _collection_text(data: DetailData) -> Text:
    text = Text("Collection\n", style="bold", end="")
    if not data.health:
        text.append("  no collection recorded for this function's source\n", style="")
    for h in data.health:
        scope = f"/{h.scope}" if h.scope else ""
        state = "ok" if h.ok else f"FAILED: {h.error}"
        text.append(f"  {h.source}{scope}: {state} at {h.at:%H:%M:%S} UTC\n", style="" if h.ok else "bold")
    for h in data.failures:
        scope = f"/{h.scope}" if h.scope else ""
        text.append(f"  {h.at:%Y-%m-%d %H:%M:%S} {h.source}{scope} failed: {h.error}\n", style="")
    return text


def _alerts_text(data: DetailData) -> Text:
    text = Text("Alert history\n", style="bold", end="")
    events = data.detail.alert_events if data.detail else ()
    if not events:
        text.append("  no alert has fired or been pending for this function", style="")
    for e in events:
        text.append(f"  {e.at:%Y-%m-%d %H:%M} {e.rule} [{e.severity}] {e.from_state} → {e.to_state} "
                    f"(value {event_value(e, data.alert_measures)})\n", style="")
    return text
