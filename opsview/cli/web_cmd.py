"""`opsview web`: serve the dashboard under waitress (Flask's server only with --dev)."""

from __future__ import annotations

import logging

import click

from opsview.cli.common import common_options, fail, load_env, store_errors
from opsview.cli.listening import bind_error, probe
from opsview.config.views import WebConfig
from opsview.httpauth import exposure_problem as _exposure_problem
from opsview.httpauth import is_loopback
from opsview.redact import redact

log = logging.getLogger("opsview.web")


def exposure_problem(host: str, web: WebConfig, insecure: bool) -> str | None:
    """Why binding `host` is refused, or None when it is allowed."""
    return _exposure_problem(host, web.auth, insecure)


def dev_problem(host: str) -> str | None:
    """--dev serves Werkzeug's debugger, which runs Python from the browser and answers outside [web.auth]:
    loopback only, whatever else is configured."""
    if is_loopback(host):
        return None
    return (f"--dev binds to loopback only (its debugger runs code from the browser, outside [web.auth]); "
            f"drop --dev to serve {host}, or pass --host 127.0.0.1")


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
                                           "error pages with tracebacks); loopback only.")
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
    problem = (dev_problem(bind_host) if dev else None) or exposure_problem(bind_host, web_conf, insecure)
    if problem:
        fail(problem)
    taken = probe(bind_host, bind_port)  # before the app is built: a busy port fails at once
    if taken:
        fail(taken)

    from opsview.web.app import create_app, shutdown
    from opsview.web.server import AuthSetupError

    with store_errors(env.store_label):
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
            click.echo(f"opsview web: serving {redact(str(store.url))} on {url} (Ctrl-C to stop)", err=True)
            app.run(host=bind_host, port=bind_port, debug=True)
        else:
            from waitress.server import create_server

            try:
                server = create_server(app.server, host=bind_host, port=bind_port, threads=web_conf.threads,
                                       ident="opsview")
            except OSError as exc:  # taken since the probe
                fail(bind_error(exc, bind_host, bind_port))
            click.echo(f"opsview web: serving {redact(str(store.url))} on {url} (Ctrl-C to stop)", err=True)
            server.run()
    finally:
        shutdown(app)
        store.close()
