"""Alert records and events as people read them, wherever they are shown (check, TUI, web).

A record does not store its measure: it comes from the configured rule of the same name, and an
alert whose rule is gone from the config shows its plain number (`opsview.formatting` holds the unit rule).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from opsview.alert_records import AlertEvent, AlertRecord, Silence
from opsview.alerts.matching import silenced_by
from opsview.config import Config, RuleConfig
from opsview.formatting import NO_DATA, condition_text, measure_text

log = logging.getLogger(__name__)

Measures = Mapping[str, str]
"""Rule name -> measure."""


def rule_measures(rules: Iterable[RuleConfig]) -> dict[str, str]:
    return {rule.name: rule.measure for rule in rules}


def configured_measures(config: Config) -> dict[str, str]:
    """The measure of every configured rule; never raises (a viewer must open with a broken rule file).

    When a rule file cannot be read, the inline rules still count and the rest show plain numbers."""
    from opsview.alerts.rules import load_rules

    try:
        return rule_measures(load_rules(config))
    except Exception as exc:
        log.warning("alert rules not loaded (%s); their alerts show plain numbers", exc)
        return rule_measures(config.alerts.rules)


def record_condition(record: AlertRecord, measures: Measures) -> str:
    """"22.0 % > 5.0 %"; a resolved one "0.0 % ≤ 5.0 %"; "no data"."""
    return condition_text(measures.get(record.rule), record.value, record.op, record.threshold, record.state)


def event_value(event: AlertEvent, measures: Measures) -> str:
    return measure_text(measures.get(event.rule), event.value, missing=NO_DATA)


def mark_silenced(records: Sequence[AlertRecord], silences: Sequence[Silence], now: datetime) -> list[AlertRecord]:
    """Records as the silences active at `now` mute them (a silence added since the last check shows at once,
    one removed or expired since no longer does)."""
    active = [s for s in silences if s.active(now)]
    out = []
    for record in records:
        silenced = bool(active) and silenced_by(record.rule, record.key, active) is not None
        out.append(record if silenced == record.silenced else replace(record, silenced=silenced))
    return out
