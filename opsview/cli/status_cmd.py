from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from opsview import formatting as fmt
from opsview.cli.common import DURATION, common_options, literal, load_env, store_errors
from opsview.fleet import FunctionStatus, covered_time, fleet_status
from opsview.schema import utcnow
from opsview.store import FleetFilter

SORTS = ("function", "invocations", "errors", "error_rate", "throttles", "cold_starts", "duration_p99_ms", "cost_usd")


def _sort_key(column: str) -> Any:
    def key(row: FunctionStatus) -> Any:
        if column == "function":
            return str(row.key)
        value = getattr(row, column, None)
        if value is None and hasattr(row.measures, column):
            value = getattr(row.measures, column)
        return (value is not None, value or 0)

    return key


@click.command(
    epilog="""\b
Examples:
  opsview status --window 1h
  opsview status --provider aws --sort error_rate
  opsview status --format json | jq '.[] | select(.error_rate > 0.05)'""",
)
@click.option("--window", default="15m", type=DURATION, show_default=True, help="Span to aggregate, ending now.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json prints a list of objects, null where a provider reports no such measure.")
@click.option("--provider", type=click.Choice(["aws", "azure", "gcp", "demo"]), default=None,
              help="Only functions of this provider.")
@click.option("--sort", "sort", type=click.Choice(SORTS), default="function", show_default=True,
              help="Order rows by this column (largest first, except function).")
@click.option("--all/--active", "show_all", default=True, show_default=True,
              help="--active hides functions without data in the window.")
@common_options
def status(window: timedelta, output: str, provider: str | None, sort: str, show_all: bool,
           config_path: str | None, store_url: str | None, log_level: str) -> None:
    """Show the fleet's latest window per function, read from the store.

    Nothing is collected: run `opsview collect` (or keep a collector running) to fill the store.
    """
    env = load_env(config_path, store_url, log_level)
    with store_errors(env.store_label):
        store = env.open_store(read_only=True)
        rows = fleet_status(store, env.config.pricing, window, utcnow(), FleetFilter(provider=provider))
    if not show_all:
        rows = [r for r in rows if r.buckets]
    rows.sort(key=_sort_key(sort), reverse=sort != "function")
    if output == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2))
        return
    render_table(rows, window)


def render_table(rows: list[FunctionStatus], window: timedelta) -> None:
    import sys

    from rich import box
    from rich.console import Console
    from rich.table import Table

    title = f"{len(rows)} functions · last {fmt.window_label(window)}"
    covered = covered_time(rows, window)
    if covered is not None and covered.note:  # inv/min and $/h divide by the collected time: say how much
        title += f" · {covered.note}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for header in ("cloud", "region", "function", "inv/min", "err %", "thr", "cold %", "p50", "p95", "p99", "max",
                   "$/h"):
        left = header in ("cloud", "region", "function")
        table.add_column(header, justify="left" if left else "right", no_wrap=True, overflow="ellipsis",
                         min_width=12 if header == "function" else 5 if left else max(len(header), 6),
                         ratio=1 if header == "function" else None)
    for r in rows:
        m = r.measures
        table.add_row(
            literal(r.key.provider), literal(r.key.region), literal(r.key.name),
            fmt.rate(r.invocations_per_min), fmt.percent(r.error_rate),
            fmt.count(m.throttles), fmt.percent(r.cold_start_rate), fmt.millis(m.duration_p50_ms),
            fmt.millis(m.duration_p95_ms), fmt.millis(m.duration_p99_ms), fmt.millis(m.duration_max_ms),
            fmt.usd(r.cost_per_hour),
        )
    # Piped output is for reading in full, not for an 80-column guess.
    Console(width=None if sys.stdout.isatty() else 160).print(table)
