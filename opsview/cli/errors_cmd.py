"""`opsview errors`: why functions fail - their error signatures over a window, most frequent first."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from typing import Any

import click

from opsview import formatting as fmt
from opsview.alerts.matching import function_glob_matches
from opsview.cli.common import DURATION, common_options, fail, load_env, store_errors
from opsview.durations import format_duration
from opsview.error_records import SignatureSummary
from opsview.schema import FunctionKey, utcnow

_TABLE_EXTRA = 14  # what the table adds to its five columns: 2 edges, 4 separators, 8 of padding


@click.command(
    epilog="""\b
Examples:
  opsview errors                                  # the fleet's top error signatures, last hour
  opsview errors --function payments-webhook --window 6h
  opsview errors --function 'aws/*/us-east-1/*' --new
  opsview errors --new --format json | jq '.signatures[] | {function, signature, sample}'""",
)
@click.option("--function", "glob", default="*", show_default=True, metavar="GLOB",
              help="Function name glob, or provider/account/region/name glob.")
@click.option("--window", default="1h", type=DURATION, show_default=True, help="Span to count over, ending now.")
@click.option("--new", "new_only", is_flag=True,
              help="Only signatures first seen inside the window (new error types).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000),
              help="At most this many signatures.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="json prints {window, signatures: [...], unwatched: [...]}, null where a value is unknown.")
@common_options
def errors(glob: str, window: timedelta, new_only: bool, limit: int, output: str, config_path: str | None,
           store_url: str | None, log_level: str) -> None:
    """List error signatures by count, with first and last seen and the latest sample.

    A signature is the error type and message with ids, numbers and quoted values replaced by placeholders,
    so one failure is one line however many requests it hit. NEW marks one first seen inside the window by
    a store that had watched the function's errors for at least that long before it appeared. Functions
    whose errors no source searched in the window are listed apart: their errors are unknown, not none.
    """
    env = load_env(config_path, store_url, log_level)
    now = utcnow()
    start = now - window
    with store_errors():
        store = env.open_store(read_only=True)
        keys = [i.key for i in store.functions() if function_glob_matches(glob, i.key)]
        if not keys:
            fail(f"no function matches {fmt.quoted(glob)} (see `opsview status` for the functions in the store)")
        found = store.fleet_errors(start, now, keys=keys, new_only=new_only, limit=limit)
        coverage = store.error_coverage(keys)
    unwatched = sorted(
        (k for k in keys if k not in coverage or coverage[k][1] <= start or coverage[k][0] >= now), key=str
    )
    if output == "json":
        click.echo(json.dumps({
            "window": format_duration(window), "start": start.isoformat(), "end": now.isoformat(),
            "signatures": [_json(s) for s in found], "unwatched": [str(k) for k in unwatched],
        }, indent=2, allow_nan=False))
        return
    _table(found, unwatched, len(keys), window, now, new_only)


def _json(s: SignatureSummary) -> dict[str, Any]:
    key = s.key
    return {
        "function": str(key), "provider": key.provider, "account": key.account, "region": key.region,
        "name": key.name, "signature": s.signature, "error_type": s.error_type, "count": s.count,
        "first_seen": s.first_seen.isoformat(), "last_seen": s.last_seen.isoformat(), "new": s.new,
        "sample": s.sample, "sample_id": s.sample_id,
        "sample_at": s.sample_at.isoformat() if s.sample_at else None,
    }


def _table(found: list[SignatureSummary], unwatched: list[FunctionKey], selected: int, window: timedelta,
           now: datetime, new_only: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Piped output is for reading in full, not for an 80-column guess.
    console = Console(width=None if sys.stdout.isatty() else 160)
    what = "new error types" if new_only else "error signatures"
    functions = len({s.key for s in found})
    title = f"{len(found)} {what} in {functions} function{'s' * (functions != 1)} · last {format_duration(window)}"
    if not found:
        watched = selected - len(unwatched)
        console.print(f"no {what} in the last {format_duration(window)}"
                      + (f" ({watched} function{'s' * (watched != 1)} watched)" if watched else ""))
    else:
        rows = []
        for s in found:
            first = Text(fmt.ago(now - s.first_seen))
            if s.new:
                first = Text.assemble(("NEW ", "bold yellow"), first)
            where = Text(s.key.name) + Text(f"\n{s.key.provider} {s.key.region}", style="dim")
            detail = Text(s.signature, style="bold")
            if s.sample:
                line = " ".join(s.sample.split())
                detail += Text("\n↳ " + line + (f" · {s.sample_id}" if s.sample_id else ""), style="dim")
            rows.append((Text(fmt.count(s.count)), first, Text(fmt.ago(now - s.last_seen)), where, detail))
        # Every column but the last as wide as its content (the function at most 28), the signature the rest:
        # rich would otherwise shrink every column alike, down to nothing for the counts.
        heads = ("count", "first seen", "last seen", "function")
        widths = [max(len(h), *(max(len(x) for x in row[i].plain.split("\n")) for row in rows))
                  for i, h in enumerate(heads)]
        widths[3] = min(widths[3], 28)
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for i, head in enumerate(heads):
            table.add_column(head, justify="right" if i == 0 else "left", no_wrap=True, overflow="ellipsis",
                             width=widths[i])
        table.add_column("signature · latest sample", no_wrap=True, overflow="ellipsis",
                         width=max(24, console.width - sum(widths) - _TABLE_EXTRA))
        for row in rows:
            table.add_row(*row)
        console.print(table)
    if unwatched:
        names = ", ".join(k.name for k in unwatched[:5]) + (f" and {len(unwatched) - 5} more" if len(unwatched) > 5
                                                             else "")
        console.print(Text(f"errors unknown for {len(unwatched)} function{'s' * (len(unwatched) != 1)} "
                           f"(no source searched their errors in this window): {names}", style="dim"))
