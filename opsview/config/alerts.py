"""`[[alerts.rules]]` and `[notifiers.*]`: the file format of alerting."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from opsview.config.base import Duration, Model
from opsview.config.sources import StrList
from opsview.schema import ALL_MEASURES

_DATAPOINTS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


class MatchConfig(Model):
    provider: str | None = None
    """aws, azure, gcp or demo; unset = any."""
    account: str | None = None
    """Account id / subscription id / project id glob."""
    region: str | None = None
    """Region glob."""
    function: str | None = None
    """Function name glob (Azure names are app/function)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels (tags) the function must carry."""


class RuleConfig(Model):
    name: str
    """Unique rule name; used by silences and in notifications."""
    measure: str
    """Any schema measure (invocations, errors, duration_p99_ms, ...) or derived one
    (error_rate, throttle_rate, cold_start_rate, timeout_ratio, cost_usd)."""
    match: MatchConfig = Field(default_factory=MatchConfig)
    """Which functions the rule watches."""
    window: Duration = timedelta(minutes=5)
    """Span the measure is aggregated over at each evaluation."""
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    """Comparison of the measure against the threshold that counts as breaching."""
    threshold: float
    """Value compared against."""
    for_: Duration = Field(default=timedelta(0), alias="for")
    """How long the condition must hold before the alert fires; "0s" fires at once."""
    datapoints: str | None = None
    """"M/N": fire when M of the last N buckets breach (CloudWatch's datapoints to alarm)."""
    missing: Literal["ignore", "breaching", "ok"] = "ignore"
    """What no data means (CloudWatch's TreatMissingData): keep state, breach, or ok."""
    severity: Literal["warning", "critical"] = "warning"
    """warning makes `opsview check` exit 1 while firing, critical exits 2."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels attached to the alert."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """summary / description, templated with {function} {value} {threshold} {window}."""
    notify: StrList = Field(default_factory=list)
    """Names of [notifiers.*] to tell."""

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        if value not in ALL_MEASURES:
            raise ValueError(f"unknown measure {value!r} (expected one of: {', '.join(ALL_MEASURES)})")
        return value

    @field_validator("datapoints")
    @classmethod
    def _m_of_n(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _DATAPOINTS.match(value)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise ValueError(f'invalid datapoints "{value}" (expected "M/N" with 1 <= M <= N, e.g. "3/5")')
        return f"{match.group(1)}/{match.group(2)}"


class AlertsConfig(Model):
    rules: list[RuleConfig] = Field(default_factory=list)
    """Rules defined inline."""
    rule_files: StrList = Field(default_factory=list)
    """Globs of further rule files (each holding [[rules]]), relative to this config file."""
    collect_before_check: bool = True
    """Whether `opsview check` collects first (override with --collect/--no-collect)."""


class NotifierConfig(Model):
    type: Literal["webhook", "apprise", "stdout", "jsonl"]
    """webhook POSTs JSON; apprise takes any Apprise URL (Slack, Teams, PagerDuty, email, ...);
    stdout and jsonl write one JSON object per notification for pipelines."""
    url: str | None = None
    """Target URL (webhook, apprise)."""
    urls: StrList = Field(default_factory=list)
    """Several Apprise URLs."""
    path: str | None = None
    """File to append to (jsonl)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers (webhook)."""
    repeat_interval: Duration = timedelta(hours=4)
    """Re-send a still-firing alert only after this long."""
    group_by: StrList = Field(default_factory=lambda: ["rule"])
    """Alerts sharing these labels go out in one message (rule, severity, provider, account, region, function)."""
    send_resolved: bool = True
    """Also notify when an alert resolves."""
    timeout: Duration = timedelta(seconds=10)
    """Per-delivery timeout."""
