"""The fleet as viewers show it: one row per function over a window, derived measures filled in.

The TUI, the web app, `opsview status` and alert top-N lists all build on `fleet_status`, and the TUI's
detail screen and the web's function page both on `function_detail` (figures, charts, top error signatures,
deploys and the since-deploy comparison, console links), so a number means the same thing everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from opsview import formatting as fmt
from opsview.alert_records import AlertEvent
from opsview.config import PricingConfig
from opsview.console_links import ConsoleLinks, console_links
from opsview.deploys import DeployComparison, since_last_deploy, window_deploys
from opsview.error_records import FunctionEvent, SignatureSummary
from opsview.schema import (
    FunctionInfo,
    FunctionKey,
    Measures,
    Sample,
    aggregate,
    cold_start_rate,
    cost_usd,
    error_rate,
    throttle_rate,
)
from opsview.store import FleetFilter, FleetRow, SampleStore, Scope, Store

ALERT_HISTORY = 50  # transitions a function's detail lists, newest first
TOP_ERRORS = 10  # signatures a function's detail lists, most frequent first


@dataclass(frozen=True, slots=True)
class FunctionStatus:
    info: FunctionInfo
    measures: Measures
    window: timedelta
    buckets: int
    error_rate: float | None
    throttle_rate: float | None
    cold_start_rate: float | None
    cost_usd: float | None
    covered: timedelta = timedelta(0)
    """How much of the window the store collected for this function's scope: rates divide by this, not by
    the window (a minute never collected is unknown, not a quiet one)."""

    @property
    def key(self) -> FunctionKey:
        return self.info.key

    def per_minute(self, value: float | None) -> float | None:
        """`value` (a sum over the window) per collected minute; None when nothing was collected."""
        seconds = self.covered.total_seconds()
        return None if value is None or seconds <= 0 else value / (seconds / 60.0)

    @property
    def invocations_per_min(self) -> float | None:
        return self.per_minute(self.measures.invocations)

    @property
    def cost_per_hour(self) -> float | None:
        per_minute = self.per_minute(self.cost_usd)
        return None if per_minute is None else per_minute * 60.0

    def to_json(self) -> dict[str, Any]:
        m = self.measures
        key = self.info.key
        return {
            "function": str(key),
            "provider": key.provider,
            "account": key.account,
            "region": key.region,
            "name": key.name,
            "invocations": m.invocations,
            "errors": m.errors,
            "throttles": m.throttles,
            "cold_starts": m.cold_starts,
            "error_rate": self.error_rate,
            "duration_p50_ms": m.duration_p50_ms,
            "duration_p95_ms": m.duration_p95_ms,
            "duration_p99_ms": m.duration_p99_ms,
            "duration_max_ms": m.duration_max_ms,
            "cost_usd": self.cost_usd,
            "covered_s": self.covered.total_seconds(),
            "invocations_per_min": self.invocations_per_min,
            "cost_per_hour": self.cost_per_hour,
        }


def status_of(
    row: FleetRow, window: timedelta, pricing: PricingConfig, covered: timedelta | None = None
) -> FunctionStatus:
    """`row` with its derived measures; rates need `covered` (without it they are unknown, never per window)."""
    m = row.measures
    return FunctionStatus(
        info=row.info,
        measures=m,
        window=window,
        buckets=row.buckets,
        error_rate=error_rate(m),
        throttle_rate=throttle_rate(m),
        cold_start_rate=cold_start_rate(m),
        cost_usd=cost_usd(m, row.info, pricing.price(row.info.key.provider)),
        covered=covered or timedelta(0),
    )


def covered_for(coverage: Mapping[Scope, float], key: FunctionKey) -> timedelta:
    """A function's covered time out of a `SampleStore.coverage` read (its scope's)."""
    return timedelta(seconds=coverage.get((key.provider, key.account, key.region), 0.0))


def statuses_of(
    rows: Iterable[FleetRow], window: timedelta, pricing: PricingConfig, coverage: Mapping[Scope, float]
) -> list[FunctionStatus]:
    spans = {scope: timedelta(seconds=seconds) for scope, seconds in coverage.items()}  # thousands of rows, few scopes
    none = timedelta(0)
    return [status_of(row, window, pricing, spans.get(row.info.key[:3], none)) for row in rows]


def fleet_status(
    store: SampleStore, pricing: PricingConfig, window: timedelta, now: datetime, flt: FleetFilter | None = None
) -> list[FunctionStatus]:
    start = now - window
    return statuses_of(store.fleet(start, now, flt), window, pricing, store.coverage(start, now, flt))


@dataclass(frozen=True, slots=True)
class CoveredTime:
    """How much of a window the store collected across several functions' scopes (the least and the most)."""

    window: timedelta
    least: timedelta
    most: timedelta

    @property
    def note(self) -> str | None:
        """`6h of data` when some scope falls short of the window, else None."""
        return fmt.coverage_note(self.window, self.least, self.most)


