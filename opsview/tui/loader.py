"""Reads the TUI makes from the store. They run in thread workers, never on the UI thread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from opsview.alert_records import AlertRecord, AlertState
from opsview.alerts.display import configured_measures
from opsview.config import Config
from opsview.fleet import FunctionDetail, covered_time, fleet_status, function_detail, sum_rates
from opsview.schema import CollectorHealth, FunctionKey
from opsview.store import AlertStore, FleetFilter, SampleStore, Store
from opsview.tui.model import SPARK_STEP_S, FleetSnapshot, FleetTableView, Sparks, spark_grid, spark_values

DETAIL_POINTS = 60


def load_fleet(store: SampleStore, config: Config, view: FleetTableView, now: datetime) -> FleetSnapshot:
    """Every function over the window, without sparklines (`load_sparks` reads those separately).

    Split in two so the table paints as soon as the fleet read lands instead of also waiting for
    the sparkline series, the slower of the two reads at thousands of functions.
    """
    flt = FleetFilter(provider=view.provider)
    statuses = fleet_status(store, config.pricing, view.window, now, flt)
    rates: dict[str, list[float | None]] = {}
    for s in statuses:  # each function's rate is over its own scope's collected time
        rates.setdefault(s.key.provider, []).append(s.invocations_per_min)
    return FleetSnapshot(
        view=view,
        read_at=now,
        statuses=tuple(statuses),
        sparks={},
        health=tuple(store.latest_health()),
        totals=store.totals(now - view.window, now, flt),
        counts=Counter(s.key.provider for s in statuses),
        per_minute={provider: sum_rates(values) for provider, values in rates.items()},
        covered=covered_time(statuses, view.window),
    )


def load_sparks(store: SampleStore, view: FleetTableView, now: datetime) -> dict[FunctionKey, Sparks]:
    """Invocations and errors over the last hour, per function, from one `fleet_series` query."""
    flt = FleetFilter(provider=view.provider)
    start, end = spark_grid(now)
    series = store.fleet_series(start, end, SPARK_STEP_S, flt, measures=("invocations", "errors"))
    return {
        key: (spark_values(points, start, end, "invocations"), spark_values(points, start, end, "errors"))
        for key, points in series.items()
    }


@dataclass(frozen=True, slots=True)
class DetailData:
    key: FunctionKey
    window: timedelta
    detail: FunctionDetail | None  # None: the store does not know the function (removed?)
    health: tuple[CollectorHealth, ...]  # the latest entry of each scope that speaks for this function
    failures: tuple[CollectorHealth, ...]  # its recent failed collections, newest first
    alert_measures: Mapping[str, str] = field(default_factory=dict)  # rule name -> measure, for alert history


def detail_step(window: timedelta) -> int:
    """A bucket size giving at most DETAIL_POINTS points, in whole minutes."""
    minutes = max(1, -(-int(window.total_seconds()) // 60 // DETAIL_POINTS))
    return minutes * 60


def speaks_for(health: CollectorHealth, key: FunctionKey) -> bool:
    """Whether a health entry is about the source that collects `key` (demo sources collect every cloud)."""
    if health.provider not in (key.provider, "demo"):
        return False
    return not health.scope or key.account in health.scope or key.region in health.scope


def load_detail(store: Store, config: Config, key: FunctionKey, window: timedelta, now: datetime) -> DetailData:
    """The function page's read (`function_detail`, shared with the web) plus its source's collection health."""
    history = store.health_history(since=now - timedelta(days=1), limit=200)
    return DetailData(
        key=key,
        window=window,
        detail=function_detail(store, config.pricing, key, now - window, now, detail_step(window)),
        health=tuple(h for h in store.latest_health() if speaks_for(h, key)),
        failures=tuple(h for h in history if not h.ok and speaks_for(h, key))[:5],
        alert_measures=configured_measures(config),
    )


ACTIVE_ALERTS = {AlertState.FIRING, AlertState.PENDING}


def load_alerts(store: AlertStore) -> list[AlertRecord]:
    """Firing first, then pending; the most severe and the oldest first within each."""
    records: Sequence[AlertRecord] = store.alert_records(ACTIVE_ALERTS)
    rank = {"critical": 0, "error": 1, "warning": 2, "info": 3}
    return sorted(
        records,
        key=lambda r: (r.state is not AlertState.FIRING, rank.get(r.severity.lower(), 9), r.since, r.rule, r.key),
    )
