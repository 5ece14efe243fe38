"""Azure Monitor platform metrics of function apps, batched through `MetricsClient.query_resources`.

One `metrics:getBatch` call covers up to 50 apps of one subscription and region (the service's
limit), asking every metric of ONE hosting plan at once at 1-minute grain; results become
`AppMinute` records keyed by the app name (the last segment of the resource id), the same name
App Insights calls `AppRoleName`.

Plans define different metrics (https://learn.microsoft.com/azure/azure-functions/monitor-functions
"Analyze metrics"): Consumption apps bill through `FunctionExecutionUnits` and count through
`FunctionExecutionCount`; Flex Consumption apps through `OnDemand…`/`AlwaysReady…FunctionExecution
Units` and `…Count`. A batch that names a metric one of its resources does not define fails whole
with 400 ("Failed to find metric configuration…"), so a batch never mixes plans. An app's plan
comes from config (`app_plans`), from what an earlier batch proved, or is guessed; a batch refused
for an unknown metric is retried once with the other plan's metrics (a fleet of one plan costs no
extra call), and only a batch that still fails asks each of its apps' metric definitions
(`GET {app}/providers/Microsoft.Insights/metricDefinitions`) and is split by plan. What is learned
is kept in a `PlanBook` for the life of the collector: an app cannot move between Consumption and
Flex Consumption in place (a migration creates a new app).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from opsview.collectors.credentials import CredentialsError, credential_problem
from opsview.formatting import one_line

log = logging.getLogger(__name__)

NAMESPACE: Final = "Microsoft.Web/sites"
BATCH_LIMIT: Final = 50  # resource ids per metrics:getBatch call


class Plan(enum.StrEnum):
    CONSUMPTION = "consumption"
    FLEX = "flex"
    OTHER = "other"  # defines neither execution set (Premium/Dedicated on Linux): HTTP counts only


_HTTP: Final = ("Http5xx", "Requests")
PLAN_METRICS: Final[dict[Plan, tuple[str, ...]]] = {
    Plan.CONSUMPTION: ("FunctionExecutionCount", "FunctionExecutionUnits", *_HTTP),
    Plan.FLEX: ("OnDemandFunctionExecutionCount", "AlwaysReadyFunctionExecutionCount",
                "OnDemandFunctionExecutionUnits", "AlwaysReadyFunctionExecutionUnits", *_HTTP),
    Plan.OTHER: _HTTP,
}
EXECUTION_COUNTS: Final = ("FunctionExecutionCount", "OnDemandFunctionExecutionCount",
                           "AlwaysReadyFunctionExecutionCount")
EXECUTION_UNITS: Final = ("FunctionExecutionUnits", "OnDemandFunctionExecutionUnits",
                          "AlwaysReadyFunctionExecutionUnits")
UNKNOWN_METRIC: Final = "Failed to find metric configuration"  # the service's 400 for an undefined metric


def plan_of(defined: Collection[str]) -> Plan:
    """The plan whose execution metrics an app defines (from its metric definitions)."""
    for plan in (Plan.FLEX, Plan.CONSUMPTION):
        if set(PLAN_METRICS[plan]) - set(_HTTP) <= set(defined):
            return plan
    return Plan.OTHER


@dataclass(slots=True)
class PlanBook:
    """Each app's plan as far as known (resource id -> plan), and the guess for apps not yet known."""

    known: dict[str, Plan] = field(default_factory=dict)
    guess: Plan = Plan.CONSUMPTION


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


def _sum_of(values: dict[str, float], names: Iterable[str]) -> float | None:
    present = [values[n] for n in names if n in values]
    return sum(present) if present else None


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
    return [
        AppMinute(app=app, start=at, executions=_sum_of(values, EXECUTION_COUNTS),
                  execution_units_mb_ms=_sum_of(values, EXECUTION_UNITS),
                  http_5xx=values.get("Http5xx"), requests=values.get("Requests"))
        for (app, at), values in sorted(acc.items())
    ]


def _unknown_metric(exc: Exception) -> bool:
    return getattr(exc, "status_code", None) == 400 and UNKNOWN_METRIC in str(exc)


