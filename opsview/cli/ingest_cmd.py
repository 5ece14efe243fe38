from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from opsview import formatting as fmt
from opsview.cli.common import common_options, fail, load_env, store_errors
from opsview.collectors import UnsupportedSource, ingest_providers, ingest_reader
from opsview.ingest import FunctionSummary, Ingest, IngestReader, IngestStats
from opsview.logevents import LogEvent


def _open_text(path: str) -> TextIO:
    if path == "-":
        if sys.stdin is None or sys.stdin.closed:  # started with stdin closed (`<&-`)
            fail("stdin: closed, nothing to read (give a file, or pipe logs in)")
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    file = Path(path)
    try:
        if not file.exists():
            fail(f"{path}: no such file")
        if file.is_dir():
            fail(f"{path}: is a directory, expected a log file")
        with file.open("rb") as probe:
            head = probe.read(8192)
        if b"\x00" in head:
            fail(f"{path}: not a text file (binary data); export logs as text or JSON")
        return file.open("r", encoding="utf-8", errors="replace", newline="")
    except OSError as exc:  # permission denied, a path too long, an I/O error
        fail(f"{path}: cannot read ({exc.strerror or exc})")


def _events(
    reader: IngestReader, files: tuple[str, ...], function: str | None, stats: IngestStats
) -> Iterator[LogEvent]:
    for path in files:
        stream = _open_text(path)
        try:
            name = "stdin" if path == "-" else Path(path).name
            yield from reader(stream, name, function, stats)
        except OSError as exc:  # the file (or stdin) failed mid-read
            fail(f"{'stdin' if path == '-' else path}: cannot read ({exc.strerror or exc})")
        finally:
            if path != "-":
                stream.close()


@click.command(
    epilog="""\b
Examples:
  opsview ingest --provider aws exported.log
  aws logs filter-log-events --log-group-name /aws/lambda/checkout | opsview ingest --provider aws -
  az monitor app-insights query ... > q.json && opsview ingest --provider azure q.json --format json
  gcloud logging read 'resource.type="cloud_function"' --format=json > gcf.json
  opsview ingest --provider gcp gcf.json --store ./postmortem.db""",
)
@click.option("--provider", required=True, type=click.Choice(ingest_providers()), help="Which cloud wrote the logs.")
@click.option("--function", "function", default=None, metavar="NAME",
              help="Function name, when the data does not say (else: log group/stream, else the file name).")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@common_options
def ingest(provider: str, function: str | None, output: str, files: tuple[str, ...], config_path: str | None,
           store_url: str | None, log_level: str) -> None:
    """Analyse exported logs offline, for postmortems: per-function invocations, errors,
    timeouts, cold starts, duration percentiles, memory and cost.

    FILE may be `-` for stdin. Lines that do not parse are counted as skipped, never fatal.
    With --store PATH the result is also written into that store as minute samples.
    """
    env = load_env(config_path, None, log_level)
    try:
        reader = ingest_reader(provider)
    except UnsupportedSource as exc:
        fail(str(exc))
    # minute buckets only feed --store; without it readers may take their bulk path
    acc = Ingest(provider, env.config.pricing.price(provider), minutes=bool(store_url))
    acc.add_all(_events(reader, files, function, acc.stats))
    result = acc.result()
    if store_url:
        with store_errors():
            store = env.__class__(env.config, store_url).open_store()
            store.upsert_functions(result.infos)
            store.write_samples(result.samples)
            store.write_errors(result.errors)
            store.record_error_coverage(result.error_coverage)
    if output == "json":
        # strict JSON: readers refuse non-finite numbers and `to_json` drops any left, so this never raises
        click.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
        return
    from rich import box
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left",
                  title=f"{len(result.functions)} functions · {result.stats.lines_read} lines read, "
                        f"{result.stats.lines_skipped} skipped")
    for header in ("function", "inv", "errors", "timeouts", "cold", "p50", "p95", "p99", "max", "init avg", "mem used",
                   "cost"):
        table.add_column(header, justify="left" if header == "function" else "right", no_wrap=True)
    for f in result.functions:
        m = f.measures
        table.add_row(
            escape(f.function),  # names come from the input: `[/]` would be rich markup
            fmt.count(m.invocations), fmt.count(m.errors), fmt.count(f.timeouts), fmt.count(m.cold_starts),
            fmt.millis(m.duration_p50_ms), fmt.millis(m.duration_p95_ms), fmt.millis(m.duration_p99_ms),
            fmt.millis(m.duration_max_ms), fmt.millis(m.init_avg_ms),
            fmt.MISSING if m.memory_used_max_mb is None else f"{m.memory_used_max_mb:.0f}MB", fmt.usd(f.cost_usd),
        )
    console = Console()
    console.print(table)
    _top_errors(console, result.functions)


def _top_errors(console: Any, functions: list[FunctionSummary], per_function: int = 3) -> None:
    """The few most frequent error signatures of each function, with a sample: the "why" beside the counts."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    rows = [(f, e) for f in functions for e in (f.top_errors or ())[:per_function]]
    if not rows:
        return
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, title="top errors", title_justify="left")
    table.add_column("function", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("signature · latest sample", overflow="fold")
    for f, e in rows:
        detail = Text(e.signature, style="bold")  # Text: names and messages are not rich markup
        if e.sample:
            detail += Text("\n↳ " + " ".join(e.sample.split())[:200], style="dim")
        table.add_row(Text(f.function), fmt.count(e.count), detail)
    console.print(table)
