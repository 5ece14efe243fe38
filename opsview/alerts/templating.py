"""Annotation templates: `{function}`, `{value}`, `{threshold}`, `{window}` (and a few more)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from opsview.durations import format_duration
from opsview.schema import FunctionKey


class _Number(float):
    """A float that prints with 4 significant digits unless the template gives a format (`{value:.1%}`)."""

    def __format__(self, spec: str) -> str:
        return format(float(self), spec or ".4g")

    def __str__(self) -> str:
        return format(self, "")


class _Missing(str):
    def __format__(self, spec: str) -> str:
        return str(self)


class _Fields(dict[str, Any]):
    def __missing__(self, name: str) -> str:
        return "{" + name + "}"


def rule_fields(rule: str, severity: str, measure: str, threshold: float, window: timedelta) -> Mapping[str, Any]:
    """The fields every record of one rule shares; `record_fields` adds a record's own."""
    return {
        "threshold": _Number(threshold), "window": format_duration(window), "rule": rule, "severity": severity,
        "measure": measure,
    }


def record_fields(shared: Mapping[str, Any], key: FunctionKey, value: float | None) -> Mapping[str, Any]:
    return _Fields(
        shared, function=str(key), provider=key.provider, account=key.account, region=key.region, name=key.name,
        value=_Missing("no data") if value is None else _Number(value),
    )


def error_fields(
    fields: Mapping[str, Any], signature: str, sample: str | None, sample_id: str | None
) -> Mapping[str, Any]:
    """A new_error rule's record fields, with the new signature, its latest sample and that sample's request id."""
    return _Fields(fields, signature=signature, sample=_Missing("no sample") if sample is None else sample,
                   sample_id=_Missing("—") if sample_id is None else sample_id)


def render(template: str, fields: Mapping[str, Any]) -> str:
    """Never raises: a template that cannot render (checked by `rules validate`) is returned as written."""
    try:
        return template.format_map(fields)
    except (ValueError, KeyError, IndexError, AttributeError, TypeError):
        return template
