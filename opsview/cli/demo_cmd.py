from __future__ import annotations

import math
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import click

from opsview.cli.common import Env, common_options, load_env, store_errors
from opsview.collect import CollectionRunner
from opsview.config import Config, DemoSource, SourcesConfig
from opsview.schema import utcnow
from opsview.store import CollectStore, Store


def demo_config(base: Config, seed: int, scale: int) -> Config:
    """The user's config (pricing, tui, alerts) with the demo fleet as its only source.

    Without rules of the user's own, the demo watches the default rule pack, so the alerts
    screen shows what the demo fleet's troubled functions trip.
    """
    update: dict[str, object] = {"sources": SourcesConfig(demo=[DemoSource(name="demo", seed=seed, scale=scale)])}
    if not base.alerts.rules and not base.alerts.rule_files:
        from opsview.alerts.defaults import default_rules

        update["alerts"] = base.alerts.model_copy(update={"rules": default_rules()})
    return base.model_copy(update=update)


def fill_history(config: Config, store: CollectStore, hours: float, *, progress: bool = True) -> int:
    """Collect `hours` of demo history hour by hour, so memory stays flat and progress shows."""
    now = utcnow()
    start = now - timedelta(hours=hours)
    steps = max(1, math.ceil(hours))
    total = 0
    sink = None if progress else open(os.devnull, "w")  # noqa: SIM115 (closed below)
    with CollectionRunner(config, store) as runner, click.progressbar(
        length=steps, label="Generating demo history", show_eta=True, file=sink
    ) as bar:
        for step in range(1, steps + 1):
            chunk_end = min(now, start + timedelta(hours=step))
            reports = runner.run(now=chunk_end, since=chunk_end - start)
            total += sum(r.samples for r in reports)
            bar.update(1)
    if sink is not None:
        sink.close()
    return total


@click.command(
    epilog="""\b
Examples:
  opsview demo                                  # the TUI on a temporary demo store
  opsview demo --collect-only --store /tmp/demo.db --hours 24
  opsview status --store /tmp/demo.db""",
)
@click.option("--seed", default=42, show_default=True, help="Same seed, same fleet and numbers.")
@click.option("--scale", default=1, show_default=True, type=click.IntRange(1, 1000),
              help="Multiply the ~60 base functions (100 gives ~6,000).")
@click.option("--hours", default=6.0, show_default=True, type=click.FloatRange(0.05, 24 * 30),
              help="Hours of history to generate before opening.")
@click.option("--collect-only", is_flag=True, help="Fill the store with demo history and exit.")
@common_options
def demo(seed: int, scale: int, hours: float, collect_only: bool, config_path: str | None, store_url: str | None,
         log_level: str) -> None:
    """Open the built-in demo fleet, or fill a store with demo history.

    The demo fleet is ~60 functions across AWS, Azure and GCP with diurnal traffic, cold
    starts, a throttled function, an error spike, a creeping p99 and a timeout: everything
    opsview shows, without any cloud account. Without --store it uses a temporary store.
    """
    env = load_env(config_path, store_url, log_level, log_to_stderr=collect_only)
    config = demo_config(env.config, seed, scale)
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if store_url is None:
        if collect_only:
            raise click.UsageError("--collect-only needs --store PATH (where to keep the history)")
        tmp = tempfile.TemporaryDirectory(prefix="opsview-demo-")
        store_url = str(Path(tmp.name) / "demo.db")
    demo_env = Env(config, store_url)
    with store_errors(demo_env.store_label):
        store = demo_env.open_store()
        samples = fill_history(config, store, hours)
        if collect_only:
            functions = len(store.functions())
            click.echo(f"demo: {functions} functions, {samples} samples written to {store_url}")
            return
        try:
            _open_viewer(config, store, log_level)
        finally:
            store.close()
            if tmp is not None:
                tmp.cleanup()


def _open_viewer(config: Config, store: Store, log_level: str) -> None:
    """The TUI on the demo store, collecting the demo fleet every [collect].interval."""
    from opsview.cli.tui_cmd import run_tui

    run_tui(config, store, read_only=False, window=timedelta(minutes=15), log_level=log_level)
