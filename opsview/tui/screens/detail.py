"""One function: what discovery knows, charts over the window, its source's health, its alert history."""

from __future__ import annotations

import logging
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
        with self.app.batch_update():
            info.update(_info_table(data))
            for chart in self.query(SeriesChart):
                chart.show(data.series, now, data.step_s)
            self.query_one("#detail-collection", Static).update(_collection_text(data))
            self.query_one("#detail-alerts", Static).update(_alerts_text(data))


def _info_table(data: DetailData) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    info = data.info
    if info is None:
        table.add_row("function", "not in the store (was it removed?)")
        return table
    runtime = info.runtime or fmt.MISSING
    memory = f"{info.memory_mb} MB" if info.memory_mb is not None else fmt.MISSING
    timeout = f"{info.timeout_s:g} s" if info.timeout_s is not None else fmt.MISSING
    table.add_row("runtime", f"{runtime} · memory {memory} · timeout {timeout}")
    table.add_row("resource", info.resource_id or fmt.MISSING)
    table.add_row("labels", ", ".join(f"{k}={v}" for k, v in sorted(info.labels.items())) or "none")
    s = data.status
    if s is not None:
        m = s.measures
        table.add_row(
            f"last {window_label(data.window)}",
            f"{fmt.rate(s.invocations_per_min)} inv/min · err {fmt.percent(s.error_rate)} · "
            f"throttles {fmt.count(m.throttles)} · cold {fmt.percent(s.cold_start_rate)} · "
            f"{fmt.usd(s.cost_per_hour)}/h",
        )
        table.add_row(
            "duration",
            f"p50 {fmt.millis(m.duration_p50_ms)} · p95 {fmt.millis(m.duration_p95_ms)} · "
            f"p99 {fmt.millis(m.duration_p99_ms)} · max {fmt.millis(m.duration_max_ms)} · "
            f"init {fmt.millis(m.init_avg_ms)}",
        )
    return table


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
    if not data.alert_events:
        text.append("  no alert has fired or been pending for this function", style="")
    for e in data.alert_events:
        value = fmt.MISSING if e.value is None else f"{e.value:g}"
        text.append(f"  {e.at:%Y-%m-%d %H:%M} {e.rule} [{e.severity}] {e.from_state} → {e.to_state} "
                    f"(value {value})\n", style="")
    return text
