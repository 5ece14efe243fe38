"""`[[alerts.rules]]` and `[notifiers.*]`: the file format of alerting."""

from __future__ import annotations

import re
import string
from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator, model_validator

from opsview.config.base import Duration, Model
from opsview.config.sources import StrList
from opsview.schema import ALL_MEASURES

_DATAPOINTS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")

Op = Literal[">", ">=", "<", "<=", "==", "!="]

TEMPLATE_FIELDS: tuple[str, ...] = (
    "function", "value", "threshold", "condition", "window", "rule", "severity", "measure", "provider", "account",
    "region", "name",
)
"""Placeholders annotations may use."""


def template_problems(text: str) -> list[str]:
    """Unknown or malformed placeholders of one annotation (empty when it renders)."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return [f"bad template {text!r} ({exc}); write {{{{ and }}}} for literal braces"]
    return [
        f"unknown placeholder {{{name}}} (expected one of: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
        for name in names
        if name.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS
    ]


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


class PreviousConfig(Model):
    """A condition on the same measure over the span just before the rule's window."""

    window: Duration = timedelta(hours=1)
    """Length of the earlier span; it ends where the rule's window starts."""
    op: Op = ">"
    """Comparison the earlier value must satisfy."""
    threshold: float = 0
    """Value the earlier value is compared against."""


class RuleConfig(Model):
    name: str
    """Unique rule name; used by silences and in notifications."""
    measure: str
    """Any schema measure (invocations, errors, duration_p99_ms, ...) or derived one
    (error_rate, throttle_rate, cold_start_rate, timeout_ratio, cost_usd)."""
    match: MatchConfig = Field(default_factory=MatchConfig)
    """Which functions the rule watches."""
    window: Duration = timedelta(minutes=5)
    """Span the measure is aggregated over at each evaluation (with datapoints: the length of one datapoint)."""
    op: Op = ">"
    """Comparison of the measure against the threshold that counts as breaching."""
    threshold: float
    """Value compared against."""
    for_: Duration = Field(default=timedelta(0), alias="for")
    """How long the condition must hold before the alert fires; "0s" fires at once."""
    datapoints: str | None = None
    """"M/N": breaching when M of the last N datapoints (each one `window` long) breach, as CloudWatch's
    "datapoints to alarm"."""
    missing: Literal["ignore", "breaching", "ok"] = "ignore"
    """What no data means (CloudWatch's TreatMissingData): keep state, breach, or ok."""
    previous: PreviousConfig | None = None
    """Only alert where the same measure over the span before the window satisfied this, e.g.
    `{ window = "1h", op = ">", threshold = 0 }` = "had traffic the hour before"."""
    severity: Literal["warning", "critical"] = "warning"
    """warning makes `opsview check` exit 1 while firing, critical exits 2."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels attached to the alert."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """summary / description, templated with {function} {value} {threshold} {condition} {window}."""
    notify: StrList = Field(default_factory=list)
    """Names of [notifiers.*] to tell."""

    @field_validator("name")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rule name must not be empty")
        return value

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        if value not in ALL_MEASURES:
            raise ValueError(f"unknown measure {value!r} (expected one of: {', '.join(ALL_MEASURES)})")
        return value

    @field_validator("window")
    @classmethod
    def _positive_window(cls, value: timedelta) -> timedelta:
        if value.total_seconds() < 60:
            raise ValueError("window must be at least 1m (the store keeps one-minute buckets)")
        return value

    @field_validator("datapoints")
    @classmethod
    def _m_of_n(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _DATAPOINTS.match(value)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise ValueError(f'invalid datapoints "{value}" (expected "M/N" with 1 <= M <= N, e.g. "3/5")')
        if int(match.group(2)) > 1440:
            raise ValueError(f'datapoints "{value}": N must be at most 1440')
        return f"{match.group(1)}/{match.group(2)}"

    @field_validator("annotations")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            problems = template_problems(text)
            if problems:
                raise ValueError(f"annotation {key!r}: {problems[0]}")
        return value

    @property
    def m_of_n(self) -> tuple[int, int] | None:
        if self.datapoints is None:
            return None
        m, n = self.datapoints.split("/")
        return int(m), int(n)


class RuleFile(Model):
    """A file named by `alerts.rule_files`: `[[rules]]` tables, and `[[tests]]` for `opsview rules test`."""

    rules: list[RuleConfig] = Field(default_factory=list)
    """Rules, same keys as [[alerts.rules]]."""
    rule_files: StrList = Field(default_factory=list)
    """(test files only) further rule files to load, relative to this file."""
    tests: list[RuleTestConfig] = Field(default_factory=list)
    """Unit tests for the rules (see `opsview rules test`)."""


class SeriesConfig(Model):
    """Input data of one function in a rule test; values use `V`, `VxN` (N times V) and `_` (no bucket)."""

    function: str
    """provider/account/region/name."""
    timeout_s: float | None = None
    """The function's timeout (for timeout_ratio)."""
    memory_mb: int | None = None
    """The function's memory size (for cost_usd)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """The function's labels."""
    invocations: str = ""
    errors: str = ""
    throttles: str = ""
    cold_starts: str = ""
    duration_p50_ms: str = ""
    duration_p95_ms: str = ""
    duration_p99_ms: str = ""
    duration_max_ms: str = ""
    duration_avg_ms: str = ""


class ExpectConfig(Model):
    """What must be firing (and, if given, pending) at one evaluation time of a rule test."""

    at: Duration
    """Evaluation time, relative to the first bucket of the series."""
    rule: str
    """Rule whose alerts are checked."""
    firing: StrList = Field(default_factory=list)
    """Functions (provider/account/region/name) expected firing; every other one must not be."""
    pending: StrList | None = None
    """Functions expected pending (condition holding, `for` not yet elapsed); every other one must not be.
    Unset: pending alerts are not checked."""


class RuleTestConfig(Model):
    name: str
    """Shown in the PASS / FAIL line."""
    interval: Duration = timedelta(minutes=1)
    """Spacing of the series values and of the evaluations."""
    series: list[SeriesConfig] = Field(default_factory=list)
    """Input data."""
    alerts: list[ExpectConfig] = Field(default_factory=list)
    """Expectations."""


RuleFile.model_rebuild()


class AlertsConfig(Model):
    rules: list[RuleConfig] = Field(default_factory=list)
    """Rules defined inline."""
    rule_files: StrList = Field(default_factory=list)
    """Globs of further rule files (each holding [[rules]]), relative to this config file."""
    collect_before_check: bool = True
    """Whether `opsview check` collects first (override with --collect/--no-collect)."""
    resolved_retention: Duration = timedelta(minutes=15)
    """How long a resolved alert stays listed before it returns to inactive."""
    lock_wait: Duration = timedelta(seconds=60)
    """How long `opsview check` waits for an overlapping check to finish before giving up (exit 3)."""


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
    retries: int = Field(default=3, ge=0, le=10)
    """Extra attempts within one check after a failed delivery; what still fails is retried by the next check."""
    backoff: Duration = timedelta(seconds=1)
    """Wait before the first retry; doubled on each further one."""

    @model_validator(mode="after")
    def _target(self) -> NotifierConfig:
        if self.type == "webhook" and not self.url:
            raise ValueError('a "webhook" notifier needs url')
        if self.type == "apprise" and not (self.url or self.urls):
            raise ValueError('an "apprise" notifier needs url or urls')
        if self.type == "jsonl" and not self.path:
            raise ValueError('a "jsonl" notifier needs path')
        return self
