"""`opsview rules test` as a real process: rules from the main config file, and pending as well as firing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CONFIG = """
[store]
url = "{store}"

[notifiers.oncall]
type = "stdout"

[alerts]
rule_files = ["rules/*.toml"]

[[alerts.rules]]
name = "high-error-rate"
measure = "error_rate"
window = "5m"
threshold = 0.05
for = "5m"
severity = "critical"
notify = ["oncall"]
"""

RULE_FILE = """
[[rules]]
name = "throttled"
measure = "throttles"
threshold = 0
"""

# The example `opsview rules test --help` shows, word for word.
TESTS = """
rule_files = ["opsview.toml"]

[[tests]]
name = "error spike is pending, then fires after 5m"
interval = "1m"
[[tests.series]]
function = "aws/123/us-east-1/checkout"
invocations = "100x20"
errors = "0x10 20x10"
throttles = "0x18 4"
[[tests.alerts]]
at = "12m"
rule = "high-error-rate"
firing = []
pending = ["aws/123/us-east-1/checkout"]
[[tests.alerts]]
at = "20m"
rule = "high-error-rate"
firing = ["aws/123/us-east-1/checkout"]
[[tests.alerts]]
at = "20m"
rule = "throttled"
firing = ["aws/123/us-east-1/checkout"]
"""


def opsview(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *map(str, args)], capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "opsview.toml").write_text(CONFIG.format(store=tmp_path / "store.db"), encoding="utf-8")
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "throttles.toml").write_text(RULE_FILE, encoding="utf-8")
    (tmp_path / "tests.toml").write_text(TESTS, encoding="utf-8")
    return tmp_path


def test_a_test_file_can_load_the_main_config_and_expect_pending(project: Path) -> None:
    result = opsview("rules", "test", project / "tests.toml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"PASS  {project / 'tests.toml'}: error spike is pending, then fires after 5m",
        "1 passed, 0 failed",
    ]


def test_a_wrong_pending_expectation_fails_with_what_was_pending(project: Path) -> None:
    tests = project / "tests.toml"
    tests.write_text(TESTS.replace('at = "12m"', 'at = "11m"'), encoding="utf-8")
    result = opsview("rules", "test", tests)
    assert result.returncode == 1
    assert "at 11m: rule 'high-error-rate' expected pending [aws/123/us-east-1/checkout], got []" in result.stdout
    # a pending alert is not firing, and unset `pending` is not checked: only the pending line fails
    assert "expected firing" not in result.stdout


def test_config_option_loads_the_configs_rules(project: Path) -> None:
    tests = project / "tests.toml"
    tests.write_text(TESTS.replace('rule_files = ["opsview.toml"]', ""), encoding="utf-8")
    without = opsview("rules", "test", tests)
    assert without.returncode == 1
    assert "no rule named 'high-error-rate'" in without.stdout
    result = opsview("rules", "test", "--config", project / "opsview.toml", tests)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_config_named_twice_counts_once_and_a_rule_defined_twice_is_a_file_error(project: Path) -> None:
    both = opsview("rules", "test", "--config", project / "opsview.toml", project / "tests.toml")
    assert both.returncode == 0, both.stdout + both.stderr

    tests = project / "tests.toml"
    tests.write_text(TESTS.replace("[[tests]]", '[[rules]]\nname = "throttled"\nmeasure = "errors"\nthreshold = 1\n\n'
                                   "[[tests]]", 1), encoding="utf-8")
    twice = opsview("rules", "test", tests)
    assert twice.returncode == 2
    assert twice.stderr == (
        f"opsview: {project / 'rules' / 'throttles.toml'}:3: rules[0].name: duplicate rule name 'throttled' "
        f"(also in {tests}:4)\n"
    )
