"""Reads the TUI makes from the store. They run in thread workers, never on the UI thread."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsview.alert_records import AlertEvent, AlertRecord, AlertState
from opsview.config import Config
from opsview.fleet import FunctionStatus, fleet_status
from opsview.schema import CollectorHealth, FunctionInfo, FunctionKey, Sample
from opsview.store import AlertStore, FleetFilter, SampleStore, Store
from opsview.tui.model import SPARK_STEP_S, FleetSnapshot, Sparks, ViewState, spark_grid, spark_values

DETAIL_POINTS = 60


def load_fleet(store: SampleStore, config: Config, view: ViewState, now: datetime) -> FleetSnapshot:
    """Every function over the window, without sparklines (`load_sparks` reads those separately).

    Split in two so the table paints as soon as the fleet read lands instead of also waiting for
    the sparkline series, the slower of the two reads at thousands of functions.
    """
    flt = FleetFilter(provider=view.provider)
    statuses = fleet_status(store, config.pricing, view.window, now, flt)
    return FleetSnapshot(
        view=view,
        read_at=now,
        statuses=tuple(statuses),
        sparks={},
        health=tuple(store.latest_health()),
        totals=store.totals(now - view.window, now, flt),
        counts=Counter(s.key.provider for s in statuses),
    )


def load_sparks(store: SampleStore, view: ViewState, now: datetime) -> dict[FunctionKey, Sparks]:
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
    info: FunctionInfo | None
    status: FunctionStatus | None
    window: timedelta
    step_s: int
    series: tuple[Sample, ...]
    health: tuple[CollectorHealth, ...]  # the latest entry of each scope that speaks for this function
    failures: tuple[CollectorHealth, ...]  # its recent failed collections, newest first
    alert_events: tuple[AlertEvent, ...]


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
    step = detail_step(window)
    flt = FleetFilter(provider=key.provider, account=key.account, region=key.region)
    status = next((s for s in fleet_status(store, config.pricing, window, now, flt) if s.key == key), None)
    history = store.health_history(since=now - timedelta(days=1), limit=200)
    return DetailData(
        key=key,
        info=store.function(key),
        status=status,
        window=window,
        step_s=step,
        series=tuple(store.series(key, now - window, now, step)),
        health=tuple(h for h in store.latest_health() if speaks_for(h, key)),
        failures=tuple(h for h in history if not h.ok and speaks_for(h, key))[:5],
        alert_events=tuple(store.alert_events(key=key, limit=20)),
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
