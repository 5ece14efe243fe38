"""Rule files, validation lines and rule unit tests, as a user writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsview.alerts.rules import load_rules
from opsview.alerts.ruletest import run_file
from opsview.config import ConfigError, load_config
from opsview.config.validation import check_files

REPO = Path(__file__).resolve().parents[3]


def validate_files(paths: list[Path]) -> tuple[list[str], int]:
    """What `opsview rules validate` prints: the problem lines, and the count of valid rules."""
    reports = check_files(paths)
    return [str(p) for r in reports for p in r.problems], sum(r.good_rules for r in reports)

ISSUE_EXAMPLE = """\
[notifiers.oncall]
type = "webhook"                 # POSTs JSON; "apprise" takes any Apprise URL (Slack, Teams, PagerDuty, email, …)
url = "http://127.0.0.1:9999/hook"

[[alerts.rules]]
name = "aws-busy"
measure = "invocations"
match = { provider = "aws" }
window = "24h"
op = ">"
threshold = 0
for = "0s"
severity = "critical"
notify = ["oncall"]
"""


def test_the_issue_example_loads_verbatim(tmp_path: Path) -> None:
    path = tmp_path / "opsview.toml"
    path.write_text(ISSUE_EXAMPLE, encoding="utf-8")
    config = load_config(path)
    (rule,) = load_rules(config)
    assert (rule.name, rule.measure, rule.match.provider, rule.severity, rule.notify) == (
        "aws-busy", "invocations", "aws", "critical", ["oncall"])
    assert rule.window.total_seconds() == 86400
    assert config.notifiers["oncall"].repeat_interval.total_seconds() == 4 * 3600


def test_example_config_default_rule_pack_validates() -> None:
    problems, good = validate_files([REPO / "config.example.toml"])
    assert problems == []
    assert good >= 5


def test_rule_files_are_found_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "team.toml").write_text(
        '[[rules]]\nname = "slow"\nmeasure = "duration_p99_ms"\nthreshold = 500\n', encoding="utf-8")
    (tmp_path / "opsview.toml").write_text(ISSUE_EXAMPLE + 'rule_files = ["rules/*.toml"]\n'.join(["", ""]),
                                            encoding="utf-8")
    text = ISSUE_EXAMPLE.replace("[[alerts.rules]]", '[alerts]\nrule_files = ["rules/*.toml"]\n\n[[alerts.rules]]')
    (tmp_path / "opsview.toml").write_text(text, encoding="utf-8")
    assert [r.name for r in load_rules(load_config(tmp_path / "opsview.toml"))] == ["aws-busy", "slow"]


def test_duplicate_rule_across_files_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "more.toml").write_text(
        '# team rules\n[[rules]]\nname = "aws-busy"\nmeasure = "errors"\nthreshold = 1\n', encoding="utf-8")
    text = ISSUE_EXAMPLE.replace("[[alerts.rules]]", '[alerts]\nrule_files = ["more.toml"]\n\n[[alerts.rules]]')
    (tmp_path / "opsview.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"more\.toml:3: rules\[0\]\.name: duplicate rule name 'aws-busy'"):
        load_rules(load_config(tmp_path / "opsview.toml"))


def test_validate_reports_every_problem_on_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        "[[rules]]\n"
        'name = "a"\n'
        'measure = "error_rat"\n'
        "threshold = 1\n"
        "\n"
        "[[rules]]\n"
        'name = "b"\n'
        'measure = "error_rate"\n'
        "threshold = 5\n"
        'for = "5x"\n'
        "\n"
        "[[rules]]\n"
        'name = "c"\n'
        'measure = "errors"\n'
        "threshold = 1\n"
        'annotations = { summary = "{function} {valu}" }\n',
        encoding="utf-8",
    )
    problems, good = validate_files([path])
    assert good == 0
    assert len(problems) == 4
    assert problems[0].startswith(f"{path}:3: rules[0].measure: unknown measure 'error_rat'")
    assert problems[1].startswith(f"{path}:9: rules[1].threshold: error_rate is a fraction")
    assert problems[2].startswith(f"{path}:10: rules[1].for: invalid duration \"5x\"")
    assert problems[3].startswith(f"{path}:16: rules[2].annotations: annotation 'summary': unknown placeholder")


def test_validate_flags_a_rate_threshold_written_as_percent(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('[[rules]]\nname = "e"\nmeasure = "error_rate"\nthreshold = 5\n', encoding="utf-8")
    (problem,) = validate_files([path])[0]
    assert problem == (f"{path}:4: rules[0].threshold: error_rate is a fraction (0.05 = 5%): threshold 5 is never "
                       "reached (expected 0 to 1)")


RULE_TEST = """\
[[rules]]
name = "high-error-rate"
measure = "error_rate"
window = "5m"
threshold = 0.05
for = "5m"

[[tests]]
name = "error spike fires after 5m"
[[tests.series]]
function = "aws/123/us-east-1/checkout"
invocations = "100x30"
errors = "0x10 20x20"
[[tests.series]]
function = "aws/123/us-east-1/healthy"
invocations = "100x30"
errors = "0x30"
[[tests.alerts]]
at = "12m"
rule = "high-error-rate"
firing = []
[[tests.alerts]]
at = "20m"
rule = "high-error-rate"
firing = ["aws/123/us-east-1/checkout"]
"""


def test_rule_unit_tests_pass_and_fail_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(RULE_TEST, encoding="utf-8")
    (outcome,) = run_file(path)
    assert outcome.ok, outcome.failures
    path.write_text(RULE_TEST.replace('at = "12m"', 'at = "18m"'),
                    encoding="utf-8")
    (outcome,) = run_file(path)
    assert outcome.failures == (
        "at 18m: rule 'high-error-rate' expected firing [], got [aws/123/us-east-1/checkout]",
    )
