from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import click

from opsview import formatting as fmt
from opsview.cli.common import common_options, fail, load_env, store_errors
from opsview.cli.tables import Column, print_table
from opsview.collectors import UnsupportedSource, ingest_format, ingest_providers, ingest_reader
from opsview.ingest import FunctionSummary, Ingest, IngestReader, IngestStats
from opsview.logevents import LogEvent
from opsview.store import redact_url


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


@dataclass(slots=True)
class _FileTally:
    events: int = 0
    lines_read: int = 0
    lines_skipped: int = 0
    notes: list[str] = field(default_factory=list)


def _events(
    reader: IngestReader, files: tuple[str, ...], function: str | None, stats: IngestStats,
    tally: dict[str, _FileTally],
) -> Iterator[LogEvent]:
    """Every file's events in turn, counted per file in `tally` (no events: nothing in it could be read)."""
    for path in files:
        stream = _open_text(path)
        counts = tally.setdefault(path, _FileTally())
        read, skipped, noted = stats.lines_read, stats.lines_skipped, len(stats.notes)
        try:
            name = "stdin" if path == "-" else Path(path).name
            for event in reader(stream, name, function, stats):
                counts.events += 1
                yield event
        except OSError as exc:  # the file (or stdin) failed mid-read
            fail(f"{'stdin' if path == '-' else path}: cannot read ({exc.strerror or exc})")
        finally:
            counts.lines_read += stats.lines_read - read
            counts.lines_skipped += stats.lines_skipped - skipped
            counts.notes += stats.notes[noted:]
            if path != "-":
                stream.close()


_CLOUD_NAMES = {"aws": "AWS", "azure": "Azure", "gcp": "GCP"}
_YAML_KEY = re.compile(r"^[A-Za-z_][\w.-]*:(?:\s|$)")


def _nothing_found(path: str, provider: str, tally: _FileTally) -> str:
    """`<file> (N lines read, M skipped): no ... found (expected ...)`, and what the file looks like when that
    says more."""
    lines = "1 line" if tally.lines_read == 1 else f"{tally.lines_read} lines"
    noted = "".join(f"; {note}" for note in tally.notes[:1])
    line = (f"{'stdin' if path == '-' else path} ({lines} read, {tally.lines_skipped} skipped{noted}): "
            f"{ingest_format(provider).nothing_found}")
    if path == "-":
        return line
    try:
        with Path(path).open(encoding="utf-8", errors="replace") as file:
            head = file.read(65536)
    except OSError:
        return line
    others = [p for p in ingest_providers() if p != provider and ingest_format(p).looks_like.search(head)]
    if others:
        return f"{line}; this looks like {_CLOUD_NAMES.get(others[0], others[0])} logs: try --provider {others[0]}"
    first = next((row.strip() for row in head.splitlines() if row.strip()), "")
    if _YAML_KEY.match(first):
        return f"{line}; this looks like YAML: export JSON instead (e.g. --format=json)"
    return line


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
    tally: dict[str, _FileTally] = {}
    acc.add_all(_events(reader, files, function, acc.stats, tally))
    empty = list(dict.fromkeys(path for path in files if not tally[path].events))
    if len(empty) == len(set(files)):  # nothing at all: the wrong file, or the wrong --provider
        for path in empty[:-1]:
            click.echo(f"opsview: {_nothing_found(path, provider, tally[path])}", err=True)
        fail(_nothing_found(empty[-1], provider, tally[empty[-1]]))
    for path in empty:  # others had records: an empty export among them is worth a word, not a failure
        click.echo(f"opsview: warning: {_nothing_found(path, provider, tally[path])}", err=True)
    for path, counts in tally.items():
        for note in counts.notes if counts.events else ():
            click.echo(f"opsview: warning: {'stdin' if path == '-' else path}: {note}", err=True)
    result = acc.result()
    if store_url:
        with store_errors(redact_url(store_url)):
            store = env.__class__(env.config, store_url).open_store()
            try:
                # One transaction: a kill or a full disk never leaves functions without their samples.
                store.write_batch(result.infos, result.samples, coverage=result.coverage)
            finally:
                store.close()
            store.write_errors(result.errors)
            store.record_error_coverage(result.error_coverage)
    if output == "json":
        # strict JSON: readers refuse non-finite numbers and `to_json` drops any left, so this never raises
        click.echo(json.dumps(result.to_json(), indent=2, allow_nan=False))
        return
    title = (f"{len(result.functions)} functions · {result.stats.lines_read} lines read, "
             f"{result.stats.lines_skipped} skipped")
    rows = [
        [f.function, fmt.count(f.measures.invocations), fmt.count(f.measures.errors),
         fmt.count(f.measures.throttles), fmt.count(f.timeouts), fmt.count(f.measures.cold_starts),
         fmt.millis(f.measures.duration_p50_ms), fmt.millis(f.measures.duration_p95_ms),
         fmt.millis(f.measures.duration_p99_ms), fmt.millis(f.measures.duration_max_ms),
         fmt.millis(f.measures.init_avg_ms),
         fmt.MISSING if f.measures.memory_used_max_mb is None else f"{f.measures.memory_used_max_mb:.0f}MB",
         fmt.usd(f.cost_usd)]
        for f in result.functions
    ]
    print_table(title, _COLUMNS, rows)
    from rich.console import Console

    _top_errors(Console(), result.functions)


# most important first to stay: a narrow terminal drops the last ones first
_COLUMNS = (
    Column("function", 0, cut_to=20, right=False), Column("inv", 0), Column("errors", 0), Column("thr", 8),
    Column("timeouts", 5), Column("cold", 4), Column("p50", 7), Column("p95", 6), Column("p99", 2), Column("max", 3),
    Column("init avg", 10), Column("mem used", 11), Column("cost", 9),
)


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
