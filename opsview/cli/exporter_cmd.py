from __future__ import annotations

import json
import logging
import os
import threading
from datetime import timedelta

import click

from opsview.cli.common import DURATION, common_options, fail, load_env, store_errors
from opsview.cli.listening import bind_error, probe
from opsview.httpauth import AuthSetupError, exposure_problem, require_auth, resolve_credentials
from opsview.redact import redact

log = logging.getLogger(__name__)


@click.command(
    epilog="""\b
Examples:
  opsview exporter                          # http://127.0.0.1:9464/metrics
  opsview exporter --host 0.0.0.0 --port 9464 --window 5m
  opsview exporter --otlp http://collector:4318             # push OTLP every minute, and serve /metrics
  opsview exporter --otlp http://collector:4318 --no-http   # push only
  opsview exporter --otlp http://collector:4318 --once      # push the minutes due once, print JSON, exit
Prometheus scrape config:
  - job_name: opsview
    static_configs: [{targets: ["opsview-host:9464"]}]""",
)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback requires [web.auth] or --insecure.")
@click.option("--port", default=9464, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--window", default="5m", type=DURATION, show_default=True,
              help="Each scrape reports every function aggregated over this latest window.")
@click.option("--otlp", "otlp", default=None, metavar="URL",
              help="Push OTLP/HTTP metrics to this endpoint (default: [export.otlp] endpoint), e.g. "
                   "http://collector:4318.")
@click.option("--http/--no-http", "serve", default=True, show_default=True,
              help="Serve /metrics (Prometheus) beside the OTLP push.")
@click.option("--once", is_flag=True, help="Push the OTLP minutes due once, print what was pushed, and exit.")
@click.option("--insecure", is_flag=True, help="Allow serving /metrics beyond loopback without [web.auth].")
@common_options
def exporter(host: str, port: int, window: timedelta, otlp: str | None, serve: bool, once: bool, insecure: bool,
             config_path: str | None, store_url: str | None, log_level: str) -> None:
    """Serve the store in the Prometheus text format at /metrics, and push it as OTLP metrics.

    Read-only: point it at the store your collectors write. Prometheus series: opsview_invocations,
    opsview_errors, opsview_throttles, opsview_cold_starts, opsview_duration_seconds{quantile} (a summary),
    opsview_duration_max_seconds, opsview_init_duration_seconds{quantile}, opsview_memory_used_max_bytes,
    opsview_cost_usd, opsview_alert_firing and opsview_collector_up. OTLP follows the OpenTelemetry FaaS
    semantic conventions (faas.invocations, faas.errors, faas.coldstarts, faas.invoke_duration, ...):
    every [export.otlp] interval it pushes the whole minutes since the last push, [export.otlp] delay behind now.

    /metrics takes the web's [web.auth] (basic or bearer; Prometheus: `basic_auth` or `authorization` in the
    scrape config) whenever it is configured; /healthz stays open.
    """
    env = load_env(config_path, store_url, "INFO" if log_level.upper() == "WARNING" else log_level)
    endpoint = otlp or env.config.export.otlp.endpoint
    if (once or not serve) and endpoint is None:
        fail("--once and --no-http push OTLP: pass --otlp URL or set [export.otlp] endpoint")
    creds = None
    if serve and not once:
        problem = exposure_problem(host, env.config.web.auth, insecure, "the fleet's metrics")
        if problem:
            fail(problem)
        try:
            creds = resolve_credentials(env.config.web.auth, os.environ)
        except AuthSetupError as exc:
            fail(f"{env.config.path or 'config'}: {exc}")
    if serve and not once and (taken := probe(host, port)):  # before the store is opened or a push started
        fail(taken)
    with store_errors(env.store_label):
        store = env.open_store(read_only=True)
    pusher = None
    if endpoint is not None:
        from opsview.otlp import OtlpPusher, OtlpSetupError, describe

        try:
            pusher = OtlpPusher(store, env.config, endpoint)
        except OtlpSetupError as exc:
            fail(str(exc))
        if once:
            with store_errors(env.store_label):
                report = pusher.push_once()
            pusher.shutdown()
            click.echo(json.dumps(describe(report) if report else {"pushed": None}))
            if report is not None and not report.ok:
                fail(f"OTLP push to {redact(pusher.endpoint)} failed (see the log)", code=1)
            return
        click.echo(f"opsview exporter: pushing OTLP to {redact(pusher.endpoint)} every "
                   f"{int(env.config.export.otlp.interval.total_seconds())}s (store {redact(str(store.url))})",
                   err=True)
    server = None
    if serve:
        from waitress.server import create_server

        from opsview.exporter import metrics_wsgi_app

        try:
            app = require_auth(metrics_wsgi_app(store, env.config, window), creds, open_paths={"/healthz"})
            server = create_server(app, host=host, port=port, threads=4, ident="opsview")
        except OSError as exc:  # taken since the probe
            if pusher is not None:
                pusher.shutdown()
            fail(bind_error(exc, host, port))
    stop = threading.Event()
    pushing = threading.Thread(target=pusher.run, args=(stop,), name="opsview-otlp", daemon=True) if pusher else None
    if pushing is not None:
        pushing.start()
    try:
        if server is not None:
            guard = f"{creds.kind} auth" if creds else "no auth"
            click.echo(f"opsview exporter: serving http://{host}:{port}/metrics ({guard}; store "
                       f"{redact(str(store.url))})", err=True)
            server.run()
        else:
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if pushing is not None and pusher is not None:
            pushing.join(timeout=10)
            pusher.shutdown()
