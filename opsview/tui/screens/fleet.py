"""The fleet screen: header, filter box and the table; re-reads the store on the refresh interval."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input
from textual.worker import get_current_worker

from opsview.fleet import FunctionStatus
from opsview.formatting import one_line
from opsview.tui.context import TuiContext
from opsview.tui.loader import load_fleet, load_sparks
from opsview.tui.messages import FleetLoaded, FleetLoadFailed, SparksLoaded
from opsview.tui.model import PROVIDERS, FleetSnapshot, FleetTableView, last_success, visible_rows
from opsview.tui.widgets.cells import SORT_COLUMN, Palette
from opsview.tui.widgets.fleet_header import FleetHeader
from opsview.tui.widgets.fleet_table import FleetTable

log = logging.getLogger(__name__)


CLOUDS = Binding.Group("cloud")
# Below this many columns the cloud keys leave the footer, so Alerts, Help and Quit stay on it (80x24);
# they still work, and `?` and the command palette list them.
FOOTER_CLOUDS_MIN_WIDTH: Final = 110


class FleetScreen(Screen[None]):
    # description: the footer's word; tooltip: the action as the command palette and `?` name it
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="filter", tooltip="Filter functions"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False,
                tooltip="Clear the filter"),
        Binding("1", "provider('aws')", "AWS", id="provider_aws", tooltip="Show AWS only", group=CLOUDS),
        Binding("2", "provider('azure')", "Azure", id="provider_azure", tooltip="Show Azure only",
                group=CLOUDS),
        Binding("3", "provider('gcp')", "GCP", id="provider_gcp", tooltip="Show GCP only",
                group=CLOUDS),
        Binding("0", "provider('all')", "All", id="provider_all", tooltip="Show every cloud", group=CLOUDS),
        Binding("s", "cycle_sort", "Sort", id="sort", tooltip="Sort by the next column"),
        Binding("S", "reverse_sort", "Reverse sort", id="sort_direction", show=False, tooltip="Reverse the sort"),
        # priority: the table's own enter binding would otherwise take it
        Binding("enter", "open_detail", "Detail", id="detail", priority=True, tooltip="Open the function's detail"),
    ]

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """What the footer shows: without the cloud keys on a narrow terminal."""
        bindings = super().active_bindings
        if self.size.width >= FOOTER_CLOUDS_MIN_WIDTH:
            return bindings
        return {
            key: active._replace(binding=replace(active.binding, show=False)) if active.binding.group is CLOUDS
            else active
            for key, active in bindings.items()
        }

    def on_resize(self, event: events.Resize) -> None:
        self.refresh_bindings()  # the footer asks active_bindings again

    def __init__(self, ctx: TuiContext) -> None:
        super().__init__(id="fleet")
        self.ctx = ctx
        self.snapshot: FleetSnapshot | None = None
        self.read_error: str | None = None
        self._generation = 0
        self._next_read: Timer | None = None
        self.loads = 0  # applied reads, for tests and the benchmark

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="fleet-header")
        yield Input(id="filter", placeholder="filter: text or glob, e.g. payments or aws/*/us-east-1/*")
        yield FleetTable(id="fleet-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(FleetTable).focus()
        self._show_header()
        self.set_interval(1.0, self._tick)
        self.reload()

    # --- reading ---------------------------------------------------------------------------

    @property
    def table(self) -> FleetTable:
        return self.query_one(FleetTable)

    @property
    def header(self) -> FleetHeader:
        return self.query_one(FleetHeader)

    def reload(self) -> None:
        """Start a read now; a read still in flight for an older view is ignored when it lands."""
        if self._next_read is not None:
            self._next_read.stop()
            self._next_read = None
        self._generation += 1
        self._read(self._generation, self.ctx.view)

    @work(thread=True, exclusive=True, exit_on_error=False, group="fleet-read")
    def _read(self, generation: int, view: FleetTableView) -> None:
        """The fleet first, so the table paints; then the sparklines, which fill in when they land."""
        worker = get_current_worker()
        now = self.ctx.clock()
        try:
            snapshot = load_fleet(self.ctx.store, self.ctx.config, view, now)
        except Exception as exc:  # the screen shows it; the traceback goes to the log file
            log.exception("fleet read failed")
            self.post_message(FleetLoadFailed(generation, one_line(exc)))
            return
        if worker.is_cancelled:
            return
        # filtered and sorted here too, so the UI thread only does it again if the view changed meanwhile
        self.post_message(FleetLoaded(generation, snapshot, visible_rows(snapshot.statuses, view)))
        try:
            sparks = load_sparks(self.ctx.store, view, now)
        except Exception as exc:  # the numbers are shown already; only the sparklines are missing
            log.exception("sparkline read failed")
            self.post_message(FleetLoadFailed(generation, f"sparklines: {one_line(exc)}"))
            return
        if not worker.is_cancelled:
            self.post_message(SparksLoaded(generation, sparks))

    def on_fleet_loaded(self, message: FleetLoaded) -> None:
        if message.generation != self._generation:
            return
        snapshot = message.snapshot
        if self.snapshot is not None and not snapshot.sparks:
            # the last sparklines stay up until this read's own land, so a refresh never blanks them
            snapshot = replace(snapshot, sparks=self.snapshot.sparks)
        self.snapshot = snapshot
        self.read_error = None
        with self.app.batch_update():
            self._show_rows(message.rows if snapshot.view == self.ctx.view else None)
            self.header.show_totals(message.snapshot)
            self.header.show_problems(message.snapshot.problems)
            self._show_header()
        self.loads += 1

    def on_sparks_loaded(self, message: SparksLoaded) -> None:
        if message.generation != self._generation or self.snapshot is None:
            return
        self.snapshot = replace(self.snapshot, sparks=message.sparks)
        self.table.show_sparks(message.sparks)
        self._schedule_next_read()

    def on_fleet_load_failed(self, message: FleetLoadFailed) -> None:
        if message.generation != self._generation:
            return
        self.read_error = message.error
        self._show_header()
        self._schedule_next_read()

    def _schedule_next_read(self) -> None:
        # rescheduled after each read lands, so a slow store never stacks reads
        if self._next_read is not None:
            self._next_read.stop()
        self._next_read = self.set_timer(self.ctx.interval.total_seconds(), self.reload)

    # --- showing ---------------------------------------------------------------------------

    def _show_rows(self, rows: Sequence[FunctionStatus] | None = None, *, to_top: bool = False) -> None:
        """Show the snapshot through the current view (`rows` when they were already filtered and sorted)."""
        if self.snapshot is None:
            return
        if rows is None:
            rows = visible_rows(self.snapshot.statuses, self.ctx.view)
        self.table.show_rows(rows, self.snapshot.sparks, Palette.from_theme(self.app.theme_variables),
                             sort_column=SORT_COLUMN[self.ctx.view.sort], to_top=to_top)
        read, now = self.snapshot.view, self.ctx.view
        covered = self.snapshot.covered if (read.window, read.provider) == (now.window, now.provider) else None
        note = covered.note if covered is not None else None  # a read of another window says nothing of this one
        self.header.show_view(self.ctx.view, len(rows), len(self.snapshot.statuses), note)

    def _show_header(self) -> None:
        if self.snapshot is None:
            self.header.show_view(self.ctx.view, 0, 0)
        self.header.show_freshness(
            last_success(self.snapshot.health) if self.snapshot else None,
            self.ctx.clock(), self.ctx.interval, self.read_error,
        )

    def _tick(self) -> None:
        if self.snapshot is not None or self.read_error:
            self._show_header()

    def _set_view(self, view: FleetTableView, *, reread: bool, to_top: bool = False) -> None:
        self.ctx.view = view
        if reread:
            self.reload()
        else:
            with self.app.batch_update():
                self._show_rows(to_top=to_top)

    # --- actions ---------------------------------------------------------------------------

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.table.focus()
            box.display = bool(box.value.strip())
            return
        if box.value:
            box.value = ""  # Input.Changed re-filters
        box.display = False

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if event.value != self.ctx.view.text:
            self._set_view(replace(self.ctx.view, text=event.value), reread=False)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_provider(self, name: str) -> None:
        provider = PROVIDERS.get(name)
        if provider != self.ctx.view.provider:
            self._set_view(replace(self.ctx.view, provider=provider), reread=True)

    # a new sort starts at its first row: the cursor's function may land anywhere in the new order
    def action_cycle_sort(self) -> None:
        self._set_view(self.ctx.view.cycle_sort(), reread=False, to_top=True)

    def action_reverse_sort(self) -> None:
        self._set_view(replace(self.ctx.view, descending=not self.ctx.view.descending), reread=False, to_top=True)

    def action_open_detail(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            self.table.focus()
            return
        key = self.table.cursor_key
        if key is not None:
            from opsview.tui.screens.detail import DetailScreen

            self.app.push_screen(DetailScreen(self.ctx, key))

    @on(FleetTable.RowSelected, "#fleet-table")
    def _row_clicked(self, event: FleetTable.RowSelected) -> None:
        self.action_open_detail()
