"""Reads for the pages: everything aggregated and downsampled on the server, typed until it is drawn.

Derived measures come from `opsview.schema` / `opsview.fleet` only, so the web shows the same
numbers as the TUI, `opsview status` and the alert engine.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from urllib.parse import quote

from opsview.config import PricingConfig
from opsview.error_records import SignatureSummary
from opsview.fleet import CoveredTime, FunctionStatus, covered_time, errors_searched, statuses_of, sum_rates
from opsview.schema import (
    CollectorHealth,
    FunctionKey,
    Measures,
    aggregate,
    cold_start_rate,
    error_rate,
    floor_time,
)
from opsview.store import ErrorEventStore, FleetFilter, FleetRow, SampleStore, Scope
from opsview.web.reads import ReadCache
from opsview.web.view import PageQuery, choose_step

TOTAL = "total"


@dataclass(frozen=True, slots=True)
class Rates:
    """Per collected time, summed over functions (each over its own scope's coverage): what the cards compare,
    so a window the store collected only part of is not read as a drop."""

    invocations_per_min: float | None = None
    throttles_per_min: float | None = None
    cost_per_hour: float | None = None

    @classmethod
    def of(cls, statuses: Sequence[FunctionStatus]) -> Rates:
        return cls(
            sum_rates(s.invocations_per_min for s in statuses),
            sum_rates(s.per_minute(s.measures.throttles) for s in statuses),
            sum_rates(s.cost_per_hour for s in statuses),
        )

    @classmethod
    def total(cls, parts: Sequence[Rates]) -> Rates:
        return cls(
            sum_rates(p.invocations_per_min for p in parts),
            sum_rates(p.throttles_per_min for p in parts),
            sum_rates(p.cost_per_hour for p in parts),
        )


@dataclass(frozen=True, slots=True)
class Kpi:
    """One card: a provider (or the total) over the window and the window before."""

    label: str
    current: Measures
    previous: Measures
    cost: float | None
    previous_cost: float | None
    functions: int
    rates: Rates = Rates()
    previous_rates: Rates = Rates()
    covered: CoveredTime | None = None  # how much of the window the store collected for these functions
    previous_covered: CoveredTime | None = None

    @property
    def invocations_per_min(self) -> float | None:
        return self.rates.invocations_per_min

    @property
    def covered_s(self) -> float | None:
        """Seconds of the window collected for the least covered scope (None: no functions)."""
        return None if self.covered is None else self.covered.least.total_seconds()

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
class ProviderTraces:
    """The overview's charts, from the per-provider series: invocations and errors one trace per provider,
    duration percentiles merged over the selected providers."""

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


# Each aggregate costs per sample scanned (5,000 functions x 1 h is 300k rows), so the overview
# asks the store only for the measures it shows: KPIs, the top-10 lists and the cost estimate.
_COST_MEASURES = frozenset({"invocations", "billed_ms", "duration_avg_ms"})
PREVIOUS_MEASURES = _COST_MEASURES | {"errors", "throttles", "cold_starts", "duration_p95_ms"}
CURRENT_MEASURES = PREVIOUS_MEASURES | {"duration_p99_ms"}
# The charts: stacked invocations and errors, and the fleet's duration percentiles (weighted by invocations).
SERIES_MEASURES = frozenset({"invocations", "errors", "duration_p50_ms", "duration_p95_ms", "duration_p99_ms"})


@dataclass(frozen=True, slots=True)
class OverviewReads:
    """What the overview reads for one window, for every provider: the provider filter is applied
    afterwards in memory, so switching providers reuses one read."""

    window: timedelta
    step_s: int
    key: Hashable  # what determines these reads: results derived from them are cached under it
    current: list[FleetRow]  # per function, CURRENT_MEASURES only
    previous: list[FleetRow]  # per function over the window before, PREVIOUS_MEASURES only
    series: dict[str, list[tuple[datetime, Measures]]]  # per provider, downsampled to step_s
    covered: Mapping[Scope, float]  # seconds of the window collected, per scope
    previous_covered: Mapping[Scope, float]


def settled_now(now: datetime) -> datetime:
    """`now` rounded up to the minute: the same samples fall in the window (they start on
    whole minutes), and every request within that minute shares one cache key."""
    floored = floor_time(now, 60)
    return floored if floored == now else floored + timedelta(seconds=60)


def overview_reads_at_hand(cache: ReadCache, view: PageQuery, now: datetime) -> bool:
    """Whether `view`'s reads (unfiltered by provider) are being made or were made within the cache's TTL."""
    now = settled_now(now)
    start, end = view.window(now)
    prev_start, prev_end = view.previous_window(now)
    flt = FleetFilter(None, view.account, view.region)
    return all(cache.has((*key, flt)) for key in (
        ("fleet", start, end, CURRENT_MEASURES), ("fleet", prev_start, prev_end, PREVIOUS_MEASURES),
        ("provider_series", start, end, choose_step(start, end), SERIES_MEASURES),
        ("coverage", start, end), ("coverage", prev_start, prev_end)))


def submit_overview_reads(store: SampleStore, cache: ReadCache, view: PageQuery,
                          now: datetime) -> Callable[[], OverviewReads]:
    """Start (or join) the overview's three reads in parallel; the result waits for them.

    A read of every provider already at hand serves a provider filter (switching providers costs
    no query); otherwise the filter goes to the store, which then scans only that provider."""
    now = settled_now(now)
    start, end = view.window(now)
    prev_start, prev_end = view.previous_window(now)
    step = choose_step(start, end)
    keys = {
        "current": ("fleet", start, end, CURRENT_MEASURES),
        "previous": ("fleet", prev_start, prev_end, PREVIOUS_MEASURES),
        "series": ("provider_series", start, end, step, SERIES_MEASURES),
        "covered": ("coverage", start, end),
        "previous_covered": ("coverage", prev_start, prev_end),
    }
    flt = FleetFilter(None, view.account, view.region)
    if view.provider is not None and not overview_reads_at_hand(cache, view, now):
        flt = view.filter
    current = cache.submit((*keys["current"], flt), lambda: store.fleet(start, end, flt, measures=CURRENT_MEASURES))
    previous = cache.submit((*keys["previous"], flt),
                            lambda: store.fleet(prev_start, prev_end, flt, measures=PREVIOUS_MEASURES))
    series = cache.submit((*keys["series"], flt),
                          lambda: store.provider_series(start, end, step, flt, measures=SERIES_MEASURES))
    covered = cache.submit((*keys["covered"], flt), lambda: store.coverage(start, end, flt))
    previous_covered = cache.submit((*keys["previous_covered"], flt), lambda: store.coverage(prev_start, prev_end, flt))
    key = tuple((*k, flt) for k in keys.values())
    return lambda: OverviewReads(end - start, step, key, current.result(), previous.result(), series.result(),
                                 covered.result(), previous_covered.result())


def read_overview(store: SampleStore, cache: ReadCache, view: PageQuery, now: datetime) -> OverviewReads:
    return submit_overview_reads(store, cache, view, now)()


NEW_ERRORS_LIMIT = 20  # the overview's "New error types", most frequent first


@dataclass(frozen=True, slots=True)
class NewErrors:
    """Signatures first seen inside the window, across the selected functions, and how many of those
    functions had their errors searched in it (0: unknown, which is not "none new")."""

    window: timedelta
    signatures: list[SignatureSummary]
    watched: int


def _new_errors(store: ErrorEventStore, start: datetime, end: datetime, flt: FleetFilter) -> NewErrors:
    found = store.fleet_errors(start, end, flt, new_only=True, limit=NEW_ERRORS_LIMIT)
    watched = sum(
        1 for key, span in store.error_coverage().items()
        if all(want is None or want == have for want, have in zip((flt.provider, flt.account, flt.region), key[:3],
                                                                  strict=True))
        and errors_searched(span, start, end) > timedelta(0)
    )
    return NewErrors(end - start, found, watched)


def submit_new_errors(store: ErrorEventStore, cache: ReadCache, view: PageQuery,
                      now: datetime) -> Callable[[], NewErrors]:
    """Start (or join) the overview's new-error-types read (one query for the signatures, one for the
    functions whose errors were searched); the result waits for it."""
    now = settled_now(now)
    start, end = view.window(now)
    flt = view.filter
    future = cache.submit(("new_errors", start, end, flt), lambda: _new_errors(store, start, end, flt))
    return future.result


def _derive(reads: OverviewReads, pricing: PricingConfig, provider: str | None) -> tuple[Overview, ProviderTraces]:
    return overview(reads, pricing, provider), provider_traces(reads, provider)


def cached_overview(cache: ReadCache, reads: OverviewReads, pricing: PricingConfig,
                    provider: str | None = None) -> tuple[Overview, ProviderTraces]:
    """`overview` and `provider_traces` for one provider filter, kept as long as the reads they come from
    (the cache belongs to one app, so `pricing` is fixed). Deriving them walks every function's row:
    ~0.1 s at 5,000 functions."""
    return cache.get(("overview", reads.key, provider), partial(_derive, reads, pricing, provider))


def warm_overviews(cache: ReadCache, reads: OverviewReads, pricing: PricingConfig) -> None:
    """Derive each provider's overview in the background, so that switching the provider filter after
    viewing all of them only formats what is ready. One task, one provider after the other: the work
    holds the GIL, and a response being written at the same time should get most of it."""
    missing = [name for name in sorted({r.info.key.provider for r in reads.current})
               if not cache.has(("overview", reads.key, name))]

    def warm() -> None:
        for name in missing:
            cache.put(("overview", reads.key, name), _derive(reads, pricing, name))

    if missing:
        cache.submit(("warm overviews", reads.key), warm)


def _by_provider(rows: Sequence[FleetRow], provider: str | None) -> dict[str, list[FleetRow]]:
    out: dict[str, list[FleetRow]] = {}
    for r in rows:
        if provider is None or r.info.key.provider == provider:
            out.setdefault(r.info.key.provider, []).append(r)
    return out


def overview(reads: OverviewReads, pricing: PricingConfig, provider: str | None = None) -> Overview:
    """KPI cards and top lists. Totals are aggregated from the per-function rows by the schema's
    rules: sums and maxima are exact; p95 weighs each function by its invocations, which equals
    weighing each sample by its invocations (as `Store.totals` does) whenever samples carrying a
    percentile also carry their invocations."""
    current = _by_provider(reads.current, provider)
    previous = _by_provider(reads.previous, provider)
    kpis: list[Kpi] = []
    statuses: list[FunctionStatus] = []
    for name in sorted(current.keys() | previous.keys()):
        mine = statuses_of(current.get(name, []), reads.window, pricing, reads.covered)
        before = statuses_of(previous.get(name, []), reads.window, pricing, reads.previous_covered)
        statuses.extend(mine)
        kpis.append(Kpi(name, aggregate(s.measures for s in mine), aggregate(s.measures for s in before),
                        _sum_cost(mine), _sum_cost(before), len(mine), Rates.of(mine), Rates.of(before),
                        covered_time(mine, reads.window), covered_time(before, reads.window)))
    prev_costs = [k.previous_cost for k in kpis if k.previous_cost is not None]
    total = Kpi(
        TOTAL, aggregate(k.current for k in kpis), aggregate(k.previous for k in kpis),
        _sum_cost(statuses), sum(prev_costs) if prev_costs else None, len(statuses),
        Rates.total([k.rates for k in kpis]), Rates.total([k.previous_rates for k in kpis]),
        _spread([k.covered for k in kpis]), _spread([k.previous_covered for k in kpis]),
    )
    return Overview([total, *kpis], top_lists(statuses), statuses)


def _spread(parts: Sequence[CoveredTime | None]) -> CoveredTime | None:
    known = [p for p in parts if p is not None]
    if not known:
        return None
    return CoveredTime(known[0].window, min(p.least for p in known), max(p.most for p in known))


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


def provider_traces(reads: OverviewReads, provider: str | None = None) -> ProviderTraces:
    by_provider = {p: pts for p, pts in reads.series.items() if provider is None or p == provider}
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
    return ProviderTraces(reads.step_s, invocations, errors, percentiles)


def health_rows(store: SampleStore) -> list[HealthRow]:
    rows = []
    for h in store.latest_health():
        last_success = h.at if h.ok else _last_success(store, h)
        rows.append(HealthRow(h.source, h.scope, h.provider, h.ok, h.at, h.error, last_success, h.functions,
                              h.samples))
    return rows


def _last_success(store: SampleStore, latest: CollectorHealth) -> datetime | None:
    for h in store.health_history(latest.source, limit=500):
        if h.scope == latest.scope and h.ok:
            return h.at
    return None
