"""`[[alerts.rules]]` and `[notifiers.*]`: the file format of alerting."""

from __future__ import annotations

import math
import re
import string
import urllib.parse
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from opsview.config.base import Duration, Model, finite, within
from opsview.config.sources import StrList
from opsview.durations import format_duration
from opsview.formatting import quoted
from opsview.schema import ALL_MEASURES
from opsview.signatures import MAX_SIGNATURE_CHARS

_DATAPOINTS = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_MAX_DATAPOINTS = 1440
_THRESHOLD_LIMIT = 1e15
"""No measure reaches this (a quadrillion invocations in one window); past it a threshold is a typo."""
_FRACTIONS = {"error_rate": 1.0, "throttle_rate": 1.0, "cold_start_rate": 1.0, "timeout_ratio": 1.5}
"""Measures that are ratios, and the largest threshold that can still be crossed (timeout_ratio is p99 /
timeout: a little over 1.0 at most)."""
_LONGEST_LOOKBACK = timedelta(days=90)

Op = Literal[">", ">=", "<", "<=", "==", "!="]

TEMPLATE_FIELDS: tuple[str, ...] = (
    "function", "value", "threshold", "condition", "window", "rule", "severity", "measure", "provider", "account",
    "region", "name",
    "signature", "sample", "sample_id",
)
"""Placeholders annotations may use (the last three in `kind = "new_error"` rules only)."""
ERROR_FIELDS: frozenset[str] = frozenset({"signature", "sample", "sample_id"})
NEW_ERRORS = "new_errors"
"""The measure of a `kind = "new_error"` rule: occurrences, within the window, of a signature first seen in it."""
_NEW_ERROR_KEYS = {"measure": NEW_ERRORS, "op": ">=", "missing": "ignore", "datapoints": None, "previous": None}
"""What a new_error rule implies for the keys of measure rules (a dumped rule holds them as implied)."""
_MAX_MIN_COUNT = 1_000_000


def template_problems(text: str) -> list[str]:
    """Unknown or malformed placeholders of one annotation (empty when it renders)."""
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return [f"bad template {text!r} ({exc}); write {{{{ and }}}} for literal braces"]
    return [
        f"unknown placeholder {{{quoted(name)[1:-1]}}} "
        f"(expected one of: {', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)})"
        for name in names
        if name.split(".")[0].split("[")[0] not in TEMPLATE_FIELDS
    ]


SERIES_MEASURES: tuple[str, ...] = (
    "invocations", "errors", "throttles", "cold_starts", "duration_p50_ms", "duration_p95_ms", "duration_p99_ms",
    "duration_max_ms", "duration_avg_ms",
)
"""Measures a rule test's series can give."""
_MAX_SERIES = 100_000
"""Values in one series of a rule test (about 70 days of minutes): `1x99999999999` must not eat the memory."""
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An HTTP header name (RFC 9110 token)."""


def expand_series(text: str) -> list[float | None]:
    """`5 10x3 _ _x2` -> 5, 10, 10, 10, None, None, None (`_` = no bucket); ValueError on anything else."""
    out: list[float | None] = []
    for token in text.split():
        value, _, times = token.partition("x")
        try:
            count = int(times) if times else 1
            item = None if value == "_" else float(value)
        except ValueError:
            raise ValueError(f"bad series value {token[:40]!r} (expected V, VxN or _)") from None
        if item is not None and not math.isfinite(item):
            raise ValueError(f"bad series value {token[:40]!r} (V must be a finite number)")
        if count < 0 or len(out) + count > _MAX_SERIES:
            raise ValueError(f"series {token[:40]!r}: at most {_MAX_SERIES} values in one series")
        out.extend([item] * count)
    return out


def url_problem(url: str, *, http_only: bool) -> str | None:
    """What is wrong with a notifier URL, without echoing credentials or tokens it may hold."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        return "not a URL (it contains spaces or control characters)"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number from 0 to 65535
    except ValueError as exc:
        return f"not a URL ({exc})"
    if http_only:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "not an http(s) URL (expected e.g. https://hooks.example.com/opsview)"
    elif not parts.scheme or "://" not in url:
        return "not an Apprise URL (expected scheme://..., e.g. slack://TokenA/TokenB/TokenC)"
    return None


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

    window: Annotated[Duration, within("1m", "90d")] = timedelta(hours=1)
    """Length of the earlier span; it ends where the rule's window starts; 1m to 90d."""
    op: Op = ">"
    """Comparison the earlier value must satisfy."""
    threshold: Annotated[float, finite(-_THRESHOLD_LIMIT, _THRESHOLD_LIMIT)] = 0
    """Value the earlier value is compared against; a finite number of magnitude at most 1e15."""


