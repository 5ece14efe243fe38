"""Rows of the collector's KQL result (see `kql`) turned into schema samples.

Cold-start attribution: host starts belong to the app, not to a function. Each (app, minute)
count of host starts goes to ONE function: the app's function that served the first request
at or after the first host start of that minute, in that minute or the next one (a host that
starts at :59 serves its first request in the next minute). A function that was already busy
before the start is treated as served at the start time. When the app served no request in
those two minutes (an always-ready instance warming up, a host restarted while idle), the
start is not counted in any function: no request paid for it. Every other function of an app
reports `cold_starts = 0` when the window holds host traces of that app (the traces were read, could
show a start, and held none), and `None` when it holds none: host.json filtered the host's logs, so a
start could not have been seen.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from opsview.collectors.azure.kql import KIND_ERRORS, KIND_HOST_STARTS, KIND_REQUESTS, KIND_VERSIONS
from opsview.collectors.azure.metrics import AppMinute
from opsview.schema import FunctionKey, Sample, finite_or_none, floor_time


@dataclass(frozen=True, slots=True)
class RequestBucket:
    """One (app, function, minute) of `AppRequests`."""

    app: str
    function: str
    start: datetime
    invocations: int
    errors: int
    throttles: int
    duration_avg_ms: float | None
    duration_p50_ms: float | None
    duration_p95_ms: float | None
    duration_p99_ms: float | None
    duration_max_ms: float | None
    first_at: datetime | None
    last_at: datetime | None


@dataclass(frozen=True, slots=True)
class HostStartBucket:
    """One (app, minute) of host starts from `AppTraces`."""

    app: str
    start: datetime
    cold_starts: int
    first_start_at: datetime | None
    host_traces: int = 0
    """Host traces (category `Host.*`, starts included) of the app in this minute."""


def function_name(operation_name: str) -> str:
    """The function as the host names it: `Functions.X` -> `X`."""
    return operation_name[len("Functions."):] if operation_name.startswith("Functions.") else operation_name


def _time(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Kusto prints 7 fractional digits; Python reads at most 6
    head, dot, rest = text.partition(".")
    if dot:
        digits = "".join(c for c in rest if c.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return finite_or_none(float(value))
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int:
    number = _float(value)
    return 0 if number is None else int(round(number))


def parse_rows(
    columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> tuple[list[RequestBucket], list[HostStartBucket], int]:
    """Typed buckets from result rows; also the number of rows that could not be read. Error and version
    rows are `error_rows`' to read."""
    index = {name: i for i, name in enumerate(columns)}
    requests: list[RequestBucket] = []
    starts: list[HostStartBucket] = []
    bad = 0

    def get(row: Sequence[Any], name: str) -> Any:
        i = index.get(name)
        return None if i is None or i >= len(row) else row[i]

    for row in rows:
        try:
            kind = get(row, "Kind")
            if kind in (KIND_ERRORS, KIND_VERSIONS):
                continue
            app = str(get(row, "AppRoleName") or "")
            bucket = _time(get(row, "Bucket"))
            if not app or bucket is None:
                bad += 1
                continue
            if kind == KIND_REQUESTS:
                operation = function_name(str(get(row, "OperationName") or ""))
                if not operation:
                    bad += 1
                    continue
                invocations = _int(get(row, "Invocations"))
                has_durations = invocations > 0
                requests.append(
                    RequestBucket(
                        app=app, function=operation, start=bucket, invocations=invocations,
                        errors=_int(get(row, "Errors")), throttles=_int(get(row, "Throttles")),
                        duration_avg_ms=_float(get(row, "DurationAvg")) if has_durations else None,
                        duration_p50_ms=_float(get(row, "DurationP50")) if has_durations else None,
                        duration_p95_ms=_float(get(row, "DurationP95")) if has_durations else None,
                        duration_p99_ms=_float(get(row, "DurationP99")) if has_durations else None,
                        duration_max_ms=_float(get(row, "DurationMax")) if has_durations else None,
                        first_at=_time(get(row, "FirstAt")), last_at=_time(get(row, "LastAt")),
                    )
                )
            elif kind == KIND_HOST_STARTS:
                cold_starts = _int(get(row, "ColdStarts"))
                starts.append(
                    HostStartBucket(app=app, start=bucket, cold_starts=cold_starts,
                                    first_start_at=_time(get(row, "FirstStartAt")),
                                    host_traces=max(cold_starts, _int(get(row, "HostTraces"))))
                )
            else:
                bad += 1
        except (TypeError, ValueError):
            bad += 1
    return requests, starts, bad


def attribute_cold_starts(
    requests: Sequence[RequestBucket], starts: Sequence[HostStartBucket], period_s: int = 60
) -> dict[tuple[str, str, datetime], int]:
    """(app, function, bucket start) -> cold starts, by the rule in the module docstring."""
    by_app_bucket: dict[tuple[str, datetime], list[RequestBucket]] = {}
    for r in requests:
        if r.invocations > 0:
            by_app_bucket.setdefault((r.app, r.start), []).append(r)
    out: dict[tuple[str, str, datetime], int] = {}
    step = timedelta(seconds=period_s)
    for s in starts:
        if s.cold_starts <= 0:
            continue
        at = s.first_start_at or s.start
        chosen: RequestBucket | None = None
        best: tuple[datetime, int, str] | None = None
        for bucket_start in (s.start, s.start + step):
            for r in by_app_bucket.get((s.app, bucket_start), []):
                if r.last_at is not None and r.last_at < at:
                    continue  # all of its requests came before the host started
                served = max(r.first_at or r.start, at)
                rank = (served, -r.invocations, r.function)
                if best is None or rank < best:
                    best, chosen = rank, r
            if chosen is not None:
                break
        if chosen is not None:
            key = (chosen.app, chosen.function, chosen.start)
            out[key] = out.get(key, 0) + s.cold_starts
    return out