def covered_time(statuses: Iterable[FunctionStatus], window: timedelta) -> CoveredTime | None:
    """The spread of covered time over `statuses` (None for no functions: nothing to say)."""
    spans = {s.covered for s in statuses}
    return CoveredTime(window, min(spans), max(spans)) if spans else None


def sum_rates(values: Iterable[float | None]) -> float | None:
    """A total of per-function rates, each over its own scope's covered time; None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


@dataclass(frozen=True, slots=True)
class Fact:
    """One labelled figure of a function, formatted once for every view."""

    id: str  # stable, for element ids and tests
    label: str
    text: str


@dataclass(frozen=True, slots=True)
class FunctionDetail:
    """One function over a window: what the TUI detail screen and the web function page both show."""

    info: FunctionInfo
    status: FunctionStatus
    step_s: int
    series: tuple[Sample, ...]  # buckets of step_s, for the charts
    costs: tuple[float | None, ...]  # per bucket of `series`, by the same estimate as `status.cost_usd`
    alert_events: tuple[AlertEvent, ...]  # newest first, at most ALERT_HISTORY
    errors: tuple[SignatureSummary, ...] | None = None
    """The top signatures in the window, most frequent first (at most TOP_ERRORS); None when no source
    searched the function's errors in the window: unknown, never "no errors"."""
    errors_covered: timedelta = timedelta(0)
    """How much of the window the function's errors were searched over."""
    deploys: tuple[FunctionEvent, ...] = ()  # inside the window, oldest first: the charts' markers
    since_deploy: DeployComparison | None = None  # None: the store knows no deploy of the function
    links: ConsoleLinks = ConsoleLinks(())

    @property
    def key(self) -> FunctionKey:
        return self.info.key

    @property
    def window(self) -> timedelta:
        return self.status.window

    def errors_note(self) -> str:
        """What the top-errors list stands for: `errors unknown: ...`, `no errors in the last 1h`, or how much
        of the window was searched when that is short of it."""
        label = fmt.window_label(self.window)
        if self.errors is None:
            return f"errors unknown: no source searched this function's errors in the last {label}"
        searched = ("" if not fmt.coverage_short(self.window, self.errors_covered)
                    else f" (errors searched over {fmt.covered_of(self.window, self.errors_covered)})")
        if not self.errors:
            return f"no errors in the last {label}{searched}"
        return f"top {len(self.errors)} error signature{'s' * (len(self.errors) != 1)}, last {label}{searched}"

    def since_deploy_fact(self) -> Fact | None:
        """`since deploy  2h ago: err 4.1% (was 0.3%), p95 410ms (was 230ms) · version 105`."""
        return None if self.since_deploy is None else Fact("since-deploy", "since deploy", self.since_deploy.text())

    def setup(self) -> tuple[Fact, ...]:
        """What discovery found."""
        info = self.info
        return (
            Fact("runtime", "runtime", info.runtime or fmt.MISSING),
            Fact("memory", "memory", fmt.MISSING if info.memory_mb is None else f"{info.memory_mb} MB"),
            Fact("timeout", "timeout", fmt.MISSING if info.timeout_s is None else f"{info.timeout_s:g} s"),
        )

    def calls(self) -> tuple[Fact, ...]:
        """Traffic, failures and cost over the window, as rates where the fleet table shows rates."""
        s = self.status
        facts: tuple[Fact, ...] = (
            Fact("inv-min", "inv/min", fmt.rate(s.invocations_per_min)),
            Fact("error-rate", "error %", fmt.percent(s.error_rate)),
            Fact("throttles", "throttles", fmt.count(s.measures.throttles)),
            Fact("cost-h", "cost/h", fmt.usd(s.cost_per_hour)),
        )
        if fmt.coverage_short(s.window, s.covered):  # said where it matters, so a full window reads as before
            facts += (Fact("collected", "collected", fmt.covered_of(s.window, s.covered)),)
        return facts

    def durations(self) -> tuple[Fact, ...]:
        m = self.status.measures
        return (
            Fact("p50", "p50", fmt.millis(m.duration_p50_ms)),
            Fact("p95", "p95", fmt.millis(m.duration_p95_ms)),
            Fact("p99", "p99", fmt.millis(m.duration_p99_ms)),
            Fact("max", "max", fmt.millis(m.duration_max_ms)),
        )

    def cold_starts(self) -> tuple[Fact, ...]:
        m = self.status.measures
        return (
            Fact("cold-rate", "cold start %", fmt.percent(self.status.cold_start_rate)),
            Fact("init-avg", "init avg", fmt.millis(m.init_avg_ms)),
            Fact("init-p95", "init p95", fmt.millis(m.init_p95_ms)),
        )

    def facts(self) -> tuple[Fact, ...]:
        return (*self.setup(), *self.calls(), *self.durations(), *self.cold_starts())


