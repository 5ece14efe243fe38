"""`opsview rules test`: unit tests for rules in the spirit of `promtool test rules`.

Each test writes its input series into a throwaway store, evaluates the rules at every interval from
the first bucket to the last expectation, and compares which functions are firing (and, where the test
says, pending) at each `at`. The rules come from the test file, the files its `rule_files` names (rule
files or the main config file, whose inline rules and rule files count) and `--config`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsview.alerts.engine import evaluate
from opsview.alerts.model import AlertState
from opsview.alerts.rules import load_rules, read_rule_file, resolve_globs
from opsview.config import ConfigError, RuleConfig
from opsview.config.alerts import RuleFile, RuleTestConfig, SeriesConfig
from opsview.config.loader import parse_config, parse_toml, read_text
from opsview.durations import format_duration
from opsview.schema import COUNT_MEASURES, FunctionInfo, FunctionKey, Sample
from opsview.store.sqlite import SQLiteStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)
_SERIES_MEASURES = (
    "invocations", "errors", "throttles", "cold_starts", "duration_p50_ms", "duration_p95_ms", "duration_p99_ms",
    "duration_max_ms", "duration_avg_ms",
)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    name: str
    failures: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def expand(text: str) -> list[float | None]:
    """`5 10x3 _ _x2` -> 5, 10, 10, 10, None, None, None (`_` = no bucket)."""
    out: list[float | None] = []
    for token in text.split():
        value, _, times = token.partition("x")
        try:
            count = int(times) if times else 1
            item = None if value == "_" else float(value)
        except ValueError:
            raise ValueError(f"bad series value {token!r} (expected V, VxN or _)") from None
        out.extend([item] * count)
    return out


def _samples(series: SeriesConfig, interval: timedelta) -> list[Sample]:
    key = FunctionKey.parse(series.function)
    columns = {name: expand(getattr(series, name)) for name in _SERIES_MEASURES}
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


def rules_of(path: Path) -> list[RuleConfig]:
    """The rules of a rule file, or of a main config file: its [[alerts.rules]] and the files its
    alerts.rule_files name (the two told apart as `opsview rules validate` does)."""
    text = read_text(path)
    if set(parse_toml(text, path)) <= set(RuleFile.model_fields):
        return list(read_rule_file(path).rules)
    return load_rules(parse_config(text, path))


def run_file(path: Path, extra_rules: Sequence[tuple[str, RuleConfig]] = ()) -> list[TestOutcome]:
    """Run the tests of one file over its rules plus `extra_rules` ((origin, rule) pairs, e.g. from --config).

    Raises ConfigError when the file (or a rule file it names) is invalid, or a rule name is defined twice."""
    parsed = read_rule_file(path)
    origins: dict[str, str] = {}
    rules: list[RuleConfig] = []
    sourced = [*extra_rules, *((str(path), r) for r in parsed.rules)]
    for extra in resolve_globs(list(parsed.rule_files), path.parent):
        sourced.extend((str(extra), r) for r in rules_of(extra))
    for origin, rule in sourced:
        if rule.name in origins:
            raise ConfigError(f"{path}: rule {rule.name!r} is defined twice (in {origins[rule.name]} and {origin})")
        origins[rule.name] = origin
        rules.append(rule)
    if not parsed.tests:
        raise ConfigError(f"{path}: no [[tests]] in this file")
    return [run_test(test, rules) for test in parsed.tests]