@dataclass(slots=True)
class _RegionQuery:
    client: Any
    region: str
    book: PlanBook
    definitions: Callable[[str], Collection[str]] | None
    start: datetime
    end: datetime
    enforce_https: bool
    minutes: list[AppMinute] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    calls: int = 0

    def ask(self, plan: Plan, batch: Sequence[str]) -> None:
        self.calls += 1
        results = self.client.query_resources(
            resource_ids=list(batch), metric_namespace=NAMESPACE, metric_names=list(PLAN_METRICS[plan]),
            timespan=(self.start, self.end), granularity=timedelta(minutes=1), aggregations=["Total"],
            enforce_https=self.enforce_https,
        )
        self.minutes.extend(_minutes(results, batch))
        for rid in batch:
            self.book.known[rid] = plan  # every app of the batch defines this plan's metrics

    def batch(self, plan: Plan, batch: Sequence[str], guessed: bool) -> None:
        try:
            self.ask(plan, batch)
            return
        except Exception as exc:  # one failing batch never sinks the rest of the region
            if not _unknown_metric(exc):
                self.fail(batch, exc)
                return
            first = exc
        other = Plan.FLEX if plan == Plan.CONSUMPTION else Plan.CONSUMPTION
        if guessed and plan != Plan.OTHER:
            try:
                self.ask(other, batch)
                self.book.guess = other  # the fleet is likely of that plan: guess it for the rest
                return
            except Exception as exc:
                if not _unknown_metric(exc):
                    self.fail(batch, exc)
                    return
        self.by_definitions(batch, first)

    def by_definitions(self, batch: Sequence[str], refused: Exception) -> None:
        """A batch of mixed plans: ask each app which metrics it defines, then one batch per plan."""
        if self.definitions is None:
            self.fail(batch, refused)
            return
        groups: dict[Plan, list[str]] = {}
        for rid in batch:
            self.calls += 1
            try:
                plan = plan_of(self.definitions(rid))
            except Exception as exc:
                self.fail([rid], exc, what=f"metric definitions of {app_name(rid)}")
                continue
            configured = self.book.known.get(rid)
            if configured is not None and configured != plan:
                log.warning("app %s defines %s metrics, not %s as configured", app_name(rid), plan, configured)
            self.book.known[rid] = plan
            groups.setdefault(plan, []).append(rid)
        for plan, rids in groups.items():
            try:
                self.ask(plan, rids)
            except Exception as exc:
                self.fail(rids, exc)

    def fail(self, batch: Sequence[str], exc: Exception, what: str = "metrics batch") -> None:
        problem = credential_problem(exc)
        if problem is not None:  # every further batch would fail alike: the region stops here
            raise CredentialsError(problem) from exc
        log.warning("%s in %s failed: %s", what, self.region, one_line(exc))
        self.errors.append(f"{what} ({len(batch)} apps): {one_line(exc)}")


def query_region(
    client: Any, region: str, resource_ids: Sequence[str], start: datetime, end: datetime,
    *, book: PlanBook | None = None, definitions: Callable[[str], Collection[str]] | None = None,
    enforce_https: bool = True,
) -> RegionResult:
    """All apps of one region, one batch per 50 apps of one plan; a failing call keeps the others' data.

    `definitions(resource_id)` returns the metric names an app defines (its metric definitions);
    it is asked only for the apps of a batch that neither plan's metrics could serve.
    """
    book = book if book is not None else PlanBook()
    run = _RegionQuery(client, region, book, definitions, start, end, enforce_https)
    groups: dict[tuple[Plan, bool], list[str]] = {}
    for rid in resource_ids:
        plan = book.known.get(rid)
        groups.setdefault((plan or book.guess, plan is None), []).append(rid)
    for (plan, guessed), rids in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0].value)):
        for batch in chunks(rids):
            # a guess moves to the other plan when a batch proves it: later batches ask that one first
            run.batch(book.guess if guessed else plan, batch, guessed)
    return RegionResult(region, run.minutes, run.calls, "; ".join(run.errors) if run.errors else None)


