"""The rules `opsview check`, the TUI and `silence` evaluate: the config's, then its rule files'.

Checked by the one validator (`opsview.config.validation`) that `opsview rules validate` runs too.
"""

from __future__ import annotations

from pathlib import Path

from opsview.config import Config, RuleConfig
from opsview.config.alerts import RuleFile
from opsview.config.errors import config_error
from opsview.config.validation import check_rule_test_file, check_rules


def load_rules(config: Config) -> list[RuleConfig]:
    """Every rule, inline first, then each rule file in glob order; raises ConfigError on the first problem."""
    rules, reports = check_rules(config)
    problems = [p for report in reports for p in report.problems]
    if problems:
        raise config_error(problems)
    return rules


def load_rule_test(path: Path, config: Config | None = None) -> tuple[RuleFile, list[RuleConfig]]:
    """A rule test file and every rule it tests: its own, those of the files it names (rule files or the
    main config file) and those of `config` (`rules test --config`)."""
    rule_file, rules, reports = check_rule_test_file(path, config)
    if rule_file is None:
        raise config_error([p for report in reports for p in report.problems])
    return rule_file, rules
