from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from datetime import datetime

import click

from opsview.alert_records import AlertState
from opsview.cli.common import common_options
from opsview.config import ConfigError, load_config
from opsview.formatting import one_line, printable
from opsview.logs import setup_logging
from opsview.redact import redact
from opsview.store import StoreError, as_store_error, open_store, redact_url

EXIT_UNKNOWN = 3


def _unknown(message: str) -> None:
    click.echo(f"UNKNOWN: {redact(message)}")
    sys.exit(EXIT_UNKNOWN)


def _at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a time zone, e.g. 2024-05-01T12:00:00Z")
    return parsed


@click.command(
    epilog="""\b
Exit codes (monitoring-plugin convention):
  0 OK, 1 WARNING (a warning alert firing), 2 CRITICAL (a critical alert firing),
  3 UNKNOWN (bad config, unusable store, every source failed, or another check held the lock).
\b
Examples:
  opsview check                         # collect, evaluate, notify, one-line summary
  opsview check --no-collect --format json
  * * * * * opsview check --config /etc/opsview.toml >> /var/log/opsview-check.log 2>&1""",
)
@click.option("--collect/--no-collect", "collect", default=None,
              help="Collect every source first (default: [alerts].collect_before_check, true).")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Summary format on stdout.")
@click.option("--at", "at", default=None, metavar="ISO-TIME",
              help="Evaluate as of this time instead of now (replaying a past incident).")
@common_options
def check(collect: bool | None, output: str, at: str | None, config_path: str | None, store_url: str | None,
          log_level: str) -> None:
    """Evaluate every alert rule once, send due notifications, print a summary.

    State lives in the store, so a check run every minute from cron notifies once per alert (and again
    after the notifier's repeat_interval), and two overlapping checks never notify twice.
    """
    setup_logging(log_level)
    when = _at(at)
    try:
        config = load_config(config_path)
        from opsview.alerts.rules import load_rules

        rules = load_rules(config)
    except ConfigError as exc:
        _unknown(str(exc))
    from opsview.alerts.check import LockBusyError, run_check

    try:
        store = open_store(store_url or config.store.url)
        try:
            result = run_check(
                config, rules, store,
                collect=config.alerts.collect_before_check if collect is None else collect, now=when,
            )
        finally:
            store.close()
    except (StoreError, LockBusyError) as exc:
        _unknown(str(exc))
    except Exception as exc:  # the plugin convention wants UNKNOWN, not a traceback, for anything unexpected
        broken = as_store_error(exc, redact_url(str(store_url or config.store.url or "store")))
        if broken is not None:  # the store failed under a read (a damaged page): say so, as for opening it
            _unknown(str(broken))
        import logging

        logging.getLogger(__name__).exception("check failed")
        _unknown(f"check failed: {one_line(exc)}")
    if output == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        from opsview.alerts.display import rule_measures

        _print_text(result, rule_measures(rules))
    sys.exit(int(result.exit_code))


def _print_text(result: object, measures: Mapping[str, str]) -> None:
    from opsview.alerts.check import CheckResult
    from opsview.alerts.display import record_condition

    assert isinstance(result, CheckResult)
    ev = result.evaluation
    firing = ev.firing()
    pending = [r for r in ev.records if r.state is AlertState.PENDING]
    critical = sum(1 for r in firing if r.severity == "critical")
    parts = [f"{len(firing)} firing ({critical} critical, {len(firing) - critical} warning)",
             f"{len(pending)} pending", f"{ev.rules} rules over {ev.functions} functions"]
    click.echo(f"{result.exit_code.name}: {', '.join(parts)}")
    order = {AlertState.FIRING: 0, AlertState.PENDING: 1, AlertState.RESOLVED: 2}
    for r in sorted(ev.records, key=lambda r: (order.get(r.state, 3), r.severity != "critical", r.rule, r.key)):
        muted = "  [silenced]" if r.silenced else ""
        click.echo(f"  {str(r.state).upper():<8} {r.severity:<8} {printable(r.rule):<24} {printable(str(r.key))}  "
                   f"{record_condition(r, measures)}{muted}")
    d = result.delivery
    if ev.queued or d.sent or d.failed:
        click.echo(f"notifications: {len(ev.queued)} queued, {d.sent} sent, {d.failed} undelivered"
                   + (" (retried by the next check)" if d.failed else ""))
    for error in d.errors:
        click.echo(f"  notify error: {redact(error)}")
    if result.sources:
        click.echo(f"sources: {result.sources - result.sources_failed} of {result.sources} collected")
    for error in result.source_errors:
        click.echo(f"  source error: {redact(error)}")
    for error in ev.errors:
        click.echo(f"  rule error: {error}")
