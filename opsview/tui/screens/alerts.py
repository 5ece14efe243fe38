"""Firing and pending alerts, read from the store (the alert engine writes them).

Values read in their measure's unit (the measure comes from the configured rule of the same name);
enter opens the alert's function, `s` silences the alert as `opsview silence add` would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.geometry import Size
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from opsview.alert_records import AlertRecord, AlertState
from opsview.alerts.display import configured_measures, mark_silenced
from opsview.formatting import one_line
from opsview.tui.alerts_view import AlertRow, alert_rows, layout
from opsview.tui.context import TuiContext
from opsview.tui.loader import load_alerts
from opsview.tui.messages import AlertsLoaded, SilenceAdded
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.screens.silence import SilenceRequest, SilenceScreen

log = logging.getLogger(__name__)


class AlertsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="back"),
        # priority: the table's own enter binding would otherwise take it
        Binding("enter", "open_function", "Open", id="alert_function", priority=True,
                tooltip="Open the function of the alert under the cursor"),
        Binding("s", "silence", "Silence", id="alert_silence",
                tooltip="Silence the alert under the cursor for a while, with a comment"),
    ]

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(id="alerts")
        self.ctx = ctx
        self.records: list[AlertRecord] = []
        self.measures: Mapping[str, str] = {}
        self.rows: list[AlertRow] = []
        self._by_row: dict[str, AlertRecord] = {}
        self._size = Size(0, 0)

    def compose(self) -> ComposeResult:
        yield Static("Alerts: firing and pending", id="alerts-title", markup=False)
        yield Static("Loading…", id="alerts-empty", markup=False)
        yield DataTable(id="alerts-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#alerts-table", DataTable).display = False
        self.reload()

    def reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, exit_on_error=False, group="alerts-read")
    def _load(self) -> None:
        config = self.ctx.config
        rules = bool(config.alerts.rules or config.alerts.rule_files)
        try:
            measures = configured_measures(config)
            now = self.ctx.clock()
            records = mark_silenced(load_alerts(self.ctx.store), self.ctx.store.silences(active_at=now), now)
        except Exception as exc:
            log.exception("alerts read failed")
            self.post_message(AlertsLoaded([], rules, one_line(exc)))
            return
        self.post_message(AlertsLoaded(records, rules, measures=measures))

    def on_alerts_loaded(self, message: AlertsLoaded) -> None:
        self.records = list(message.records)
        self.measures = message.measures
        self.rows = alert_rows(self.records, self.measures, self.ctx.clock())
        self._by_row = {row.row_key: row.record for row in self.rows}
        empty = self.query_one("#alerts-empty", Static)
        table = self.query_one("#alerts-table", DataTable)
        with self.app.batch_update():
            self._show_rows()
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

    def _show_rows(self) -> None:
        """(Re)build the table for the screen's width, keeping the cursor on the same alert."""
        table = self.query_one("#alerts-table", DataTable)
        current = self._cursor_row_key()
        self._size = self.size
        # the title and the footer take a line each, the table's header up to two
        shape = layout(self.rows, self.size.width, self.size.height - 4)
        table.clear(columns=True)
        table.header_height = 2 if shape.two_lines else 1
        for key, label in shape.columns:
            table.add_column(label, key=key)
        for row in self.rows:
            bold = "bold" if row.record.state is AlertState.FIRING else ""
            cells = [Text(cell, style=bold if i == 0 else "") for i, cell in enumerate(shape.cells(row))]
            table.add_row(*cells, key=row.row_key, height=2 if shape.two_lines else 1)
        if current is not None and current in self._by_row:
            table.move_cursor(row=table.get_row_index(current))

    def on_resize(self, event: Resize) -> None:
        if self.rows and event.size != self._size:
            self._show_rows()

    # --- actions on the alert under the cursor ---------------------------------------------

    def _cursor_row_key(self) -> str | None:
        table = self.query_one("#alerts-table", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if isinstance(key, str) else None

    def _cursor_record(self) -> AlertRecord | None:
        key = self._cursor_row_key()
        return self._by_row.get(key) if key is not None else None

    def action_open_function(self) -> None:
        record = self._cursor_record()
        if record is not None:
            self.app.push_screen(DetailScreen(self.ctx, record.key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        # a click on the highlighted row (enter is the binding above)
        record = self._by_row.get(str(event.row_key.value))
        if record is not None:
            self.app.push_screen(DetailScreen(self.ctx, record.key))

    def action_silence(self) -> None:
        record = self._cursor_record()
        if record is None:
            self.notify("No alert under the cursor to silence.", timeout=3)
            return

        def chosen(request: SilenceRequest | None) -> None:
            if request is not None:
                self._write_silence(record, request)

        self.app.push_screen(SilenceScreen(record.rule, record.key), chosen)

    @work(thread=True, exit_on_error=False, group="alerts-silence")
    def _write_silence(self, record: AlertRecord, request: SilenceRequest) -> None:
        from opsview.alerts.silencing import local_user, silence_alert

        try:
            silence = silence_alert(self.ctx.store, record.rule, record.key, request.duration, request.comment,
                                    local_user(), self.ctx.clock())
        except Exception as exc:
            log.exception("silence failed")
            self.post_message(SilenceAdded(None, one_line(exc)))
            return
        self.post_message(SilenceAdded(silence))

    def on_silence_added(self, message: SilenceAdded) -> None:
        if message.silence is None:
            self.notify(message.error or "failed", title="Silence not added", severity="error", timeout=10)
            return
        s = message.silence
        self.notify(f"{s.rule} for {s.function} until {s.ends:%Y-%m-%d %H:%M} UTC "
                    f"(`opsview silence remove {s.id}` ends it)", title=f"Silence {s.id} added")
        self.reload()
