from __future__ import annotations

import logging
from datetime import timedelta

import click

from opsview.cli.common import DURATION, common_options, load_env, store_errors

log = logging.getLogger(__name__)


@click.command(
    epilog="""\b
Examples:
  opsview exporter                          # http://127.0.0.1:9464/metrics
  opsview exporter --host 0.0.0.0 --port 9464 --window 5m
Prometheus scrape config:
  - job_name: opsview
    static_configs: [{targets: ["opsview-host:9464"]}]""",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--window", default="5m", type=DURATION, show_default=True,
              help="Each scrape reports every function aggregated over this latest window.")
@common_options
def exporter(host: str, port: int, window: timedelta, config_path: str | None, store_url: str | None,
             log_level: str) -> None:
    """Serve the store in the Prometheus text format at /metrics.

    Read-only: point it at the store your collectors write. Series: opsview_invocations,
    opsview_errors, opsview_throttles, opsview_cold_starts, opsview_duration_ms{quantile},
    opsview_cost_usd, opsview_alert_firing and opsview_collector_up.
    """
    import waitress

    from opsview.exporter import metrics_wsgi_app

    env = load_env(config_path, store_url, "INFO" if log_level.upper() == "WARNING" else log_level)
    with store_errors(env.store_label):
        store = env.open_store()
    click.echo(f"opsview exporter: serving http://{host}:{port}/metrics (store {store.url})", err=True)
    waitress.serve(metrics_wsgi_app(store, env.config, window), host=host, port=port, threads=4, ident="opsview")
