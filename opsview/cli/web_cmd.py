"""`opsview web`: serve the dashboard under waitress (Flask's server only with --dev)."""

from __future__ import annotations

import ipaddress
import logging

import click

from opsview.cli.common import common_options, fail, load_env, store_errors
from opsview.cli.listening import bind_error, probe
from opsview.config.views import WebConfig

log = logging.getLogger("opsview.web")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def exposure_problem(host: str, web: WebConfig, insecure: bool) -> str | None:
    """Why binding `host` is refused, or None when it is allowed."""
    if is_loopback(host) or web.auth is not None or insecure:
        return None
    return (f"binding to {host} would expose the dashboard without authentication: "
            "configure [web.auth] (basic or bearer) or pass --insecure")


@click.command(
    epilog="""\b
Examples:
  opsview web                                   # http://127.0.0.1:8050
  opsview web --store /tmp/demo.db --port 9000
  OPSVIEW_WEB_TOKEN=... opsview web --host 0.0.0.0   # with [web.auth] type = "bearer"
""",
)
@click.option("--host", default=None, help="Address to bind (default: [web].host, 127.0.0.1).")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (default: [web].port, 8050).")
@click.option("--dev", is_flag=True, help="Dash debug mode on Flask's development server (hot reload, "
                                           "error pages with tracebacks): never on a shared network.")
@click.option("--insecure", is_flag=True, help="Allow binding beyond loopback without [web.auth].")
@common_options
def web(host: str | None, port: int | None, dev: bool, insecure: bool, config_path: str | None,
        store_url: str | None, log_level: str) -> None:
    """Serve the web dashboard for teams (read-only; /healthz for load balancers).

    The dashboard reads the store; keep `opsview collect` running (cron or a loop) to fill it.
    """
    env = load_env(config_path, store_url, log_level)
    web_conf = env.config.web
    bind_host = host or web_conf.host
    bind_port = port or web_conf.port
    problem = exposure_problem(bind_host, web_conf, insecure)
    if problem:
        fail(problem)
    taken = probe(bind_host, bind_port)  # before the app is built: a busy port fails at once
    if taken:
        fail(taken)

    from opsview.web.app import create_app, shutdown
    from opsview.web.server import AuthSetupError

    with store_errors():
        store = env.open_store(read_only=True)
        try:
            app = create_app(store, env.config)
        except AuthSetupError as exc:
            fail(f"{env.config.path or 'config'}: {exc}")
    if web_conf.auth is not None:
        log.warning("web: %s authentication required for every page", web_conf.auth.type)
    elif not is_loopback(bind_host):
        log.warning("web: serving %s WITHOUT authentication (--insecure); anyone who can reach it sees the fleet",
                    bind_host)
    url = f"http://{bind_host}:{bind_port}/"
    try:
        if dev:
            click.echo(f"opsview web: serving {store.url} on {url} (Ctrl-C to stop)", err=True)
            app.run(host=bind_host, port=bind_port, debug=True)
        else:
            from waitress.server import create_server

            try:
                server = create_server(app.server, host=bind_host, port=bind_port, threads=web_conf.threads,
                                       ident="opsview")
            except OSError as exc:  # taken since the probe
                fail(bind_error(exc, bind_host, bind_port))
            click.echo(f"opsview web: serving {store.url} on {url} (Ctrl-C to stop)", err=True)
            server.run()
    finally:
        shutdown(app)
        store.close()
