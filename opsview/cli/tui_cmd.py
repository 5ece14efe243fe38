from __future__ import annotations

from datetime import timedelta

import click

from opsview.cli.common import DURATION, common_options, load_env, store_errors
from opsview.config import Config
from opsview.logs import default_log_file, setup_logging
from opsview.store import Store


def run_tui(config: Config, store: Store, *, read_only: bool, window: timedelta, log_level: str) -> None:
    """Open the TUI on an open store; logs go to the log file only, never to the terminal it draws on."""
    setup_logging(log_level, log_file=default_log_file(), to_stderr=False)
    from opsview.tui.app import OpsviewApp  # Textual loads only for the commands that draw

    OpsviewApp(store, config, read_only=read_only, window=window).run()


@click.command(
    epilog="""\b
Examples:
  opsview tui                        # collect every [collect].interval and watch
  opsview tui --read-only --window 1h  # only read a store another process fills
Keys: / filter, 1 2 3 0 cloud, s S sort, w window, r refresh, enter detail, a alerts, ? help, q quit.""",
)
@click.option("--read-only", is_flag=True,
              help="Only read the store (another `opsview collect` or viewer fills it); never collect.")
@click.option("--window", default="15m", type=DURATION, show_default=True,
              help="Span each row aggregates, ending now (w cycles 5m, 15m, 1h, 6h, 24h).")
@common_options
def tui(read_only: bool, window: timedelta, config_path: str | None, store_url: str | None, log_level: str) -> None:
    """Open the terminal UI: live fleet view, drill-down into a function, alerts.

    The log goes to a file (see `opsview --help`), never to the terminal the UI draws on.
    """
    env = load_env(config_path, store_url, log_level, log_to_stderr=False)
    if not read_only and not env.config.sources.all():
        click.echo("opsview: no sources configured; showing the store read-only (try `opsview demo`)", err=True)
        read_only = True
    with store_errors(env.store_label):
        store = env.open_store(read_only=read_only)
        try:
            run_tui(env.config, store, read_only=read_only, window=window, log_level=log_level)
        finally:
            store.close()
