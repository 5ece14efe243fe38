"""Which alert thresholds a Functions-grid row crosses (the README's "Functions" paragraph says the same)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from opsview.config import Config, RuleConfig
from opsview.fleet import FunctionStatus, status_of
from opsview.schema import FunctionInfo, FunctionKey, Measures
from opsview.store import FleetRow
from opsview.web.thresholds import crossings, markable

PRICING = Config().pricing
KEY = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")


def _row(window: timedelta = timedelta(hours=1), labels: dict[str, str] | None = None, **measures: Any
         ) -> FunctionStatus:
    info = FunctionInfo(KEY, timeout_s=10.0, memory_mb=1024, labels=labels or {})
    return status_of(FleetRow(info, Measures(**measures), buckets=60), window, PRICING)


def _rule(**fields: Any) -> RuleConfig:
    return RuleConfig.model_validate({"name": "r", "op": ">", **fields})


def _names(status: FunctionStatus, *rules: RuleConfig) -> list[str]:
    return [c.rule for c in crossings(status, markable(rules), PRICING)]


def test_rates_and_durations_are_compared_as_the_row_shows_them() -> None:
    row = _row(invocations=1000, errors=60, duration_p99_ms=9000.0)
    assert _names(row, _rule(name="errors", measure="error_rate", threshold=0.05)) == ["errors"]
    assert _names(row, _rule(name="errors", measure="error_rate", threshold=0.06)) == []  # 6 % is not > 6 %
    assert _names(row, _rule(name="slow", measure="duration_p99_ms", threshold=5000)) == ["slow"]
    # p99 9 s against a 10 s timeout
    assert _names(row, _rule(name="near", measure="timeout_ratio", threshold=0.8)) == ["near"]


def test_totals_are_brought_to_the_rules_window() -> None:
    """3 throttles over the hour viewed is 0.25 per 5 minutes: over "throttles > 0 over 5m", under "> 1"."""
    row = _row(invocations=1000, throttles=3)
    assert _names(row, _rule(name="any", measure="throttles", window="5m", threshold=0)) == ["any"]
    assert _names(row, _rule(name="many", measure="throttles", window="5m", threshold=1)) == []
    # 1,000 invocations an hour is 2,000 per 2 h: crosses 1,500 over 2h, not 1,500 over 1h
    assert _names(row, _rule(name="busy", measure="invocations", window="2h", threshold=1500)) == ["busy"]
    assert _names(row, _rule(name="busy", measure="invocations", window="1h", threshold=1500)) == []


def test_missing_values_cross_nothing() -> None:
    row = _row(invocations=None, errors=None)
    rules = (_rule(name="errors", measure="error_rate", threshold=0.0),
             _rule(name="quiet", measure="invocations", op="<", threshold=10))
    assert _names(row, *rules) == []


def test_rules_that_do_not_match_or_need_the_span_before_are_left_out() -> None:
    row = _row(invocations=0, labels={"team": "payments"})
    other_team = _rule(name="other", measure="invocations", op="==", threshold=0, match={"labels": {"team": "ops"}})
    stopped = _rule(name="stopped", measure="invocations", op="==", threshold=0,
                    previous={"window": "1h", "op": ">", "threshold": 60})
    idle = _rule(name="idle", measure="invocations", op="==", threshold=0, match={"provider": "aws"})
    assert markable([other_team, stopped, idle]) == [other_team, idle]
    assert _names(row, other_team, stopped, idle) == ["idle"]


def test_cost_is_the_rows_estimate_per_rule_window() -> None:
    row = _row(invocations=3_600_000, billed_ms=3_600_000 * 100.0, duration_avg_ms=100.0)
    assert row.cost_usd is not None
    per_minute = row.cost_usd / 60
    rule = _rule(name="spend", measure="cost_usd", window="1m", threshold=per_minute * 0.99)
    [crossing] = crossings(row, [rule], PRICING)
    assert abs(crossing.value - per_minute) < 1e-9