class RuleConfig(Model):
    name: str
    """Unique rule name; used by silences and in notifications."""
    kind: Literal["measure", "new_error"] = "measure"
    """measure: compare `measure` over `window` with `threshold`. new_error: fire for a function with an error
    signature first seen within `window` (the store having watched its errors for a window's length before
    that),
    at least `min_count` times; measure, op, threshold, datapoints, missing and previous do not apply, the
    alert's value is the new signature's count, and {signature}, {sample}, {sample_id} fill annotations."""
    measure: str
    """Any schema measure (invocations, errors, duration_p99_ms, ...) or derived one
    (error_rate, throttle_rate, cold_start_rate, timeout_ratio, cost_usd)."""
    match: MatchConfig = Field(default_factory=MatchConfig)
    """Which functions the rule watches."""
    window: Annotated[Duration, within("1m", "90d")] = timedelta(minutes=5)
    """Span the measure is aggregated over at each evaluation (with datapoints: the length of one datapoint);
    1m (the store keeps one-minute buckets) to 90d."""
    op: Op = ">"
    """Comparison of the measure against the threshold that counts as breaching."""
    threshold: Annotated[float, finite(-_THRESHOLD_LIMIT, _THRESHOLD_LIMIT)]
    """Value compared against: a finite number of magnitude at most 1e15; for a rate (error_rate,
    throttle_rate, cold_start_rate) a fraction from 0 to 1, for timeout_ratio 0 to 1.5."""
    for_: Annotated[Duration, within("0s", "30d")] = Field(default=timedelta(0), alias="for")
    """How long the condition must hold before the alert fires; "0s" fires at once; at most 30d."""
    datapoints: str | None = None
    """"M/N": breaching when M of the last N datapoints (each one `window` long) breach, as CloudWatch's
    "datapoints to alarm"; N at most 1440, and N x window at most 90d."""
    missing: Literal["ignore", "breaching", "ok"] = "ignore"
    """What no data means (CloudWatch's TreatMissingData): keep state, breach, or ok."""
    previous: PreviousConfig | None = None
    """Only alert where the same measure over the span before the window satisfied this, e.g.
    `{ window = "1h", op = ">", threshold = 0 }` = "had traffic the hour before"."""
    min_count: int = Field(default=1, ge=1, le=_MAX_MIN_COUNT)
    """(kind = "new_error") occurrences of the new signature within `window` before it counts; 1 to 1000000."""
    severity: Literal["warning", "critical"] = "warning"
    """warning makes `opsview check` exit 1 while firing, critical exits 2."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels attached to the alert."""
    annotations: dict[str, str] = Field(default_factory=dict)
    """summary / description, templated with {function} {value} {threshold} {condition} {window}."""
    notify: StrList = Field(default_factory=list)
    """Names of [notifiers.*] to tell."""

    @model_validator(mode="before")
    @classmethod
    def _new_error_implies(cls, data: Any) -> Any:
        """A new_error rule compares the count of a new signature (`new_errors`) >= min_count: fill that in, and
        refuse keys that say something else."""
        if not isinstance(data, dict) or data.get("kind") != "new_error":
            return data
        count = data.get("min_count", 1)
        valid = isinstance(count, int) and not isinstance(count, bool) and 1 <= count <= _MAX_MIN_COUNT
        implied = {**_NEW_ERROR_KEYS, "threshold": count if valid else 1}
        stray = [k for k, v in implied.items() if k in data and data[k] != v and not (k == "threshold" and not valid)]
        if stray:
            raise ValueError(f'{", ".join(stray)}: does not apply to kind "new_error" (it fires on error signatures '
                             "first seen within window; min_count sets how often)")
        return {**data, **implied}

    @field_validator("name")
    @classmethod
    def _non_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("rule name must not be empty")
        return value

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str, info: ValidationInfo) -> str:
        if value == NEW_ERRORS and info.data.get("kind") == "new_error":
            return value
        if value not in ALL_MEASURES:
            raise ValueError(f"unknown measure {value!r} (expected one of: {', '.join(ALL_MEASURES)})")
        return value

    @field_validator("threshold")
    @classmethod
    def _crossable(cls, value: float, info: ValidationInfo) -> float:
        measure = info.data.get("measure")
        top = _FRACTIONS.get(measure) if isinstance(measure, str) else None
        if top is not None and not 0 <= value <= top:
            what = ("timeout_ratio is p99 / timeout (1.0 = at the timeout)" if measure == "timeout_ratio"
                    else f"{measure} is a fraction (0.05 = 5%)")
            effect = "is never reached" if value > top else "is crossed by any value"
            raise ValueError(f"{what}: threshold {value:g} {effect} (expected 0 to {top:g})")
        return value

    @field_validator("datapoints")
    @classmethod
    def _m_of_n(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _DATAPOINTS.match(value)
        if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
            raise ValueError(f'invalid datapoints {quoted(value)} (expected "M/N" with 1 <= M <= N, e.g. "3/5")')
        if int(match.group(2)) > _MAX_DATAPOINTS:
            raise ValueError(f"datapoints {quoted(value)}: N must be at most {_MAX_DATAPOINTS}")
        return f"{int(match.group(1))}/{int(match.group(2))}"

    @field_validator("annotations")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            problems = template_problems(text)
            if problems:
                raise ValueError(f"annotation {key!r}: {problems[0]}")
        return value

    @model_validator(mode="after")
    def _error_fields_in_error_rules(self) -> RuleConfig:
        if self.kind == "measure":
            for key, text in self.annotations.items():
                used = ERROR_FIELDS & {name.split(".")[0].split("[")[0]
                                       for _, name, _, _ in string.Formatter().parse(text) if name}
                if used:
                    raise ValueError(f"annotation {key!r}: {{{sorted(used)[0]}}} is only known to kind = "
                                     '"new_error" rules')
        return self

    @model_validator(mode="after")
    def _lookback_bounded(self) -> RuleConfig:
        if self.lookback > _LONGEST_LOOKBACK:
            raise ValueError(f"the rule looks back {format_duration(self.lookback)} (window x datapoints N "
                             f"+ previous.window), more than {format_duration(_LONGEST_LOOKBACK)}")
        return self

    @property
    def m_of_n(self) -> tuple[int, int] | None:
        if self.datapoints is None:
            return None
        m, n = self.datapoints.split("/")
        return int(m), int(n)

    @property
    def lookback(self) -> timedelta:
        """How far before the evaluation time the rule reads data."""
        span = self.window * (self.m_of_n[1] if self.m_of_n else 1)
        return span + (self.previous.window if self.previous else timedelta(0))


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
    timeout_s: Annotated[float, finite(0.001, 86400)] | None = None
    """The function's timeout in seconds (for timeout_ratio); 0.001 to 86400."""
    memory_mb: int | None = Field(default=None, ge=1, le=1_048_576)
    """The function's memory size (for cost_usd); 1 to 1048576."""
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
    error_signatures: dict[str, str] = Field(default_factory=dict)
    """(kind = "new_error" rules) per error signature (its text, e.g. "KeyError: <str>"), its count in each
    interval, in the same notation; the function's errors count as watched from the first bucket on."""

    @field_validator(*SERIES_MEASURES)
    @classmethod
    def _series(cls, value: str) -> str:
        expand_series(value)
        return value

    @field_validator("error_signatures")
    @classmethod
    def _error_series(cls, value: dict[str, str]) -> dict[str, str]:
        for signature, series in value.items():
            if not signature.strip() or len(signature) > MAX_SIGNATURE_CHARS:
                raise ValueError(f"error signature {quoted(signature)}: 1 to {MAX_SIGNATURE_CHARS} characters")
            counts = expand_series(series)
            if any(c is not None and (c < 0 or c != int(c)) for c in counts):
                raise ValueError(f"error signature {quoted(signature)}: counts are whole numbers, 0 or more")
        return value


class ExpectConfig(Model):
    """What must be firing (and, if given, pending) at one evaluation time of a rule test."""

    at: Annotated[Duration, within("0s", "7d")]
    """Evaluation time, relative to the first bucket of the series; 0s to 7d."""
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
    interval: Annotated[Duration, within("1m", "1d")] = timedelta(minutes=1)
    """Spacing of the series values and of the evaluations; 1m (one store bucket) to 1d."""
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
    resolved_retention: Annotated[Duration, within("0s", "30d")] = timedelta(minutes=15)
    """How long a resolved alert stays listed before it returns to inactive; 0s to 30d."""
    lock_wait: Annotated[Duration, within("0s", "1h")] = timedelta(seconds=60)
    """How long `opsview check` waits for an overlapping check to finish before giving up (exit 3); 0s (do
    not wait) to 1h."""


class NotifierConfig(Model):
    type: Literal["webhook", "apprise", "stdout", "jsonl", "alertmanager"]
    """webhook POSTs JSON; apprise takes any Apprise URL (Slack, Teams, PagerDuty, email, ...);
    stdout and jsonl write one JSON object per notification for pipelines; alertmanager pushes alerts to
    Prometheus Alertmanager's API (every replica), which then routes, groups, silences and notifies."""
    url: str | None = None
    """Target URL: an http(s) URL for webhook, any Apprise URL (`scheme://...`) for apprise; for alertmanager the
    base URL of each replica, one or a list (url = ["http://am-1:9093", "http://am-2:9093"], as Prometheus sends to
    all of them). `https://user:password@host/...` (webhook, alertmanager) sends HTTP basic auth; messages and
    logs never show the password."""
    urls: StrList = Field(default_factory=list)
    """Several Apprise URLs."""
    path: str | None = None
    """File to append to (jsonl)."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra HTTP headers (webhook)."""
    repeat_interval: Annotated[Duration, within("1m", "30d")] = timedelta(hours=4)
    """Re-send a still-firing alert only after this long; 1m to 30d."""
    group_by: StrList = Field(default_factory=lambda: ["rule"])
    """Alerts sharing these labels go out in one message (rule, severity, provider, account, region, function)."""
    send_resolved: bool = True
    """Also notify when an alert resolves."""
    timeout: Annotated[Duration, within("100ms", "10m")] = timedelta(seconds=10)
    """Per-delivery timeout; 100ms to 10m. A receiver that does not answer in time may have the notification: it is
    not retried within the check, but by the next one (with the same id)."""
    retries: int = Field(default=3, ge=0, le=10)
    """Extra attempts within one check after a failed delivery; what still fails is retried by the next check."""
    backoff: Annotated[Duration, within("0s", "1m")] = timedelta(seconds=1)
    """Wait before the first retry; doubled on each further one (up to 60 s); 0s to 1m."""
    format: Literal["opsview", "alertmanager"] = "opsview"
    """(webhook) the body: opsview's JSON, or Alertmanager's webhook payload (version 4) so receivers built for
    Alertmanager (PagerDuty, Grafana OnCall, chat bridges) work unchanged."""
    valid_for: Annotated[Duration, within("1m", "1d")] = timedelta(minutes=15)
    """(alertmanager) each send sets a firing alert's endsAt this far ahead, so Alertmanager resolves an alert
    opsview stopped re-sending; keep it several check intervals long (Prometheus uses 4 evaluation intervals);
    1m to 1d."""

    @model_validator(mode="before")
    @classmethod
    def _alertmanager_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or data.get("type") != "alertmanager":
            return data
        data = dict(data)
        if isinstance(data.get("url"), list):  # every replica, as in Prometheus' alertmanagers config
            more = data.get("urls", [])
            data["urls"] = [*data.pop("url"), *([more] if isinstance(more, str) else more)]
        return data

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        problem = url_problem(value, http_only=info.data.get("type") in ("webhook", "alertmanager"))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("urls")
    @classmethod
    def _urls_shape(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for index, url in enumerate(value):
            problem = url_problem(url, http_only=info.data.get("type") == "alertmanager")
            if problem:
                raise ValueError(f"urls[{index}]: {problem}")
        return value

    @field_validator("headers")
    @classmethod
    def _header_shape(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is not a valid HTTP header name")
            if any(c in text for c in "\r\n\0"):
                # the value may be a secret (Authorization): never echo it
                raise ValueError(f"header {name!r}: the value must be one line (no CR, LF or NUL)")
        return value

    @model_validator(mode="after")
    def _target(self) -> NotifierConfig:
        if self.type == "alertmanager":
            if not (self.url or self.urls):
                raise ValueError('an "alertmanager" notifier needs url (one replica or a list of all)')
            # Alertmanager's contract: clients re-send firing alerts at every evaluation and Alertmanager
            # applies its own repeat_interval (https://prometheus.io/docs/alerting/latest/clients/).
            if "repeat_interval" in self.model_fields_set:
                raise ValueError("alertmanager notifiers re-send every evaluation (Alertmanager's contract); "
                                 "set repeat_interval on the Alertmanager route instead")
            if not self.send_resolved:
                raise ValueError("alertmanager notifiers always send resolves (Alertmanager needs them); "
                                 "set send_resolved on the Alertmanager receiver instead")
        if self.type in ("webhook", "alertmanager") and any(h.lower() == "authorization" for h in self.headers):
            with_userinfo = [u for u in [self.url, *self.urls] if u and "@" in urllib.parse.urlsplit(u).netloc]
            if with_userinfo:
                raise ValueError("url carries user:password@ (sent as basic auth) and headers set Authorization: "
                                 "keep one")
        if self.format != "opsview" and self.type != "webhook":
            raise ValueError('format applies to "webhook" notifiers only')
        if self.type == "webhook" and not self.url:
            raise ValueError('a "webhook" notifier needs url')
        if self.type == "apprise" and not (self.url or self.urls):
            raise ValueError('an "apprise" notifier needs url or urls')
        if self.type == "jsonl" and not self.path:
            raise ValueError('a "jsonl" notifier needs path')
        return self