def to_samples(
    requests: Sequence[RequestBucket],
    starts: Sequence[HostStartBucket],
    key_of: Mapping[str, FunctionKey] | None = None,
    *,
    subscription_id: str,
    region_of: Mapping[str, str],
    default_region: str,
    period_s: int = 60,
    traced: Collection[str] | None = None,
) -> list[Sample]:
    """One Sample per (app, function, minute); cold starts attributed per the module docstring.

    `traced` names the apps whose host logs reach the workspace (default: those with a host trace in
    `starts`, which must then cover the whole window the requests come from); the others get
    `cold_starts = None`.
    """
    cold = attribute_cold_starts(requests, starts, period_s)
    traced = apps_with_host_traces(starts) if traced is None else traced
    samples: list[Sample] = []
    for r in requests:
        name = f"{r.app}/{r.function}"
        key = (key_of or {}).get(name) or FunctionKey(
            "azure", subscription_id, region_of.get(r.app, default_region), name
        )
        samples.append(
            Sample(
                key=key, start=floor_time(r.start, period_s), period_s=period_s,
                invocations=r.invocations, errors=r.errors, throttles=r.throttles,
                cold_starts=cold.get((r.app, r.function, r.start), 0) if r.app in traced else None,
                duration_avg_ms=r.duration_avg_ms, duration_p50_ms=r.duration_p50_ms,
                duration_p95_ms=r.duration_p95_ms, duration_p99_ms=r.duration_p99_ms,
                duration_max_ms=r.duration_max_ms,
            )
        )
    return samples


def apps_with_host_traces(starts: Iterable[HostStartBucket]) -> set[str]:
    """Apps whose host logs reach the workspace: only their cold starts can be counted (0 included)."""
    return {s.app for s in starts if s.host_traces > 0 or s.cold_starts > 0}


def apply_execution_units(
    samples: Sequence[Sample], units: Mapping[tuple[str, datetime], float]
) -> tuple[list[Sample], dict[str, int]]:
    """Billed time from the platform's `FunctionExecutionUnits` (MB-ms per app and minute).

    An app's observed memory is its execution units over its execution time (App Insights
    invocations x mean duration) in the window; each function's `billed_ms` is its share of
    the app-minute's execution time applied to the units, divided by that memory, so that
    `cost_usd` (billed ms x memory) adds up to the units the platform billed. Returns the
    samples and the observed memory (MB) per app; apps without units are left untouched.
    """
    time_by_bucket: dict[tuple[str, datetime], float] = {}
    for s in samples:
        bucket = (_app(s), s.start)
        time_by_bucket[bucket] = time_by_bucket.get(bucket, 0.0) + _exec_ms(s)
    units_by_app: dict[str, float] = {}
    time_by_app: dict[str, float] = {}
    for (app, at), exec_ms in time_by_bucket.items():
        mb_ms = units.get((app, at))
        if mb_ms is not None and exec_ms > 0:
            units_by_app[app] = units_by_app.get(app, 0.0) + mb_ms
            time_by_app[app] = time_by_app.get(app, 0.0) + exec_ms
    memory = {app: max(1, round(units_by_app[app] / time_by_app[app])) for app in units_by_app}
    out: list[Sample] = []
    for s in samples:
        app = _app(s)
        mb_ms = units.get((app, s.start))
        total = time_by_bucket.get((app, s.start), 0.0)
        if mb_ms is None or total <= 0 or app not in memory:
            out.append(s)
            continue
        out.append(replace(s, billed_ms=mb_ms * _exec_ms(s) / total / memory[app]))
    return out, memory


def _app(s: Sample) -> str:
    return s.key.name.split("/", 1)[0]


def _exec_ms(s: Sample) -> float:
    if not s.invocations or s.duration_avg_ms is None:
        return 0.0
    return s.invocations * s.duration_avg_ms


APP_TOTAL: Final = "*"  # the function part of an app-level key: `azure/<sub>/<region>/<app>/*`


def app_totals(
    minutes: Sequence[AppMinute], covered_apps: Collection[str], *, subscription_id: str,
    region_of: Callable[[str], str], period_s: int = 60,
) -> list[Sample]:
    """Platform counts for apps App Insights said nothing about in the window (none wired, or its query failed).

    Such an app still shows up, as one `<app>/*` row: executions as invocations and `Http5xx` as errors
    where the app serves HTTP (`Requests` > 0), since a 5xx is how a failed HTTP-triggered execution looks
    from the platform. Durations, throttles and cold starts stay `None`: the platform does not report them.
    """
    out: list[Sample] = []
    for m in minutes:
        if m.app in covered_apps or m.executions is None:
            continue
        http = m.requests is not None and m.requests > 0
        out.append(Sample(
            key=FunctionKey("azure", subscription_id, region_of(m.app), f"{m.app}/{APP_TOTAL}"),
            start=floor_time(m.start, period_s), period_s=period_s, invocations=round(m.executions),
            errors=round(m.http_5xx or 0) if http else None,
        ))
    return out
