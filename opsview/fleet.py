"""The fleet as viewers show it: one row per function over a window, derived measures filled in.

The TUI, the web app, `opsview status` and alert top-N lists all build on `fleet_status`,
so a number means the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from opsview.config import PricingConfig
from opsview.schema import FunctionInfo, FunctionKey, Measures, cold_start_rate, cost_usd, error_rate, throttle_rate
from opsview.store import FleetFilter, FleetRow, SampleStore

STATUS_JSON_KEYS = (
    "function", "provider", "account", "region", "name", "invocations", "errors", "throttles", "cold_starts",
    "error_rate", "duration_p50_ms", "duration_p95_ms", "duration_p99_ms", "duration_max_ms", "cost_usd",
)


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

    @property
    def key(self) -> FunctionKey:
        return self.info.key

    @property
    def invocations_per_min(self) -> float | None:
        inv = self.measures.invocations
        return None if inv is None else inv / (self.window.total_seconds() / 60.0)

    @property
    def cost_per_hour(self) -> float | None:
        return None if self.cost_usd is None else self.cost_usd * 3600.0 / self.window.total_seconds()

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
        }

    def measures_dict(self) -> dict[str, Any]:
        return asdict(self.measures)


def status_of(row: FleetRow, window: timedelta, pricing: PricingConfig) -> FunctionStatus:
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
    )


def fleet_status(
    store: SampleStore, pricing: PricingConfig, window: timedelta, now: datetime, flt: FleetFilter | None = None
) -> list[FunctionStatus]:
    return [status_of(row, window, pricing) for row in store.fleet(now - window, now, flt)]
