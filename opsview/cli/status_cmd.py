from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from opsview import formatting as fmt
from opsview.cli.common import DURATION, common_options, load_env, store_errors
from opsview.cli.tables import Column, print_table
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
    render_table(rows, window, sort)


# status columns, most important first to stay: a narrow terminal drops the last ones first (never a sorted one)
_COLUMNS = (
    Column("cloud", 3, right=False), Column("region", 1, right=False), Column("function", 0, cut_to=16, right=False),
    Column("inv/min", 0), Column("err %", 0), Column("thr", 6), Column("cold %", 7), Column("p50", 9),
    Column("p95", 5), Column("p99", 2), Column("max", 8), Column("$/h", 4),
)
_SORTED_COLUMN = {"invocations": "inv/min", "errors": "err %", "error_rate": "err %", "throttles": "thr",
                  "cold_starts": "cold %", "duration_p99_ms": "p99", "cost_usd": "$/h"}


def render_table(rows: list[FunctionStatus], window: timedelta, sort: str = "function") -> None:
    cells = [
        [r.key.provider, r.key.region, r.key.name, fmt.rate(r.invocations_per_min), fmt.percent(r.error_rate),
         fmt.count(r.measures.throttles), fmt.percent(r.cold_start_rate), fmt.millis(r.measures.duration_p50_ms),
         fmt.millis(r.measures.duration_p95_ms), fmt.millis(r.measures.duration_p99_ms),
         fmt.millis(r.measures.duration_max_ms), fmt.usd(r.cost_per_hour)]
        for r in rows
    ]
    title = f"{len(rows)} functions · last {fmt.window_label(window)}"
    covered = covered_time(rows, window)
    if covered is not None and covered.note:  # inv/min and $/h divide by the collected time: say how much
        title += f" · {covered.note}"
    print_table(title, _COLUMNS, cells, keep={_SORTED_COLUMN[sort]} if sort in _SORTED_COLUMN else set())
