"""Reads for the pages: everything aggregated and downsampled on the server, typed until it is drawn.

Derived measures come from `opsview.schema` / `opsview.fleet` only, so the web shows the same
numbers as the TUI, `opsview status` and the alert engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from dashboards.view import ViewState, choose_step
from opsview.config import PricingConfig
from opsview.fleet import FunctionStatus, fleet_status, status_of
from opsview.schema import (
    CollectorHealth,
    FunctionInfo,
    FunctionKey,
    Measures,
    Sample,
    aggregate,
    cold_start_rate,
    cost_usd,
    error_rate,
)
from opsview.store import FleetRow, Store

TOTAL = "total"


@dataclass(frozen=True, slots=True)
class Kpi:
    """One card: a provider (or the total) over the window and the window before."""

    label: str
    current: Measures
    previous: Measures
    cost: float | None
    previous_cost: float | None
    functions: int

    @property
    def error_rate(self) -> float | None:
        return error_rate(self.current)

    @property
    def previous_error_rate(self) -> float | None:
        return error_rate(self.previous)

    @property
    def cold_start_rate(self) -> float | None:
        return cold_start_rate(self.current)

    @property
    def previous_cold_start_rate(self) -> float | None:
        return cold_start_rate(self.previous)


@dataclass(frozen=True, slots=True)
class TopEntry:
    key: FunctionKey
    value: float | int


@dataclass(frozen=True, slots=True)
class TopList:
    title: str
    measure: str  # how to format the value: count | millis | usd
    entries: list[TopEntry]


@dataclass(frozen=True, slots=True)
class Overview:
    kpis: list[Kpi]  # total first, then providers
    tops: list[TopList]
    statuses: list[FunctionStatus]


@dataclass(frozen=True, slots=True)
class Trace:
    name: str
    times: list[datetime]
    values: list[float | int | None]


@dataclass(frozen=True, slots=True)
class FleetSeries:
    step_s: int
    invocations: list[Trace]  # one per provider
    errors: list[Trace]
    percentiles: list[Trace]  # p50, p95, p99 over the selection


@dataclass(frozen=True, slots=True)
class HealthRow:
    source: str
    scope: str
    provider: str
    ok: bool
    at: datetime
    error: str | None
    last_success: datetime | None
    functions: int
    samples: int


def function_href(key: FunctionKey, query: str = "") -> str:
    """`/function/<key>` with the key as one URL segment (Azure names hold a slash)."""
    return f"/function/{quote(str(key), safe='')}" + (f"?{query}" if query else "")


def _sum_cost(statuses: Sequence[FunctionStatus]) -> float | None:
    known = [s.cost_usd for s in statuses if s.cost_usd is not None]
    return sum(known) if known else None


def overview(store: Store, pricing: PricingConfig, view: ViewState, now: datetime) -> Overview:
    start, end = view.window(now)
    prev_start, prev_end = view.previous_window(now)
    flt = view.filter
    current = store.totals(start, end, flt)
    previous = store.totals(prev_start, prev_end, flt)
    statuses = fleet_status(store, pricing, end - start, end, flt)
    prev_statuses = fleet_status(store, pricing, prev_end - prev_start, prev_end, flt)
    providers = sorted({s.key.provider for s in statuses} | set(current) | set(previous))
    kpis = [
        Kpi(TOTAL, aggregate(current.values()), aggregate(previous.values()), _sum_cost(statuses),
            _sum_cost(prev_statuses), len(statuses))
    ]
    for provider in providers:
        mine = [s for s in statuses if s.key.provider == provider]
        kpis.append(Kpi(
            provider, current.get(provider, Measures()), previous.get(provider, Measures()), _sum_cost(mine),
            _sum_cost([s for s in prev_statuses if s.key.provider == provider]), len(mine),
        ))
    return Overview(kpis, top_lists(statuses), statuses)


def _top(statuses: Sequence[FunctionStatus], value: Callable[[FunctionStatus], float | int | None],
         n: int = 10) -> list[TopEntry]:
    scored = [(s, v) for s in statuses if (v := value(s)) is not None and v > 0]
    scored.sort(key=lambda pair: pair[1], reverse=True)
    return [TopEntry(s.key, v) for s, v in scored[:n]]


def top_lists(statuses: Sequence[FunctionStatus]) -> list[TopList]:
    return [
        TopList("Most errors", "count", _top(statuses, lambda s: s.measures.errors)),
        TopList("Slowest p99", "millis", _top(statuses, lambda s: s.measures.duration_p99_ms)),
        TopList("Most throttled", "count", _top(statuses, lambda s: s.measures.throttles)),
        TopList("Most cold starts", "count", _top(statuses, lambda s: s.measures.cold_starts)),
        TopList("Most expensive", "usd", _top(statuses, lambda s: s.cost_usd)),
    ]


def fleet_series(store: Store, view: ViewState, now: datetime) -> FleetSeries:
    start, end = view.window(now)
    step = choose_step(start, end)
    by_provider = store.provider_series(start, end, step, view.filter)
    invocations = [Trace(p, [t for t, _ in pts], [m.invocations for _, m in pts]) for p, pts in by_provider.items()]
    errors = [Trace(p, [t for t, _ in pts], [m.errors for _, m in pts]) for p, pts in by_provider.items()]
    per_time: dict[datetime, list[Measures]] = {}
    for pts in by_provider.values():
        for t, m in pts:
            per_time.setdefault(t, []).append(m)
    times = sorted(per_time)
    merged = [aggregate(per_time[t]) for t in times]
    percentiles = [
        Trace("p50", times, [m.duration_p50_ms for m in merged]),
        Trace("p95", times, [m.duration_p95_ms for m in merged]),
        Trace("p99", times, [m.duration_p99_ms for m in merged]),
    ]
    return FleetSeries(step, invocations, errors, percentiles)


@dataclass(frozen=True, slots=True)
class FunctionView:
    info: FunctionInfo
    status: FunctionStatus
    step_s: int
    samples: list[Sample]
    costs: list[float | None]  # per sample, by the same estimate as everywhere else


def function_view(store: Store, pricing: PricingConfig, key: FunctionKey, view: ViewState,
                  now: datetime) -> FunctionView | None:
    info = store.function(key)
    if info is None:
        return None
    start, end = view.window(now)
    step = choose_step(start, end)
    samples = store.series(key, start, end, step)
    price = pricing.price(key.provider)
    raw = store.series(key, start, end)
    status = status_of(FleetRow(info, aggregate(raw), len(raw)), end - start, pricing)
    return FunctionView(info, status, step, samples, [cost_usd(s, info, price) for s in samples])


def health_rows(store: Store) -> list[HealthRow]:
    rows = []
    for h in store.latest_health():
        last_success = h.at if h.ok else _last_success(store, h)
        rows.append(HealthRow(h.source, h.scope, h.provider, h.ok, h.at, h.error, last_success, h.functions,
                              h.samples))
    return rows


def _last_success(store: Store, latest: CollectorHealth) -> datetime | None:
    for h in store.health_history(latest.source, limit=500):
        if h.scope == latest.scope and h.ok:
            return h.at
    return None
