"""`opsview` command line. Commands load lazily so `opsview status` never imports Textual or Dash."""

from __future__ import annotations

import importlib
from typing import Any

import click

from opsview import __version__

# name -> (module, attribute, one-line help shown by `opsview --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "collect": ("opsview.cli.collect_cmd", "collect", "Collect every configured source once into the store."),
    "status": ("opsview.cli.status_cmd", "status", "Show the fleet's latest window per function (table or JSON)."),
    "demo": ("opsview.cli.demo_cmd", "demo", "Open the built-in demo fleet, or fill a store with demo history."),
    "errors": ("opsview.cli.errors_cmd", "errors", "List error signatures by count: why functions fail, what is new."),
    "ingest": ("opsview.cli.ingest_cmd", "ingest", "Analyse exported AWS / Azure / GCP logs offline (postmortems)."),
    "tui": ("opsview.cli.tui_cmd", "tui", "Open the terminal UI: live fleet view, drill-down, alerts."),
    "web": ("opsview.cli.web_cmd", "web", "Serve the web dashboard for teams."),
    "check": ("opsview.cli.check_cmd", "check", "Evaluate alert rules once and notify (for cron, CI, CronJobs)."),
    "rules": ("opsview.cli.rules_cmd", "rules", "Validate alert rule files and run their unit tests."),
    "silence": ("opsview.cli.silence_cmd", "silence", "Add, list and remove alert silences."),
    "exporter": ("opsview.cli.exporter_cmd", "exporter", "Serve the store in the Prometheus text format (/metrics)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run `opsview COMMAND --help` for a command's options and an example. "
    "Quick look without any cloud: `opsview demo`.",
)
@click.version_option(__version__, prog_name="opsview")
def main(**_: Any) -> None:
    """opsview: AWS Lambda, Azure Functions and Google Cloud Functions in one view.

    Collect invocations, errors, durations, throttles and cold starts from every cloud
    into one store, then watch them in the terminal, the browser, or with alert rules.
    """
