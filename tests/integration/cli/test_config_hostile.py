"""Hostile config and rule files through the real command line: every one is a single line naming
file, line and key, the same line from `status`, `check` and `rules validate`, never a traceback.

Exit codes: 2 for every command, 3 (UNKNOWN, on stdout, the monitoring-plugin convention) for `check`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from opsview.cli import main

pytestmark = pytest.mark.integration

RULE = '[[alerts.rules]]\nname = "r"\nmeasure = "errors"\nthreshold = 1\n'


@dataclass(frozen=True)
class Case:
    config: str
    line: str
    """Regex of the one line, after the config path (`{path}` stands for it where it recurs)."""
    files: dict[str, str] = field(default_factory=dict)
    """Further files beside the config (rule files), name -> text."""
    rule_files: bool = False
    """The problem is in what `alerts.rule_files` names: only commands that evaluate rules read those (a
    broken rule file must not stop `collect`), so `status` is not asked."""


CASES: dict[str, Case] = {
    # 16.5: durations and numbers that make no sense
    "negative retention": Case("[store]\nretention = -60\n", r":2: store\.retention: must be at least 1h, got -1m$"),
    "zero retention": Case("[store]\nretention = '0s'\n", r":2: store\.retention: must be at least 1h, got 0s$"),
    "negative lock_wait": Case("[alerts]\nlock_wait = -5\n", r":2: alerts\.lock_wait: must not be negative, got -5s$"),
    "zero interval": Case('[collect]\ninterval = "0"\n', r":2: collect\.interval: must be at least 1s, got 0s$"),
    "nan threshold": Case(RULE.replace("threshold = 1", "threshold = nan"),
                          r":4: alerts\.rules\[0\]\.threshold: expected a finite number, got nan$"),
    "inf threshold": Case(RULE.replace("threshold = 1", "threshold = -inf"),
                          r":4: alerts\.rules\[0\]\.threshold: expected a finite number, got -inf$"),
    "1e300 threshold": Case(RULE.replace("threshold = 1", "threshold = 1e300"),
                            r":4: alerts\.rules\[0\]\.threshold: must be at most 1e\+15, got 1e\+300$"),
    "1e300 seconds": Case("[store]\nretention = 1e300\n",
                          r":2: store\.retention: duration of 1e\+300 seconds is too long$"),
    "huge day count": Case('[store]\nretention = "99999999999999d"\n',
                           r':2: store\.retention: duration "99999999999999d" is too long$'),
    "400-digit duration": Case(f'[collect]\nsince = "{"9" * 400}s"\n',
                               r':2: collect\.since: duration "9{37}\.\.\." is too long$'),
    "inf seconds": Case("[collect]\ninterval = inf\n",
                        r":2: collect\.interval: expected a duration \(e\.g\. 30s, 5m, 1h30m, 7d\), got inf$"),
    "huge interval": Case('[collect]\ninterval = "400d"\n', r":2: collect\.interval: must be at most 1d, got 400d$"),
    "negative for": Case(RULE + "for = -300\n", r":5: alerts\.rules\[0\]\.for: must not be negative, got -5m$"),
    "sub-minute window": Case(RULE + 'window = "30s"\n',
                              r":5: alerts\.rules\[0\]\.window: must be at least 1m, got 30s$"),
    "zero timeout": Case('[notifiers.n]\ntype = "stdout"\ntimeout = "0s"\n',
                         r":3: notifiers\.n\.timeout: must be at least 100ms, got 0s$"),
    "zero repeat": Case('[notifiers.n]\ntype = "stdout"\nrepeat_interval = 0\n',
                        r":3: notifiers\.n\.repeat_interval: must be at least 1m, got 0s$"),
    "huge int": Case("[collect]\nconcurrency = 100000000000000000000000000000\n",
                     r":2: collect\.concurrency: must be at most 64, got 100000000000000000000000000000$"),
    "5000-digit int": Case(f"[collect]\nconcurrency = {'9' * 5000}\n",
                           r":2: TOML value error: a number with thousands of digits$"),
    "negative seed": Case("[[sources.demo]]\nseed = -1\n",
                          r":2: sources\.demo\[0\]\.seed: must be at least 0, got -1$"),
    "nan price": Case("[pricing.aws]\nper_million_requests = nan\nper_gb_second = 0\n",
                      r":2: pricing\.aws\.per_million_requests: expected a finite number, got nan$"),
    "percent error rate": Case(RULE.replace('"errors"', '"error_rate"').replace("threshold = 1", "threshold = 5"),
                               r":4: alerts\.rules\[0\]\.threshold: error_rate is a fraction \(0\.05 = 5%\): "
                               r"threshold 5 is never reached \(expected 0 to 1\)$"),
    "retention below since": Case('[store]\nretention = "1h"\n[collect]\nsince = "2h"\n',
                                  r":2: store\.retention: store\.retention \(1h\) is shorter than "
                                  r"collect\.since \(2h\): "
                                  r"a first collection would delete the samples it just wrote$"),
    "rule reads past retention": Case('[store]\nretention = "1d"\n' + RULE + 'window = "2d"\n',
                                      r":7: alerts\.rules\[0\]\.window: the rule looks back 2d but store\.retention "
                                      r"keeps only 1d: it would read a span the store no longer holds$"),
    "datapoints past 90d": Case(RULE + 'window = "1d"\ndatapoints = "1/100"\n',
                                r":1: alerts\.rules\[0\]: the rule looks back 100d .*more than 90d$"),
    # 16.6: shapes `rules validate` used to call ok (or crash on)
    "rules = 5": Case("[alerts]\nrules = 5\n", r":2: alerts\.rules: expected a list, got 5$"),
    "rules as a table": Case('[alerts.rules]\nname = "a"\n', r":1: alerts\.rules: expected a list, got a table$"),
    "notifiers = 5": Case("notifiers = 5\n", r":1: notifiers: expected a table, got 5$"),
    "notifier not a table": Case('[notifiers]\noncall = "x"\n', r':2: notifiers\.oncall: expected a table, got "x"$'),
    "duplicate rule": Case(RULE + "\n" + RULE,
                           r":7: alerts\.rules\[1\]\.name: duplicate rule name 'r' \(also in {path}:1\)$"),
    "duplicate rule across files": Case(
        '[alerts]\nrule_files = ["more.toml"]\n\n' + RULE,
        r"more\.toml:3: rules\[0\]\.name: duplicate rule name 'r' \(also in {path}:4\)$",
        {"more.toml": '# team rules\n[[rules]]\nname = "r"\nmeasure = "errors"\nthreshold = 2\n'}, rule_files=True,
    ),
    "unknown notifier": Case(RULE + 'notify = ["pager"]\n',
                             r":5: alerts\.rules\[0\]\.notify\[0\]: unknown notifier 'pager' "
                             r"\(no \[notifiers\.\*\] defined\)$"),
    "unknown notifier in a rule file": Case(
        '[notifiers.chat]\ntype = "stdout"\n[alerts]\nrule_files = ["r.toml"]\n',
        r"r\.toml:5: rules\[0\]\.notify\[1\]: unknown notifier 'pager' \(defined: chat\)$",
        {"r.toml": '[[rules]]\nname = "x"\nmeasure = "errors"\nthreshold = 1\nnotify = ["chat", "pager"]\n'},
        rule_files=True,
    ),
    "missing rule file": Case('[alerts]\nrule_files = ["gone.toml"]\n',
                              r":2: alerts\.rule_files\[0\]: .*gone\.toml: rule file not found$", rule_files=True),
    "duplicate source": Case('[[sources.demo]]\nname = "x"\n\n[[sources.gcp]]\nname = "x"\nproject_id = "p"\n',
                             r":5: sources\.gcp\[0\]\.name: duplicate source name 'x' \(also on line 2\): "
                             r"give each source a unique name$"),
    "unknown source type": Case('[[sources.oracle]]\nname = "x"\n',
                                r":1: sources\.oracle: unknown key \(expected one of: demo, aws, azure, gcp\)$"),
    "webhook url not a url": Case('[notifiers.hook]\ntype = "webhook"\nurl = "not a url"\n',
                                  r":3: notifiers\.hook\.url: not a URL \(it contains spaces or control characters\)$"),
    "webhook url without scheme": Case('[notifiers.hook]\ntype = "webhook"\nurl = "hooks.example.com/x"\n',
                                       r":3: notifiers\.hook\.url: not an http\(s\) URL"),
    "webhook url bad port": Case('[notifiers.hook]\ntype = "webhook"\nurl = "http://h:99999/x"\n',
                                 r":3: notifiers\.hook\.url: not a URL \(Port out of range 0-65535\)$"),
    "header injection": Case('[notifiers.hook]\ntype = "webhook"\nurl = "http://h/x"\n'
                             'headers = { Authorization = "Bearer s3cret\\r\\nX-Evil: 1" }\n',
                             r":4: notifiers\.hook\.headers: header 'Authorization': the value must be one line "
                             r"\(no CR, LF or NUL\)$"),
    "apprise url without scheme": Case('[notifiers.chat]\ntype = "apprise"\nurls = ["TokenA/TokenB"]\n',
                                       r":3: notifiers\.chat\.urls: urls\[0\]: not an Apprise URL"),
    "the loader's own key": Case('path = "/etc/passwd"\n', r":1: path: unknown key \(expected one of: store, "),
    # the file itself
    "toml nested too deep": Case("a = " + "[" * 5000 + "]" * 5000 + "\n",
                                 r": TOML syntax error: arrays or tables nested too deep$"),
    "not utf-8": Case("", r": not UTF-8 text"),  # bytes written below
    "a directory": Case("", r": is a directory, not a file$"),  # made below
    "unreadable": Case("", r": cannot read \(.+\)$"),  # made below
}


def write_case(name: str, case: Case, tmp_path: Path) -> Path:
    for file, text in case.files.items():
        (tmp_path / file).write_text(text, encoding="utf-8")
    config = tmp_path / "opsview.toml"
    if name == "not utf-8":
        config.write_bytes(b"[store]\nurl = '\xff\xfe'\n")
    elif name == "a directory":
        config.mkdir()
    elif name == "unreadable":
        if os.geteuid() == 0:  # root reads any mode; the kernel refuses this regular file to everyone
            return Path("/proc/self/mem")
        config.write_text("[store]\n", encoding="utf-8")
        config.chmod(0)
    else:
        config.write_text(case.config, encoding="utf-8")
    return config


def expected_line(case: Case, config: Path) -> re.Pattern[str]:
    pattern = case.line.replace("{path}", re.escape(str(config)))
    prefix = "" if pattern.startswith(("more", "r\\.")) else re.escape(str(config))
    return re.compile(("^.*" if not prefix else "^" + prefix) + pattern)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_command_refuses_the_file_with_the_same_one_line(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    config = write_case(name, case, tmp_path)
    pattern = expected_line(case, config)
    runner = CliRunner()
    store = str(tmp_path / "store.db")

    check = runner.invoke(main, ["check", "--no-collect", "--config", str(config), "--store", store])
    assert check.exit_code == 3, check.output
    (unknown,) = check.stdout.splitlines()
    assert unknown.startswith("UNKNOWN: ")
    line = unknown.removeprefix("UNKNOWN: ")
    assert pattern.search(line), line
    assert check.stderr == ""

    status = runner.invoke(main, ["status", "--config", str(config), "--store", store])
    assert status.exit_code == 2, status.output
    assert isinstance(status.exception, SystemExit), status.exception
    if not case.rule_files:
        assert status.stderr.splitlines() == [f"opsview: {line}"]

    validate = runner.invoke(main, ["rules", "validate", str(config)])
    assert validate.exit_code == 2, validate.output
    assert validate.stdout == ""
    first, *rest = validate.stderr.splitlines()
    assert first == line.split(" (+")[0]  # a command shows the first problem, validate lists every one
    assert rest[-1].endswith("found")
    assert "Traceback" not in status.output + check.output + validate.output
    assert "Traceback" not in status.stderr + check.stderr + validate.stderr


def test_hostile_input_count() -> None:
    """The closing note of issue 16 counts these: keep the figure honest when cases are added."""
    assert len(CASES) >= 45


def test_a_negative_retention_no_longer_deletes_the_store(tmp_path: Path) -> None:
    """`retention = -60` used to delete every sample at the next collection, the ones just written too."""
    store = tmp_path / "fleet.db"
    filled = subprocess.run([sys.executable, "-m", "opsview", "demo", "--collect-only", "--hours", "2",
                             "--store", str(store)], capture_output=True, text=True, timeout=300, check=False)
    assert filled.returncode == 0, filled.stderr
    _maintenance_due(store)  # as in a store last maintained over an hour ago: the next collection maintains
    before = _sample_count(store)
    assert before > 1000
    config = tmp_path / "opsview.toml"
    config.write_text("[store]\nretention = -60\n\n[[sources.demo]]\n", encoding="utf-8")
    collect = subprocess.run([sys.executable, "-m", "opsview", "collect", "--config", str(config), "--store",
                              str(store)], capture_output=True, text=True, timeout=300, check=False)
    assert collect.returncode == 2
    assert collect.stderr == f"opsview: {config}:2: store.retention: must be at least 1h, got -1m\n"
    assert _sample_count(store) == before


def _maintenance_due(path: Path) -> None:
    import apsw

    conn = apsw.Connection(str(path))
    try:
        conn.execute("DELETE FROM meta WHERE key = 'last_maintenance'")
    finally:
        conn.close()


def _sample_count(path: Path) -> int:
    import apsw

    conn = apsw.Connection(str(path), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(next(conn.execute("SELECT count(*) FROM samples"))[0])
    finally:
        conn.close()


def test_a_config_directory_is_one_line_for_a_real_process_too(tmp_path: Path) -> None:
    config = tmp_path / "opsview.toml"
    config.mkdir()
    env = {**os.environ, "OPSVIEW_CONFIG": str(config)}
    status = subprocess.run([sys.executable, "-m", "opsview", "status", "--store", str(tmp_path / "s.db")],
                            capture_output=True, text=True, timeout=120, env=env, check=False)
    assert (status.returncode, status.stderr) == (
        2, f"opsview: {config}: is a directory, not a file (from $OPSVIEW_CONFIG)\n")
    check = subprocess.run([sys.executable, "-m", "opsview", "check", "--no-collect", "--config", str(config)],
                           capture_output=True, text=True, timeout=120, check=False)
    assert (check.returncode, check.stdout, check.stderr) == (3, f"UNKNOWN: {config}: is a directory, not a file\n", "")


@pytest.mark.parametrize(("option", "value"), [("--since", "99999999999d"), ("--since", "4000d")])
def test_duration_options_past_ten_years_are_a_usage_error(option: str, value: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["collect", option, value, "--store", str(tmp_path / "s.db")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert re.search(r"duration (must be at most 3650d|\"99999999999d\" is too long)", result.output), result.output


def test_rule_test_series_cannot_ask_for_billions_of_values(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[[rules]]\nname = "r"\nmeasure = "errors"\nthreshold = 1\n\n[[tests]]\nname = "t"\n'
                    '[[tests.series]]\nfunction = "aws/1/r/f"\ninvocations = "1x99999999999"\n', encoding="utf-8")
    result = CliRunner().invoke(main, ["rules", "test", str(path)])
    assert result.exit_code == 2
    assert result.stderr == (f"opsview: {path}:10: tests[0].series[0].invocations: series '1x99999999999': "
                             "at most 100000 values in one series\n")
