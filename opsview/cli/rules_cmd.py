from __future__ import annotations

import sys
from pathlib import Path

import click

from opsview.cli.common import fail
from opsview.config import ConfigError, load_config
from opsview.redact import redact


@click.group(
    epilog="""\b
Examples:
  opsview rules validate opsview.toml rules/*.toml
  opsview rules test rules/tests.toml""",
)
def rules() -> None:
    """Validate alert rule files and run their unit tests."""


@rules.command(
    epilog="""\b
Examples:
  opsview rules validate opsview.toml            # the config and every file its alerts.rule_files names
  opsview rules validate rules/*.toml""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check config or rule files exactly as every other command loads them; one line per problem
    (file:line: key: what), exit 2 if any."""
    from opsview.config.validation import check_files

    reports = check_files(list(files))
    problems = [problem for report in reports for problem in report.problems]
    good = sum(report.good_rules for report in reports)
    for problem in problems:
        click.echo(redact(str(problem)), err=True)
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(2)
    click.echo(f"ok: {good} rule{'s' if good != 1 else ''} valid")


@rules.command(
    epilog="""\b
A test file holds [[rules]] (or rule_files = [...], which may name rule files or the main config
file, whose [[alerts.rules]] and alerts.rule_files then count) and [[tests]]:
  rule_files = ["../opsview.toml"]
  [[tests]]
  name = "error spike is pending, then fires after 5m"
  interval = "1m"
  [[tests.series]]
  function = "aws/123/us-east-1/checkout"
  invocations = "100x20"          # V, VxN (N times V), _ (no bucket)
  errors = "0x10 20x10"
  error_signatures = { "KeyError: <str>" = "_x15 2x5" }   # for kind = "new_error" rules
  [[tests.alerts]]
  at = "12m"
  rule = "high-error-rate"
  firing = []
  pending = ["aws/123/us-east-1/checkout"]   # optional: unset, pending alerts are not checked
  [[tests.alerts]]
  at = "20m"
  rule = "high-error-rate"
  firing = ["aws/123/us-east-1/checkout"]
\b
Examples:
  opsview rules test rules/tests.toml
  opsview rules test --config opsview.toml rules/tests.toml   # the config's rules, tested by tests.toml
Exit 0 when every test passes, 1 when one fails, 2 when a file is invalid.""",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--config", "config_path", default=None, type=click.Path(path_type=Path),
              help="Also load the rules of this config file: its [[alerts.rules]] and alerts.rule_files.")
def test(files: tuple[Path, ...], config_path: Path | None) -> None:
    """Run rule unit tests: given input series and evaluation times, expect which alerts fire (or are pending)."""
    from opsview.alerts.ruletest import run_file

    failed = 0
    passed = 0
    try:
        config = load_config(config_path) if config_path is not None else None
    except ConfigError as exc:
        click.echo(f"opsview: {exc}", err=True)
        sys.exit(2)
    for path in files:
        try:
            outcomes = run_file(path, config)
        except ConfigError as exc:
            fail(str(exc))
        for outcome in outcomes:
            if outcome.ok:
                passed += 1
                click.echo(f"PASS  {path}: {outcome.name}")
            else:
                failed += 1
                click.echo(f"FAIL  {path}: {outcome.name}")
                for failure in outcome.failures:
                    click.echo(f"        {failure}")
    click.echo(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
