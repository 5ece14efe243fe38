"""The "new error type" rule kind: engine, notifications, config and `opsview rules test`, on a real SQLite store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from opsview.alert_records import AlertState
from opsview.alerts.defaults import default_rules
from opsview.alerts.engine import evaluate
from opsview.alerts.ruletest import run_file
from opsview.config import ConfigError, NotifierConfig, RuleConfig, load_config
from opsview.error_records import ErrorCoverage, ErrorObservation
from opsview.schema import FunctionInfo, FunctionKey
from opsview.store import SQLiteStore

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
PAY = FunctionKey("aws", "111", "us-east-1", "payments-webhook")
API = FunctionKey("aws", "111", "us-east-1", "checkout-api")
NEW_SIG = "TypeError: capture_charge() missing <n> required positional argument: <str>"


def rule(**kw: Any) -> RuleConfig:
    return RuleConfig.model_validate({"name": "new-error-type", "kind": "new_error", "window": "1h", **kw})


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


def occur(store: SQLiteStore, key: FunctionKey, m: float, error_type: str, message: str, count: int = 1,
          request: str = "req-1") -> None:
    store.write_errors([ErrorObservation.of(key, minutes(m), error_type, message, count=count, sample_id=request)])


@pytest.fixture
def store(sqlite_store: SQLiteStore) -> SQLiteStore:
    sqlite_store.upsert_functions([FunctionInfo(PAY), FunctionInfo(API)])
    sqlite_store.record_error_coverage([ErrorCoverage((PAY, API), minutes(-180), minutes(240))])
    occur(sqlite_store, PAY, -90, "KeyError", "'user_1'", count=30)  # an old failure: never "new"
    occur(sqlite_store, PAY, 5, "KeyError", "'user_2'", count=30)
    return sqlite_store


def firing(store: SQLiteStore, name: str = "new-error-type") -> dict[FunctionKey, Any]:
    return {r.key: r for r in store.alert_records({AlertState.FIRING}) if r.rule == name}


def test_a_new_signature_fires_with_its_signature_and_sample_then_resolves_when_no_longer_new(
    store: SQLiteStore,
) -> None:
    occur(store, PAY, 10, "TypeError", "capture_charge() missing 1 required positional argument: 'currency'",
          count=2, request="req-9f2")
    notifier = NotifierConfig(type="stdout")
    r = rule(notify=["oncall"])
    ev = evaluate([r], store, minutes(11), notifiers={"oncall": notifier})
    [alert] = ev.firing()
    assert (alert.key, alert.value, alert.threshold, alert.op) == (PAY, 2, 1, ">=")
    assert alert.summary == f"aws/111/us-east-1/payments-webhook: new error type {NEW_SIG} (2 in 1h)"
    assert alert.description == "capture_charge() missing 1 required positional argument: 'currency'"
    [queued] = ev.queued
    [payload_alert] = queued.payload["alerts"]
    assert NEW_SIG in payload_alert["summary"]
    assert "'currency'" in payload_alert["description"]  # the sample, as logged

    evaluate([r], store, minutes(40))
    assert PAY in firing(store)
    later = evaluate([r], store, minutes(71))  # first seen 61 minutes ago: not new any more
    [resolved] = [x for x in later.records if x.key == PAY]
    assert resolved.state is AlertState.RESOLVED
    assert NEW_SIG in resolved.summary  # the resolve still says what it was about


def test_min_count_waits_for_enough_occurrences(store: SQLiteStore) -> None:
    occur(store, PAY, 10, "TypeError", "capture_charge() missing 1 required positional argument: 'x'", count=2)
    evaluate([rule(min_count=3)], store, minutes(11))
    assert firing(store) == {}
    occur(store, PAY, 11, "TypeError", "capture_charge() missing 1 required positional argument: 'y'")
    evaluate([rule(min_count=3)], store, minutes(12))
    assert firing(store)[PAY].value == 3


def test_old_failures_and_unwatched_functions_do_not_fire(sqlite_store: SQLiteStore) -> None:
    """A fresh store sees every signature for the first time: no alert storm on the first check."""
    sqlite_store.upsert_functions([FunctionInfo(PAY)])
    sqlite_store.record_error_coverage([ErrorCoverage((PAY,), minutes(0), minutes(60))])
    occur(sqlite_store, PAY, 1, "KeyError", "'a'", count=50)
    ev = evaluate([rule()], sqlite_store, minutes(30))
    assert ev.firing() == []


def test_match_limits_the_rule_and_metric_rules_are_unaffected(store: SQLiteStore) -> None:
    occur(store, PAY, 10, "TypeError", "boom")
    occur(store, API, 10, "Error", "connect ECONNREFUSED 10.0.0.1:6379")
    ev = evaluate([rule(match={"function": "checkout-*"}), *default_rules()[:1]], store, minutes(11))
    assert [(a.rule, a.key) for a in ev.firing()] == [("new-error-type", API)]
    assert ev.errors == ()


def test_the_default_pack_watches_new_error_types() -> None:
    [new] = [r for r in default_rules() if r.kind == "new_error"]
    assert (new.name, new.severity, new.window, new.min_count) == ("new-error-type", "warning", timedelta(hours=1), 1)
    assert "{signature}" in new.annotations["summary"]
    assert "{sample}" in new.annotations["description"]


@pytest.mark.parametrize(("extra", "message"), [
    ('measure = "errors"', 'alerts.rules[0]: measure: does not apply to kind "new_error"'),
    ("threshold = 5", 'alerts.rules[0]: threshold: does not apply to kind "new_error"'),
    ('datapoints = "3/5"', 'alerts.rules[0]: datapoints: does not apply to kind "new_error"'),
    ("min_count = 0", "alerts.rules[0].min_count: must be at least 1, got 0"),
])
def test_keys_that_do_not_apply_are_one_line_errors(tmp_path: Path, extra: str, message: str) -> None:
    path = tmp_path / "opsview.toml"
    path.write_text(f'[[alerts.rules]]\nname = "n"\nkind = "new_error"\n{extra}\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(f"{path}:")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_error_placeholders_belong_to_new_error_rules(tmp_path: Path) -> None:
    path = tmp_path / "opsview.toml"
    path.write_text('[[alerts.rules]]\nname = "n"\nmeasure = "errors"\nthreshold = 1\n'
                    'annotations = { summary = "{signature}" }\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r'\{signature\} is only known to kind = "new_error" rules'):
        load_config(path)


RULE_TEST = """
rule_files = ["rules.toml"]

