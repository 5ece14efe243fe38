"""One function: its figures and charts over the window (deploys marked, the last one compared with the span
before it), then its top error signatures (`e`; enter shows one's latest sample), links to its console and
logs (`c`, `l` copy them), what discovery knows, its source's health and its alert history."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from rich.table import Table
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from opsview import formatting as fmt
from opsview.alerts.display import event_value
from opsview.fleet import Fact, FunctionDetail
from opsview.formatting import one_line
from opsview.schema import FunctionKey
from opsview.tui.context import TuiContext
from opsview.tui.loader import DetailData, load_detail
from opsview.tui.messages import DetailLoaded
from opsview.tui.model import window_label
from opsview.tui.screens.error_sample import ErrorSampleScreen
from opsview.tui.widgets.charts import MARKER_COLOUR, ChartData, Line, Reference, SeriesChart
from opsview.tui.widgets.error_table import ErrorTable

log = logging.getLogger(__name__)

# Below this many columns the logs-link key leaves the footer, so Alerts, Help and Quit stay on it (80x24);
# it still works, and `?` and the command palette list it.
FOOTER_LOGS_MIN_WIDTH: Final = 100
_LINK_KEYS = {"console": "c", "logs": "l", "failures": "l"}


class DetailScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back", tooltip="Back to the fleet"),
        Binding("e", "errors", "Errors", id="errors", tooltip="Go to the function's top error signatures"),
        Binding("c", "copy_link('console')", "Link", id="copy_console_link",
                tooltip="Copy the link to the function's console page (and show it)"),
        Binding("l", "copy_link('logs')", "Logs link", id="copy_logs_link",
                tooltip="Copy the link to the function's logs over the window (and show it)"),
    ]

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
            yield Static(id="errors-title", markup=False)
            yield ErrorTable(id="detail-errors")
            yield Static(id="detail-links", markup=False)
            yield Static(id="detail-setup", markup=False)
            yield Static(id="detail-collection", markup=False)
            yield Static(id="detail-alerts", markup=False)
        yield Footer(compact=True)

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """What the footer shows: without the logs-link key on a narrow terminal."""
        bindings = super().active_bindings
        if self.size.width >= FOOTER_LOGS_MIN_WIDTH:
            return bindings
        return {
            key: active._replace(binding=replace(active.binding, show=False))
            if active.binding.id == "copy_logs_link" else active
            for key, active in bindings.items()
        }

    def on_mount(self) -> None:
        self.query_one("#detail-errors", ErrorTable).display = False
        self.query_one("#detail-body").focus()
        self.reload()

    def on_resize(self, event: events.Resize) -> None:
        self.refresh_bindings()  # the footer asks active_bindings again
        if self.data is not None and self.data.detail is not None and self.data.detail.errors:
            self.query_one("#detail-errors", ErrorTable).show(self.data.detail.errors, self.ctx.clock(),
                                                               event.size.width)

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
        markers = tuple(e.at for e in detail.deploys) if detail else ()
        with self.app.batch_update():
            info.update(_info_table(data))
            caption = Text(f"last {window_label(data.window)} · counts per minute, {_step_text(step)} buckets · "
                           "times in UTC", end="", no_wrap=True, overflow="ellipsis")
            if markers:
                caption.append(" · ")
                caption.append("│ ", style=f"bold {self.app.theme_variables.get(MARKER_COLOUR, '')}".strip())
                caption.append(_deploys_text(markers))
            self.query_one("#charts-caption", Static).update(caption)
            for chart in self.query(SeriesChart):
                reference = None
                if chart.id == "chart-duration" and timeout is not None:
                    reference = Reference(timeout * 1000.0, f"timeout {timeout:g} s")
                chart.show(ChartData(series, now - data.window, now, step, reference, markers))
            self._show_errors(detail, now)
            self.query_one("#detail-links", Static).update(_links_text(detail))
            self.query_one("#detail-setup", Static).update(_setup_table(data))
            self.query_one("#detail-collection", Static).update(_collection_text(data))
            self.query_one("#detail-alerts", Static).update(_alerts_text(data))


    def _show_errors(self, detail: FunctionDetail | None, now: datetime) -> None:
        title = self.query_one("#errors-title", Static)
        table = self.query_one("#detail-errors", ErrorTable)
        errors = detail.errors if detail else None
        heading = Text(end="")
        heading.append("Errors", style="bold")
        heading.append(f" · {detail.errors_note()}" if detail else "")
        if errors:
            heading.append(" · enter shows a sample", style="italic")
        title.update(heading)
        table.display = bool(errors)
        if errors:
            table.show(errors, now, self.size.width)

    # --- actions ----------------------------------------------------------------------------

    def action_errors(self) -> None:
        """Focus the signatures (the scroll brings them into view); without any, show what the pane says."""
        table = self.query_one("#detail-errors", ErrorTable)
        if table.display and table.row_count:
            table.focus()
        else:
            self.query_one("#errors-title", Static).scroll_visible(top=True)

    @on(ErrorTable.SampleRequested)
    def _show_sample(self, message: ErrorTable.SampleRequested) -> None:
        self.app.push_screen(ErrorSampleScreen(message.summary, self.ctx.clock(), window_label(self.ctx.view.window)))

    def action_copy_link(self, kind: str) -> None:
        """Copy a link with OSC 52 (the terminal puts it on the clipboard, over SSH too) and show it, for
        terminals that ignore OSC 52."""
        detail = self.data.detail if self.data else None
        if detail is None:
            self.notify("The function has not been read yet.", timeout=3)
            return
        link = detail.links.get(kind) or (detail.links.get("failures") if kind == "logs" else None)
        if link is None:
            why = "; ".join(detail.links.missing) or f"no {kind} link for this function"
            self.notify(why, title="No link to copy", severity="warning", markup=False)
            return
        self.app.copy_to_clipboard(link.url)
        self.notify(link.url, title=f"Copied: {link.label}", markup=False, timeout=15)


def _deploys_text(markers: Sequence[datetime]) -> str:
    if len(markers) > 2:
        return f"{len(markers)} deploys"
    return ("deploy " if len(markers) == 1 else "deploys ") + ", ".join(f"{at:%H:%M}" for at in markers)


def _links_text(detail: FunctionDetail | None) -> Text:
    text = Text(end="")
    text.append("Links", style="bold")
    if detail is None:
        return text
    text.append(" · for the window shown; c copies the console link, l the logs link")
    for link in detail.links.links:
        text.append(f"\n  {link.label} ({_LINK_KEYS.get(link.id, '')}): ", style="bold")
        text.append(link.url)
    for reason in detail.links.missing:
        text.append(f"\n  no link: {reason}", style="italic")
    return text


def _step_text(step_s: int) -> str:
    return f"{step_s // 60} min" if step_s % 60 == 0 else f"{step_s} s"


def _info_table(data: DetailData) -> Table:
    """The window's figures, one line each, cut rather than wrapped so the charts keep their rows."""
    table = Table.grid(padding=(0, 2))
    # the labels whole: rich would otherwise shrink both columns alike when a line is cut
    table.add_column(style="bold", no_wrap=True, min_width=len("since deploy"))
    table.add_column(no_wrap=True, overflow="ellipsis")
    detail = data.detail
    if detail is None:
        table.add_row("function", "not in the store (was it removed?)")
        return table
    table.add_row("function", _facts_line(detail.setup()))
    table.add_row(f"last {window_label(data.window)}", _facts_line(detail.calls()))
    table.add_row("duration", _facts_line(detail.durations()))
    table.add_row("cold starts", _facts_line(detail.cold_starts()))
    since = detail.since_deploy_fact()
    if since is not None:
        table.add_row(since.label, since.text)
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
