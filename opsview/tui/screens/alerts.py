"""Firing and pending alerts, read from the store (the alert engine writes them)."""

from __future__ import annotations

import logging

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from opsview import formatting as fmt
from opsview.alert_records import AlertRecord, AlertState
from opsview.formatting import one_line
from opsview.tui.context import TuiContext
from opsview.tui.loader import load_alerts
from opsview.tui.messages import AlertsLoaded
from opsview.tui.model import age_text

log = logging.getLogger(__name__)

COLUMNS = (("severity", "severity"), ("state", "state"), ("since", "since"), ("rule", "rule"),
           ("function", "function"), ("value", "value vs threshold"))


class AlertsScreen(Screen[None]):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="back")]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(id="alerts")
        self.ctx = ctx
        self.records: list[AlertRecord] = []

    def compose(self) -> ComposeResult:
        yield Static("Alerts: firing and pending", id="alerts-title", markup=False)
        yield Static("Loading…", id="alerts-empty", markup=False)
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#alerts-table", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        table.display = False
        self.reload()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="alerts-read")
    def _load(self) -> None:
        rules = bool(self.ctx.config.alerts.rules or self.ctx.config.alerts.rule_files)
        try:
            records = load_alerts(self.ctx.store)
        except Exception as exc:
            log.exception("alerts read failed")
            self.post_message(AlertsLoaded([], rules, one_line(exc)))
            return
        self.post_message(AlertsLoaded(records, rules))

    def on_alerts_loaded(self, message: AlertsLoaded) -> None:
        self.records = list(message.records)
        empty = self.query_one("#alerts-empty", Static)
        table = self.query_one("#alerts-table", DataTable)
        now = self.ctx.clock()
        with self.app.batch_update():
            table.clear()
            for r in self.records:
                value = fmt.MISSING if r.value is None else f"{r.value:g}"
                state = r.state.value.upper() if r.state is AlertState.FIRING else r.state.value
                table.add_row(
                    Text(r.severity, style="bold" if r.state is AlertState.FIRING else ""),
                    state + (" (silenced)" if r.silenced else ""),
                    f"{age_text(now - r.since)} ago",
                    r.rule,
                    str(r.key),
                    f"{value} {r.op} {r.threshold:g}",
                    key=f"{r.rule}|{r.key}",
                )
            table.display = bool(self.records)
            empty.display = not self.records
            if message.error:
                empty.display = True
                empty.update(f"Could not read alerts from the store: {message.error}")
            elif not self.records:
                hint = ("Alert rules are configured; none is pending or firing right now."
                        if message.has_rules else
                        "No alert rules are configured: add [[alerts.rules]] to the config to get alerts here.")
                empty.update(f"No firing or pending alerts. {hint}")
