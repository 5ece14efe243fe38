from __future__ import annotations

import sys
from datetime import timedelta

import click

from opsview.cli.common import DURATION, common_options, fail, load_env, store_errors
from opsview.collect import CollectionRunner, SourceReport
from opsview.collectors import UnsupportedSource
from opsview.redact import redact
from opsview.sharding import Shard, select


@click.command(
    epilog="""\b
Examples:
  opsview collect                 # incremental: from the newest stored bucket
  opsview collect --since 6h      # reach back further on the first run
  opsview collect --shard 2/3     # the second of three collector hosts
  */1 * * * * opsview collect --config /etc/opsview.toml   # crontab""",
)
@click.option("--since", type=DURATION, default=None,
              help="How far back to reach when the store has no newer data (default: [collect].since, 1h).")
@click.option("--source", "only", multiple=True, metavar="NAME", help="Only this source (repeatable).")
@click.option("--shard", "shard_text", default=None, metavar="I/N",
              help="Collect only shard I of N (1-based; a stable hash of each source), so N collectors split "
                   "the sources without overlap.")
@common_options
def collect(since: timedelta | None, only: tuple[str, ...], shard_text: str | None, config_path: str | None,
            store_url: str | None, log_level: str) -> None:
    """Collect every configured source once into the store.

    Prints one line per source: functions, samples, time taken and any error. A failing
    source never stops the others; the exit code is 1 if any source failed.
    """
    env = load_env(config_path, store_url, log_level)
    sources = env.config.sources.all()
    if only:
        unknown = sorted(set(only) - {s.name for s in sources})
        if unknown:
            fail(f"unknown source {unknown[0]!r} (configured: {', '.join(s.name or '' for s in sources) or 'none'})")
        sources = [s for s in sources if s.name in only]
    if shard_text is not None:
        try:
            shard = Shard.parse(shard_text)
        except ValueError as exc:
            fail(str(exc))
        sources = select(sources, shard)
        if not sources:
            click.echo(f"shard {shard.index}/{shard.count}: no sources fall in this shard; nothing to do")
            return
    if not sources:
        where = env.config.path or "no config file found"
        fail(f"no sources configured ({where}); add [[sources.aws]], [[sources.azure]], [[sources.gcp]] "
             "or [[sources.demo]] — see config.example.toml")
    with store_errors(env.store_label):
        store = env.open_store()
        runner = CollectionRunner(env.config, store, sources)
        ctx = click.get_current_context()
        ctx.call_on_close(runner.close)

        def show(report: SourceReport) -> None:
            head = f"{report.source:<20} {report.provider:<6}"
            if not report.functions and not report.samples and len(report.errors) == 1:
                # failed as a whole (credentials, the account): one line, the error in place of empty counts
                click.echo(f"{head} FAILED {report.errors[0]}")
                return
            status = "ok" if report.ok else "FAILED"
            click.echo(f"{head} {status:<6} {report.functions:>6} functions {report.samples:>8} samples  "
                       f"{report.duration_s:6.1f}s")
            for error in report.errors:
                click.echo(f"  error: {redact(error)}")

        try:
            reports = runner.run(since=since, on_report=show)
        except UnsupportedSource as exc:
            fail(str(exc))
    failed = [r for r in reports if not r.ok]
    if failed:
        click.echo(f"{len(failed)} of {len(reports)} sources failed", err=True)
        sys.exit(1)
