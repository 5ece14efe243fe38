"""Azure Monitor platform metrics of function apps, batched through `MetricsClient.query_resources`.

One `metrics:getBatch` call covers up to 50 apps of one subscription and region (the service's
limit), asking every metric at once at 1-minute grain; results become `AppMinute` records keyed by
the app name (the last segment of the resource id), the same name App Insights calls `AppRoleName`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from opsview.formatting import one_line

log = logging.getLogger(__name__)

NAMESPACE: Final = "Microsoft.Web/sites"
METRICS: Final[tuple[str, ...]] = (
    "FunctionExecutionCount",  # Consumption
    "FunctionExecutionUnits",  # Consumption, MB-ms
    "OnDemandFunctionExecutionCount",  # Flex Consumption
    "AlwaysReadyFunctionExecutionCount",  # Flex Consumption
    "Http5xx",
    "Requests",
)
BATCH_LIMIT: Final = 50  # resource ids per metrics:getBatch call


@dataclass(frozen=True, slots=True)
class AppMinute:
    """Platform totals of one app in one minute; `None` = the metric had no value."""

    app: str
    start: datetime
    executions: float | None = None
    execution_units_mb_ms: float | None = None
    http_5xx: float | None = None
    requests: float | None = None


@dataclass(frozen=True, slots=True)
class RegionResult:
    region: str
    minutes: list[AppMinute]
    calls: int
    error: str | None = None


def app_name(resource_id: str) -> str:
    """`/subscriptions/.../providers/Microsoft.Web/sites/<app>[/...]` -> `<app>`."""
    parts = [p for p in resource_id.split("/") if p]
    lowered = [p.lower() for p in parts]
    if "sites" in lowered:
        i = lowered.index("sites")
        if i + 1 < len(parts):
            return parts[i + 1]
    return parts[-1] if parts else resource_id


def chunks(items: Sequence[str], size: int = BATCH_LIMIT) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _resource_of_metric(metric_id: str | None) -> str | None:
    if not metric_id:
        return None
    marker = "/providers/microsoft.insights/metrics/"
    i = metric_id.lower().find(marker)
    return metric_id[:i] if i >= 0 else None


def _minutes(results: Iterable[Any], ids: Sequence[str]) -> list[AppMinute]:
    """Flatten SDK results (`MetricsQueryResult`) into AppMinute records."""
    acc: dict[tuple[str, datetime], dict[str, float]] = {}
    for position, result in enumerate(results):
        for metric in result.metrics or []:
            resource = _resource_of_metric(getattr(metric, "id", None))
            if resource is None:
                # the service answers in request order; fall back to it when the id is absent
                resource = ids[position] if position < len(ids) else ""
            app = app_name(resource)
            for series in metric.timeseries or []:
                for value in series.data or []:
                    if value.timestamp is None or value.total is None:
                        continue
                    at = value.timestamp.astimezone(UTC)
                    slot = acc.setdefault((app, at), {})
                    slot[metric.name] = slot.get(metric.name, 0.0) + float(value.total)
    out = []
    for (app, at), values in sorted(acc.items()):
        executions: float | None = None
        for name in ("FunctionExecutionCount", "OnDemandFunctionExecutionCount", "AlwaysReadyFunctionExecutionCount"):
            if name in values:
                executions = (executions or 0.0) + values[name]
        out.append(AppMinute(app=app, start=at, executions=executions,
                             execution_units_mb_ms=values.get("FunctionExecutionUnits"),
                             http_5xx=values.get("Http5xx"), requests=values.get("Requests")))
    return out


def query_region(
    client: Any, region: str, resource_ids: Sequence[str], start: datetime, end: datetime,
    *, enforce_https: bool = True,
) -> RegionResult:
    """All apps of one region in `ceil(n / 50)` calls; a failing call keeps the others' data."""
    minutes: list[AppMinute] = []
    errors: list[str] = []
    calls = 0
    for batch in chunks(list(resource_ids)):
        calls += 1
        try:
            results = client.query_resources(
                resource_ids=list(batch), metric_namespace=NAMESPACE, metric_names=list(METRICS),
                timespan=(start, end), granularity=timedelta(minutes=1), aggregations=["Total"],
                enforce_https=enforce_https,
            )
        except Exception as exc:  # one failing batch never sinks the rest of the region
            log.warning("metrics batch in %s failed: %s", region, exc)
            errors.append(one_line(exc))
            continue
        minutes.extend(_minutes(results, batch))
    return RegionResult(region, minutes, calls, "; ".join(errors) if errors else None)
