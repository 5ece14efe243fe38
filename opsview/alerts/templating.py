"""Annotation templates: `{function}`, `{value}`, `{threshold}`, `{condition}`, `{window}` (and a few more).

Every notifier's text comes from here, so the unit rule of `opsview.formatting` reaches them all:
`{value}` and `{threshold}` without a format spec read in the measure's unit ("22.0 %", "2.60 s",
"$0.0042"); with one (`{value:.1%}`) they format as the plain number they are.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import timedelta
from functools import lru_cache
from typing import Any

from opsview.durations import format_duration
from opsview.formatting import NO_DATA, condition_text, measure_text
from opsview.schema import FunctionKey

NO_DATA_TEMPLATE = "{function}: " + NO_DATA + " for {measure} over {window}"
"""What an annotation that shows `{value}` reads when there is no value (instead of "no data throttled …")."""


class _Number(float):
    """A float that prints in its measure's unit unless the template gives a format (`{value:.1%}`)."""

    measure: str | None

    def __new__(cls, value: float, measure: str | None) -> _Number:
        number = super().__new__(cls, value)
        number.measure = measure
        return number

    def __format__(self, spec: str) -> str:
        return format(float(self), spec) if spec else measure_text(self.measure, float(self))

    def __str__(self) -> str:
        return format(self, "")


class _Missing(str):
    def __format__(self, spec: str) -> str:
        return str(self)


class _Fields(dict[str, Any]):
    """A record's fields; `{condition}` is built only when a template asks for it (thousands of records
    per evaluation, most rendering a template without it)."""

    condition: tuple[str | None, float | None, str, float, str | None] | None = None

    def __missing__(self, name: str) -> str:
        if name == "condition" and self.condition is not None:
            text = condition_text(*self.condition)
            self[name] = text
            return text
        return "{" + name + "}"


def rule_fields(
    rule: str, severity: str, measure: str, threshold: float, window: timedelta, op: str = ">"
) -> Mapping[str, Any]:
    """The fields every record of one rule shares; `record_fields` adds a record's own."""
    return {
        "threshold": _Number(threshold, measure), "window": format_duration(window), "rule": rule,
        "severity": severity, "measure": measure, "op": op,
    }


def record_fields(
    shared: Mapping[str, Any], key: FunctionKey, value: float | None, state: str | None = None
) -> Mapping[str, Any]:
    """`state` (the record's) lets `{condition}` of a resolved alert read "0.0 % ≤ 5.0 %"."""
    measure = shared.get("measure")
    fields = _Fields(
        shared, function=str(key), provider=key.provider, account=key.account, region=key.region, name=key.name,
        value=_Missing(NO_DATA) if value is None else _Number(value, measure),
    )
    fields.condition = (measure, value, shared.get("op", ">"), float(shared["threshold"]), state)
    return fields


@lru_cache(maxsize=256)
def _shows_value(template: str) -> bool:
    try:
        return any(name is not None and name.split(".")[0].split("[")[0] == "value"
                   for _, name, _, _ in string.Formatter().parse(template))
    except ValueError:
        return False


def error_fields(
    fields: Mapping[str, Any], signature: str, sample: str | None, sample_id: str | None
) -> Mapping[str, Any]:
    """A new_error rule's record fields, with the new signature, its latest sample and that sample's request id."""
    return _Fields(fields, signature=signature, sample=_Missing("no sample") if sample is None else sample,
                   sample_id=_Missing("—") if sample_id is None else sample_id)


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Never raises: a template that cannot render (checked by `rules validate`) is returned as written.

    Without a value, a template that shows `{value}` gives way to NO_DATA_TEMPLATE: its words were
    written around a number ("{value:.0f} throttled requests") and would not read with "no data" in it.
    """
    if isinstance(fields.get("value"), _Missing) and _shows_value(template):
        template = NO_DATA_TEMPLATE
    try:
        return template.format_map(fields)
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return template