def function_detail(
    store: Store, pricing: PricingConfig, key: FunctionKey, start: datetime, end: datetime, step_s: int
) -> FunctionDetail | None:
    """`key` over [start, end), or None when the store does not know the function.

    The status aggregates the function's own samples by the schema's rules, the rules the store's
    fleet read follows in SQL, so the detail repeats the numbers of the function's fleet row; it reads
    one function's samples, not its region's. Errors are unknown (None) unless a source searched the
    function's errors during the window.
    """
    info = store.function(key)
    if info is None:
        return None
    raw = store.series(key, start, end)
    covered = covered_for(store.coverage(start, end, FleetFilter(key.provider, key.account, key.region)), key)
    status = status_of(FleetRow(info, aggregate(raw), len(raw)), end - start, pricing, covered)
    series = tuple(store.series(key, start, end, step_s))
    price = pricing.price(key.provider)
    errors_covered = errors_searched(store.error_coverage([key]).get(key), start, end)
    return FunctionDetail(
        info=info,
        status=status,
        step_s=step_s,
        series=series,
        costs=tuple(cost_usd(s, info, price) for s in series),
        alert_events=tuple(store.alert_events(key=key, limit=ALERT_HISTORY)),
        errors=None if errors_covered <= timedelta(0) else tuple(store.top_errors(key, start, end, TOP_ERRORS)),
        errors_covered=errors_covered,
        deploys=window_deploys(store, key, start, end),
        since_deploy=since_last_deploy(store, store, key, end),
        links=console_links(info, start, end),
    )


def errors_searched(span: tuple[datetime, datetime] | None, start: datetime, end: datetime) -> timedelta:
    """How much of [start, end) a function's error-search span (`ErrorEventStore.error_coverage`) covers."""
    if span is None:
        return timedelta(0)
    return max(timedelta(0), min(span[1], end) - max(span[0], start))
