from __future__ import annotations

import json
from datetime import timedelta

import click

from opsview.cli.common import DURATION, common_options, fail, load_env, store_errors
from opsview.formatting import printable
from opsview.schema import utcnow


@click.group(
    epilog="""\b
Examples:
  opsview silence add --rule high-error-rate --function 'checkout-*' --for 2h --comment "deploy rollback"
  opsview silence list
  opsview silence remove 3""",
)
def silence() -> None:
    """Mute notifications of a rule (optionally for some functions) for a while.

    A silenced alert still changes state and still counts in `opsview check`'s exit code;
    it is only not notified. When the silence ends, a still-firing alert is notified.
    Alertmanager notifiers keep receiving silenced alerts: silence those in Alertmanager.
    """


@silence.command("add", epilog="""\b
Example:
  opsview silence add --rule high-error-rate --function 'checkout-*' --for 2h --comment "rollback"
""")
@click.option("--rule", required=True, metavar="NAME", help="Rule name (a glob: 'aws-*' mutes several rules).")
@click.option("--function", "function", default="*", show_default=True, metavar="GLOB",
              help="Function name glob, or provider/account/region/name glob.")
@click.option("--for", "duration", type=DURATION, required=True, help="How long, e.g. 30m, 2h, 1d.")
@click.option("--comment", default="", help="Why; shown by `silence list`.")
@common_options
def add(rule: str, function: str, duration: timedelta, comment: str, config_path: str | None,
        store_url: str | None, log_level: str) -> None:
    """Add a silence starting now."""
    env = load_env(config_path, store_url, log_level)
    _warn_unknown_rule(env.config, rule)
    from opsview.alerts.silencing import add_silence, local_user

    with store_errors(env.store_label):
        store = env.open_store()
        created = add_silence(store, rule, function, duration, comment, local_user(), utcnow())
    click.echo(f"silence {created.id}: rule {printable(created.rule)}, function {printable(created.function)}, "
               f"until {created.ends.isoformat()}")


@silence.command("list", epilog="""\b
Examples:
  opsview silence list
  opsview silence list --all --format json
""")
@click.option("--all", "show_all", is_flag=True, help="Also expired silences.")
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@common_options
def list_(show_all: bool, output: str, config_path: str | None, store_url: str | None, log_level: str) -> None:
    """List active silences (with --all, expired ones too)."""
    env = load_env(config_path, store_url, log_level)
    with store_errors(env.store_label):
        store = env.open_store()
        now = utcnow()
        items = store.silences() if show_all else store.silences(active_at=now)
    if output == "json":
        click.echo(json.dumps([
            {"id": s.id, "rule": s.rule, "function": s.function, "starts": s.starts.isoformat(),
             "ends": s.ends.isoformat(), "comment": s.comment, "created_by": s.created_by, "active": s.active(now)}
            for s in items
        ], indent=2))
        return
    if not items:
        click.echo("no active silences" if not show_all else "no silences")
        return
    for s in items:
        state = "" if s.active(now) else "  (expired)" if s.ends <= now else "  (not started)"
        comment = f"  # {s.comment}" if s.comment else ""
        click.echo(f"{s.id:>4}  rule {printable(s.rule)}  function {printable(s.function)}  "
                   f"until {s.ends.isoformat()}{state}{printable(comment)}")


@silence.command("remove", epilog="""\b
Example:
  opsview silence remove 3      # the ID from `opsview silence list`
""")
@click.argument("silence_id", type=int, metavar="ID")
@common_options
def remove(silence_id: int, config_path: str | None, store_url: str | None, log_level: str) -> None:
    """Remove a silence by its id (see `silence list`)."""
    env = load_env(config_path, store_url, log_level)
    with store_errors(env.store_label):
        store = env.open_store()
        removed = store.remove_silence(silence_id)
    if not removed:
        fail(f"no silence with id {silence_id} (see `opsview silence list --all`)")
    click.echo(f"silence {silence_id} removed")


def _warn_unknown_rule(config: object, rule: str) -> None:
    from fnmatch import fnmatchcase

    from opsview.alerts.rules import load_rules
    from opsview.config import Config, ConfigError

    assert isinstance(config, Config)
    try:
        rules = load_rules(config)
    except ConfigError:
        return
    names = [r.name for r in rules]
    if not any(fnmatchcase(n, rule) for n in names):
        click.echo(f"opsview: warning: no configured rule matches {rule!r} "
                   f"(rules: {', '.join(names) or 'none'}); adding the silence anyway", err=True)
    routed = sorted({n for r in rules if fnmatchcase(r.name, rule) for n in r.notify
                     if n in config.notifiers and config.notifiers[n].type == "alertmanager"})
    if routed:
        click.echo(f"opsview: note: Alertmanager notifier(s) {', '.join(routed)} still receive these alerts "
                   "(Alertmanager applies its own silences): silence them there, e.g. `amtool silence add`", err=True)