[[tests]]
name = "a release brings a new error type"
interval = "1m"

[[tests.series]]
function = "aws/111/us-east-1/payments-webhook"
invocations = "100x150"
errors = "2x150"

[tests.series.error_signatures]
"KeyError: <str>" = "2x150"
"TypeError: price() got an unexpected keyword argument <str>" = "_x90 1x10"

[[tests.alerts]]
at = "80m"
rule = "new-error-type"
firing = []

[[tests.alerts]]
at = "95m"
rule = "new-error-type"
firing = ["aws/111/us-east-1/payments-webhook"]
"""

RULES = """
[[rules]]
name = "new-error-type"
kind = "new_error"
window = "1h"
"""


def test_rules_test_checks_a_new_error_rule_and_says_why_it_fails(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    path = tmp_path / "tests.toml"
    path.write_text(RULE_TEST, encoding="utf-8")
    [outcome] = run_file(path)
    assert outcome.ok, outcome.failures
    # KeyError has been there since the first bucket; it was never new. Expecting it to fire is caught:
    path.write_text(RULE_TEST.replace('at = "80m"', 'at = "30m"').replace("firing = []", 'firing = ["aws/111/us-'
                                                                                         'east-1/payments-webhook"]'),
                    encoding="utf-8")
    [outcome] = run_file(path)
    assert outcome.failures == (
        "at 30m: rule 'new-error-type' expected firing [aws/111/us-east-1/payments-webhook], got []",
    )
