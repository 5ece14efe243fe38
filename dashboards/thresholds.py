"""Which alert rules a Functions-grid row is over: each rule's threshold against the row's own numbers.

The grid shows a window the user picked, not the rule's, so this is a reading aid, not an alert
(the Alerts page shows what `opsview check` found firing). Per matching rule:

- rates, ratios and durations (error_rate, cold_start_rate, duration_p99_ms, timeout_ratio, ...)
  are compared as the row has them over the view's window;
- totals (invocations, errors, throttles, cold_starts, billed_ms, cost_usd) are first brought to
  the rule's window: the row's total × rule window / view window, the view's average per rule
  window (a rule "throttles > 0 over 5m" marks a row with 3 throttles in the last hour);
- `for`, `datapoints` and `missing` are not applied, and a rule with a `previous` condition is left
  out: it compares the window with the span before it, which one row does not hold;
- a measure the row has no value for (None) crosses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from opsview.alerts.engine import SCALAR_OPS
from opsview.alerts.matching import matches
from opsview.config import PricingConfig, RuleConfig
from opsview.fleet import FunctionStatus
from opsview.schema import AGGREGATION, Agg, measure_value

# The grid column that shows each measure (where one does): the cell gets the mark too.
COLUMN_OF: Final[Mapping[str, str]] = {
    "invocations": "inv_min", "error_rate": "err", "throttles": "thr", "cold_start_rate": "cold",
    "duration_p50_ms": "p50", "duration_p95_ms": "p95", "duration_p99_ms": "p99", "duration_max_ms": "max",
    "cost_usd": "cost_h",
}
_TOTALS: Final = frozenset({name for name, rule in AGGREGATION.items() if rule.kind is Agg.SUM} | {"cost_usd"})


@dataclass(frozen=True, slots=True)
class Crossing:
    rule: str
    measure: str
    value: float  # as compared: per the rule's window for totals


def markable(rules: Sequence[RuleConfig]) -> list[RuleConfig]:
    """Rules a row's own numbers can be held against: a threshold on a measure, with no `previous` span
    (new-error-type rules compare no number)."""
    return [r for r in rules if r.kind == "measure" and r.previous is None]


def crossings(status: FunctionStatus, rules: Sequence[RuleConfig], pricing: PricingConfig) -> list[Crossing]:
    """The rules among `markable(rules)` whose threshold the row crosses, in the rules' order."""
    out: list[Crossing] = []
    for rule in rules:
        if not matches(rule.match, status.info):
            continue
        if rule.measure == "cost_usd":
            value = status.cost_usd
        else:
            value = measure_value(rule.measure, status.measures, status.info,
                                  pricing.price(status.key.provider))
        if value is None:
            continue
        compared = float(value)
        if rule.measure in _TOTALS:
            compared *= rule.window / status.window
        if SCALAR_OPS[rule.op](compared, rule.threshold):
            out.append(Crossing(rule.name, rule.measure, compared))
    return out
