"""`opsview rules test`: unit tests for rules in the spirit of `promtool test rules`.

Each test writes its input series into a throwaway store, evaluates the rules at every interval from
the first bucket to the last expectation, and compares which functions are firing (and, where the test
says, pending) at each `at`. The rules come from the test file, the files its `rule_files` names (rule
files or the main config file, whose inline rules and rule files count) and `--config`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsview.alert_records import AlertState
from opsview.alerts.engine import evaluate
from opsview.alerts.rules import load_rule_test
from opsview.config import Config, ConfigError, RuleConfig
from opsview.config.alerts import SERIES_MEASURES, RuleTestConfig, SeriesConfig, expand_series
from opsview.durations import format_duration
from opsview.error_records import ErrorCoverage, ErrorObservation
from opsview.schema import COUNT_MEASURES, FunctionInfo, FunctionKey, Sample, floor_time
from opsview.store.sqlite import SQLiteStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    name: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def _samples(series: SeriesConfig, interval: timedelta) -> list[Sample]:
    key = FunctionKey.parse(series.function)
    columns = {name: expand_series(getattr(series, name)) for name in SERIES_MEASURES}
    length = max((len(v) for v in columns.values()), default=0)
    out = []
    for i in range(length):
        values = {n: (col[i] if i < len(col) else None) for n, col in columns.items()}
        if all(v is None for v in values.values()):
            continue  # no bucket at all, as a provider leaves an idle minute
        kwargs: dict[str, Any] = {
            n: (None if v is None else int(v) if n in COUNT_MEASURES else v) for n, v in values.items()
        }
        out.append(Sample(key=key, start=T0 + i * interval, period_s=int(interval.total_seconds()), **kwargs))
    return out


def _errors(series: SeriesConfig, interval: timedelta) -> list[ErrorObservation]:
    key = FunctionKey.parse(series.function)
    out = []
    for signature, text in series.error_signatures.items():
        for i, count in enumerate(expand_series(text)):
            if count:
                at = floor_time(T0 + i * interval, 60)
                out.append(ErrorObservation(key, at, signature, None, int(count), signature, None, at))
    return out


def _watched(test: RuleTestConfig) -> list[ErrorCoverage]:
    """Every series' function has had its errors searched from the first bucket to the last expectation."""
    last = max((e.at for e in test.alerts), default=timedelta(0)) + test.interval
    keys = tuple(FunctionKey.parse(s.function) for s in test.series)
    return [ErrorCoverage(keys, T0, T0 + last)] if keys else []


def run_test(test: RuleTestConfig, rules: list[RuleConfig]) -> TestOutcome:
    failures: list[str] = []
    names = {r.name for r in rules}
    for expect in test.alerts:
        if expect.rule not in names:
            failures.append(f"at {format_duration(expect.at)}: no rule named {expect.rule!r}")
    if failures:
        return TestOutcome(test.name, tuple(failures))
    with tempfile.TemporaryDirectory(prefix="opsview-ruletest-") as tmp:
        store = SQLiteStore(Path(tmp) / "test.db")
        try:
            try:
                store.upsert_functions(
                    FunctionInfo(FunctionKey.parse(s.function), timeout_s=s.timeout_s, memory_mb=s.memory_mb,
                                 labels=s.labels)
                    for s in test.series
                )
                store.write_samples(s for series in test.series for s in _samples(series, test.interval))
                store.write_errors(o for series in test.series for o in _errors(series, test.interval))
                store.record_error_coverage(_watched(test))
            except ValueError as exc:
                return TestOutcome(test.name, (str(exc),))
            last = max((e.at for e in test.alerts), default=timedelta(0))
            times = {test.interval * k for k in range(1, int(last / test.interval) + 1)} | {e.at for e in test.alerts}
            expectations = sorted(test.alerts, key=lambda e: e.at)
            for offset in sorted(times):
                evaluation = evaluate(rules, store, T0 + offset)
                for expect in (e for e in expectations if e.at == offset):
                    checks = [(AlertState.FIRING, expect.firing)]
                    if expect.pending is not None:  # unset: pending alerts are not checked
                        checks.append((AlertState.PENDING, expect.pending))
                    for state, functions in checks:
                        got = sorted(str(r.key) for r in evaluation.records if r.rule == expect.rule
                                     and r.state is state)
                        wanted = sorted(str(FunctionKey.parse(f)) for f in functions)
                        if got != wanted:
                            failures.append(
                                f"at {format_duration(offset)}: rule {expect.rule!r} expected {state} "
                                f"[{', '.join(wanted)}], got [{', '.join(got)}]"
                            )
        finally:
            store.close()
    return TestOutcome(test.name, tuple(failures))


def run_file(path: Path, config: Config | None = None) -> list[TestOutcome]:
    """Run the tests of one file over its rules (and those of `config`, from `rules test --config`).

    Raises ConfigError when the file (or a file it names) is invalid, or a rule name is defined twice."""
    parsed, rules = load_rule_test(path, config)
    if not parsed.tests:
        raise ConfigError(f"{path}: no [[tests]] in this file")
    return [run_test(test, rules) for test in parsed.tests]
