"""The Textual app: wires the store, config and clock to the screens, runs background collection.

Screens own their reads (thread workers posting typed messages); this module only builds them,
applies the theme and keymap, and schedules collection when the TUI is not read-only.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from textual import events, on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from opsview.collect import CollectionRunner
from opsview.config import Config, RuleConfig
from opsview.formatting import one_line
from opsview.schema import utcnow
from opsview.store import Store
from opsview.tui.commands import binding_commands, screenshot_dir, screenshot_name
from opsview.tui.context import Clock, TuiContext
from opsview.tui.messages import CollectionFinished
from opsview.tui.model import FleetTableView, next_window, window_label
from opsview.tui.screens.alerts import AlertsScreen
from opsview.tui.screens.detail import DetailScreen
from opsview.tui.screens.fleet import FleetScreen
from opsview.tui.screens.help import HelpScreen
from opsview.tui.widgets.error_table import ErrorTable

log = logging.getLogger(__name__)


class OpsviewApp(App[None]):
    CSS_PATH = "opsview.tcss"
    TITLE = "opsview"
    # description: the footer's word; tooltip: the action as the command palette and `?` name it
    BINDINGS = [
        Binding("w", "cycle_window", "Window", id="window", tooltip="Change the window"),
        Binding("r", "refresh_now", "Refresh", id="refresh", tooltip="Refresh now"),
        Binding("a", "alerts", "Alerts", id="alerts", tooltip="Show alerts"),
        Binding("question_mark", "help", "Help", id="help", tooltip="Help"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Quit"),
    ]

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        read_only: bool = False,
        window: timedelta = timedelta(minutes=15),
        clock: Clock = utcnow,
    ) -> None:
        super().__init__()
        self.ctx = TuiContext(store, config, clock, read_only, FleetTableView(window=window))
        self.runner = None if read_only else CollectionRunner(config, store)
        self.rules, self.rules_error = _load_rules(config) if not read_only else ([], None)
        self.collecting = False
        self.collections = 0
        self._next_collection: Timer | None = None
        self._screenshot_dir = Path.cwd()

    # --- wiring ----------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[None]:
        return FleetScreen(self.ctx)

    def on_mount(self) -> None:
        theme = self.ctx.config.tui.theme
        if theme in self.available_themes:
            self.theme = theme
        else:
            log.warning("unknown theme %r in [tui].theme; keeping %s", theme, self.theme)
        self.set_keymap(self.ctx.config.tui.keymap)
        self._update_title()
        if self.rules_error:
            self.notify(self.rules_error, title="Alert rules not loaded", severity="error", timeout=15)
        if self.runner is not None:
            self.start_collection()

    @property
    def fleet(self) -> FleetScreen:
        screen = self.screen_stack[0]
        assert isinstance(screen, FleetScreen)
        return screen

    def _reload_screens(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, FleetScreen | DetailScreen | AlertsScreen):
                screen.reload()

    def _update_title(self) -> None:
        mode = "read-only" if self.ctx.read_only else "collecting"
        self.sub_title = f"{window_label(self.ctx.view.window)} window · {mode}"

    # --- background collection -------------------------------------------------------------

    def start_collection(self) -> None:
        if self.runner is None or self.collecting:
            return
        if self._next_collection is not None:
            self._next_collection.stop()
            self._next_collection = None
        self.collecting = True
        self._collect(self.runner)

    @work(thread=True, exclusive=True, exit_on_error=False, group="collect")
    def _collect(self, runner: CollectionRunner) -> None:
        try:
            reports = runner.run(now=self.ctx.clock())
        except Exception as exc:  # a failing source is already contained in its report; this is the store
            log.exception("collection failed")
            self.post_message(CollectionFinished([], one_line(exc)))
            return
        self._check_alerts()
        self.post_message(CollectionFinished(reports))

    def _check_alerts(self) -> None:
        """Rules are checked live after every collection (on this worker thread, never the UI's).

        Under the same store lock as `opsview check`, so a cron check and this TUI never
        notify twice; if a check holds the lock right now, this pass leaves it to them.
        """
        if not self.rules:
            return
        from opsview.alerts.check import LockBusyError, run_check

        try:
            run_check(self.ctx.config, self.rules, self.ctx.store, collect=False, now=self.ctx.clock(),
                      lock_wait=timedelta(0))
        except LockBusyError:
            log.info("alert check skipped: another check holds the lock")
        except Exception:
            log.exception("alert evaluation failed")

    def on_collection_finished(self, message: CollectionFinished) -> None:
        self.collecting = False
        self.collections += 1
        if message.error:
            self.notify(message.error, title="Collection failed", severity="error")
        self._reload_screens()
        # rescheduled after the pass finishes, so a slow cloud never stacks collections
        self._next_collection = self.set_timer(self.ctx.interval.total_seconds(), self.start_collection)

    # --- global actions --------------------------------------------------------------------

    def action_cycle_window(self) -> None:
        self.ctx.view = replace(self.ctx.view, window=next_window(self.ctx.view.window))
        self._update_title()
        self._reload_screens()

    def on_unmount(self) -> None:
        if self.runner is not None:
            self.runner.close(wait=False)  # a collection in flight finishes on its own thread

    def action_refresh_now(self) -> None:
        if self.runner is not None:
            if self.collecting:
                self.notify("A collection is already running.", timeout=3)
            self.start_collection()
        self._reload_screens()

    def action_alerts(self) -> None:
        if not isinstance(self.screen, AlertsScreen):
            self.push_screen(AlertsScreen(self.ctx))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        sections = [
            ("everywhere", self.BINDINGS),
            ("fleet", FleetScreen.BINDINGS),
            ("detail", DetailScreen.BINDINGS),
            ("detail errors", ErrorTable.BINDINGS),
            ("alerts", AlertsScreen.BINDINGS),
        ]
        self.push_screen(HelpScreen(sections, self.ctx.config.tui.keymap))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title != "Screenshot":  # Textual's says where it saved only when the save worked
                yield command
        yield SystemCommand("Screenshot", f"Save an SVG picture of this screen in {screenshot_dir()}",
                            lambda: self.set_timer(0.1, self.action_save_screenshot))  # after the palette closes
        yield from binding_commands(self, self.ctx, screen, [(screen.BINDINGS, screen), (self.BINDINGS, self)])

    def action_save_screenshot(self) -> None:
        """Save this screen as SVG; a notification names the file (or says why it could not be written)."""
        folder = screenshot_dir()
        self._screenshot_dir = folder
        self.deliver_text(io.StringIO(self.export_screenshot()), save_directory=folder,
                          save_filename=screenshot_name(), open_method="browser", mime_type="image/svg+xml",
                          name=_SCREENSHOT)

    @on(events.DeliveryComplete)
    def _screenshot_saved(self, event: events.DeliveryComplete) -> None:
        if event.name == _SCREENSHOT:
            self.notify(f"Saved to {event.path}", title="Screenshot", markup=False, timeout=10)

    @on(events.DeliveryFailed)
    def _screenshot_failed(self, event: events.DeliveryFailed) -> None:
        if event.name == _SCREENSHOT:
            self.notify(f"Could not save in {self._screenshot_dir}: {one_line(event.exception)}",
                        title="Screenshot", severity="error", markup=False, timeout=15)


_SCREENSHOT = "opsview-screenshot"  # the delivery's name, so Textual's own screenshot handler leaves it alone


def _load_rules(config: Config) -> tuple[list[RuleConfig], str | None]:
    from opsview.alerts.rules import load_rules

    try:
        return load_rules(config), None
    except Exception as exc:  # a broken rule file must not keep the fleet view from opening
        return [], one_line(exc)
