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
from textual.containers import VerticalScroll
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
from opsview.tui.widgets.charts import SeriesChart

log = logging.getLogger(__name__)


class DetailScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back")]

    def __init__(self, ctx: TuiContext, key: FunctionKey) -> None:
        super().__init__(id="detail")
        self.ctx = ctx
        self.key = key
        self.data: DetailData | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text(str(self.key), end=""), id="detail-title", markup=False)
        with VerticalScroll(id="detail-body"):
            yield Static("Loading…", id="detail-info", markup=False)
            yield SeriesChart("Invocations / errors / throttles",
                              [("invocations", "invocations"), ("errors", "errors"), ("throttles", "throttles")],
                              id="chart-calls")
            yield SeriesChart("Duration ms", [("duration_p50_ms", "p50"), ("duration_p95_ms", "p95"),
                                              ("duration_p99_ms", "p99")], id="chart-duration")
            cold = SeriesChart("Cold starts", [("cold_starts", "cold starts")], id="chart-cold")
            cold.right = ("init_avg_ms", "init ms (right)")
            yield cold
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
        series, step = (data.detail.series, data.detail.step_s) if data.detail else ((), 60)
        with self.app.batch_update():
            info.update(_info_table(data))
            for chart in self.query(SeriesChart):
                chart.show(series, now, step)
            self.query_one("#detail-collection", Static).update(_collection_text(data))
            self.query_one("#detail-alerts", Static).update(_alerts_text(data))


def _info_table(data: DetailData) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    detail = data.detail
    if detail is None:
        table.add_row("function", "not in the store (was it removed?)")
        return table
    info = detail.info
    table.add_row("function", _facts_line(detail.setup()))
    table.add_row("resource", info.resource_id or fmt.MISSING)
    table.add_row("labels", ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items())) or "none")
    table.add_row(f"last {window_label(data.window)}", _facts_line(detail.calls()))
    table.add_row("duration", _facts_line(detail.durations()))
    table.add_row("cold starts", _facts_line(detail.cold_starts()))
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
