"""The built-in demo fleet: our counterpart of Grafana's TestData source.

About 60 functions across AWS, Azure and GCP (times `scale`), with diurnal traffic, idle
gaps that scale to zero and cold-start on the next request, throttle bursts past a
concurrency limit, and a few troubled functions an on-call engineer should spot:

- `aws/.../payments-webhook` has an error spike for 30 minutes of every 90;
- `gcp/.../search-indexer` has a p99 that creeps up over the day toward its timeout;
- `aws/.../report-generator` runs into its 30 s timeout;
- `aws/.../image-resize` and `azure/.../orders-func/ProcessOrder` get throttle bursts.

Every error has a message and so a signature, and a few functions deploy on a schedule, each
payments-webhook and search-indexer release bringing a failure of its own (`demo_errors`).

Every value is a pure function of (seed, function, minute), computed with a counter-based
hash, so collecting any window twice gives the same numbers and the store stays idempotent.
It leaves the gaps real providers leave: no concurrency outside AWS, no init durations
outside AWS, no cold starts (and no throttles) for GCP gen1, and no bucket at all for an
idle minute, as CloudWatch does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from opsview.collectors.base import CollectRequest, CollectResult
from opsview.collectors.demo_errors import deploys, observations
from opsview.config import Config, DemoSource
from opsview.error_records import ErrorCoverage, ErrorObservation, FunctionEvent
from opsview.schema import (
    CollectorHealth,
    Coverage,
    FunctionInfo,
    FunctionKey,
    Sample,
    floor_time,
    from_epoch,
    to_epoch,
    utcnow,
)

Floats = npt.NDArray[np.float64]

# runtime -> (init ms low, init ms high, duration scale)
_RUNTIMES: dict[str, tuple[float, float]] = {
    "python3.12": (150, 400),
    "nodejs20.x": (150, 350),
    "go1.x": (100, 200),
    "provided.al2023": (100, 200),
    "java21": (500, 1000),
    "dotnet8": (400, 800),
}


@dataclass(frozen=True, slots=True)
class DemoFunction:
    info: FunctionInfo
    index: int
    rate_per_min: float  # mean invocations per minute at the daily average
    duration_ms: float  # median duration
    error_rate: float
    concurrency_limit: float | None
    idle_minutes: int  # idle time after which the platform scales to zero
    init_range: tuple[float, float]
    trait: str = ""  # error-spike | p99-creep | timeout | burst | ""

    @property
    def errors_per_min(self) -> float:
        """Everyday errors per minute (outside spikes and timeouts)."""
        return self.rate_per_min * self.error_rate

    @property
    def generation(self) -> str:
        return self.info.labels.get("generation", "")


# (provider, account, region, name, runtime, memory MB, timeout s, rate/min, median ms, trait, extra labels)
_BASE: tuple[tuple[str, str, str, str, str, int, float, float, float, str, dict[str, str]], ...] = (
    ("aws", "111111111111", "us-east-1", "checkout-api", "nodejs20.x", 1024, 10, 420, 85, "", {}),
    ("aws", "111111111111", "us-east-1", "payments-webhook", "python3.12", 512, 15, 95, 140, "error-spike", {}),
    ("aws", "111111111111", "us-east-1", "orders-worker", "java21", 2048, 60, 160, 320, "", {}),
    ("aws", "111111111111", "us-east-1", "image-resize", "provided.al2023", 1769, 30, 55, 650, "burst", {}),
    ("aws", "111111111111", "us-east-1", "auth-authorizer", "go1.x", 256, 5, 900, 12, "", {}),
    ("aws", "111111111111", "us-east-1", "report-generator", "python3.12", 3008, 30, 0.6, 9000, "timeout", {}),
    ("aws", "111111111111", "us-east-1", "email-sender", "nodejs20.x", 256, 20, 30, 210, "", {}),
    ("aws", "111111111111", "us-east-1", "nightly-export", "python3.12", 1024, 900, 0.05, 42000, "", {}),
    ("aws", "111111111111", "us-east-1", "cart-service", "dotnet8", 1024, 15, 240, 60, "", {}),
    ("aws", "111111111111", "us-east-1", "s3-thumbnailer", "python3.12", 1024, 60, 12, 880, "", {}),
    ("aws", "111111111111", "eu-west-1", "checkout-api", "nodejs20.x", 1024, 10, 260, 90, "", {}),
    ("aws", "111111111111", "eu-west-1", "orders-worker", "java21", 2048, 60, 90, 300, "", {}),
    ("aws", "111111111111", "eu-west-1", "auth-authorizer", "go1.x", 256, 5, 520, 11, "", {}),
    ("aws", "111111111111", "eu-west-1", "gdpr-eraser", "python3.12", 512, 120, 0.2, 2400, "", {}),
    ("aws", "111111111111", "eu-west-1", "inventory-sync", "go1.x", 512, 30, 20, 150, "", {}),
    ("aws", "111111111111", "eu-west-1", "webhook-relay", "nodejs20.x", 256, 10, 45, 70, "", {}),
    ("aws", "222222222222", "us-west-2", "checkout-api", "nodejs20.x", 512, 10, 3, 95, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "orders-worker", "java21", 1024, 60, 1.5, 340, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "auth-authorizer", "go1.x", 128, 5, 8, 14, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "load-test-driver", "python3.12", 2048, 300, 0.1, 30000, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "feature-flags", "nodejs20.x", 128, 3, 14, 18, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "image-resize", "provided.al2023", 1024, 30, 0.8, 700, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "email-sender", "nodejs20.x", 256, 20, 0.5, 230, "", {"env": "staging"}),
    ("aws", "222222222222", "us-west-2", "canary", "python3.12", 128, 10, 1, 320, "", {"env": "staging"}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/ProcessOrder", "dotnet8", 1536, 300, 140, 260, "burst", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/GetOrder", "dotnet8", 1536, 300, 380, 45, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/CancelOrder", "dotnet8", 1536, 300, 6, 180, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/OrderTimer", "dotnet8", 1536, 300, 0.2, 1500, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "orders-func/OrderQueue", "dotnet8", 1536, 300, 75, 95, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "notify-func/SendSms", "nodejs20.x", 512, 300, 18, 320, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "notify-func/SendEmail", "nodejs20.x", 512, 300, 42, 260, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "notify-func/SendPush", "nodejs20.x", 512, 300, 66, 110, "", {}),
    ("azure", "0f1e2d3c-demo-4b5a-9c8d-7e6f5a4b3c2d", "westeurope", "notify-func/Digest", "nodejs20.x", 512, 300, 0.1, 5200, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "billing-func/CreateInvoice", "python3.12", 1536, 600, 12, 850, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "billing-func/ChargeCard", "python3.12", 1536, 600, 25, 420, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "billing-func/Refund", "python3.12", 1536, 600, 0.8, 610, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "billing-func/MonthlyClose", "python3.12", 1536, 600, 0.03, 60000, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "billing-func/WebhookIn", "python3.12", 1536, 600, 30, 130, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "etl-func/Extract", "java21", 1536, 600, 4, 4200, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "etl-func/Transform", "java21", 1536, 600, 4, 2600, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "etl-func/Load", "java21", 1536, 600, 4, 1900, "", {}),
    ("azure", "7a6b5c4d-demo-4e3f-8a1b-2c3d4e5f6a7b", "eastus", "etl-func/Validate", "java21", 1536, 600, 4, 700, "", {}),
    ("gcp", "demo-shop-prod", "us-central1", "storefront-ssr", "nodejs20.x", 512, 60, 310, 120, "", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "search-indexer", "python3.12", 1024, 120, 40, 900, "p99-creep", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "recommendations", "python3.12", 2048, 60, 150, 240, "", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "cart-events", "go1.x", 256, 60, 220, 25, "", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "pubsub-fanout", "go1.x", 256, 60, 80, 35, "", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "pdf-invoice", "nodejs20.x", 1024, 120, 3, 2600, "", {"generation": "gen2"}),
    ("gcp", "demo-shop-prod", "us-central1", "legacy-contact-form", "nodejs20.x", 256, 60, 0.7, 300, "", {"generation": "gen1"}),
    ("gcp", "demo-shop-prod", "us-central1", "legacy-sitemap", "python3.12", 256, 60, 0.1, 4100, "", {"generation": "gen1"}),
    ("gcp", "demo-shop-prod", "us-central1", "legacy-newsletter", "nodejs20.x", 256, 60, 2, 480, "", {"generation": "gen1"}),
    ("gcp", "demo-data-prod", "europe-west1", "bq-loader", "python3.12", 2048, 540, 6, 7200, "", {"generation": "gen2"}),
    ("gcp", "demo-data-prod", "europe-west1", "gcs-trigger", "go1.x", 512, 60, 35, 140, "", {"generation": "gen2"}),
    ("gcp", "demo-data-prod", "europe-west1", "dlp-scan", "java21", 2048, 300, 2, 5200, "", {"generation": "gen2"}),
    ("gcp", "demo-data-prod", "europe-west1", "metrics-rollup", "go1.x", 512, 60, 10, 600, "", {"generation": "gen2"}),
    ("gcp", "demo-data-prod", "europe-west1", "events-ingest", "nodejs20.x", 512, 60, 510, 30, "", {"generation": "gen2"}),
    ("gcp", "demo-data-prod", "europe-west1", "csv-import", "python3.12", 1024, 540, 0.3, 16000, "", {"generation": "gen1"}),
    ("gcp", "demo-data-prod", "europe-west1", "slack-notifier", "nodejs20.x", 256, 60, 1.2, 380, "", {"generation": "gen1"}),
    ("gcp", "demo-data-prod", "europe-west1", "geoip-lookup", "go1.x", 256, 60, 60, 40, "", {"generation": "gen1"}),
    ("gcp", "demo-data-prod", "europe-west1", "backup-verify", "python3.12", 512, 540, 0.05, 21000, "", {"generation": "gen1"}),
)

_REGION_PHASE = {
    "us-east-1": 0.0, "us-west-2": -0.8, "eu-west-1": 1.3, "westeurope": 1.3, "eastus": 0.0,
    "us-central1": -0.4, "europe-west1": 1.3,
}
_IDLE_MINUTES = {"aws": 8, "azure": 20, "gcp": 15}


def build_fleet(seed: int = 42, scale: int = 1) -> list[DemoFunction]:
    """The fleet for a seed; `scale` copies the base fleet with numbered names."""
    rng = np.random.default_rng(seed)
    fleet: list[DemoFunction] = []
    for copy in range(scale):
        for row in _BASE:
            provider, account, region, name, runtime, memory, timeout, rate, median, trait, labels = row
            if copy:
                name = f"{name}-{copy:04d}"
            jitter = float(rng.uniform(0.7, 1.4))
            key = FunctionKey(provider, account, region, name)
            resource_id = _resource_id(key)
            info = FunctionInfo(
                key, runtime, memory, float(timeout), resource_id,
                {"team": ("payments" if "pay" in name or "billing" in name else "platform"), **labels},
            )
            fleet.append(
                DemoFunction(
                    info=info,
                    index=len(fleet),
                    rate_per_min=rate * jitter,
                    duration_ms=median * float(rng.uniform(0.85, 1.2)),
                    error_rate=float(rng.uniform(0.0005, 0.006)),
                    # a reserved-concurrency cap that the flash crowds (x9 traffic) run into
                    concurrency_limit=max(2.0, round(rate * jitter * 9 * median * 1.2 / 60_000 * 0.5))
                    if trait == "burst" else None,
                    idle_minutes=_IDLE_MINUTES[provider],
                    init_range=_RUNTIMES[runtime],
                    trait=trait if copy == 0 else "",
                )
            )
    return fleet


def _resource_id(key: FunctionKey) -> str:
    if key.provider == "aws":
        return f"arn:aws:lambda:{key.region}:{key.account}:function:{key.name}"
    if key.provider == "azure":
        app, _, function = key.name.partition("/")
        return f"/subscriptions/{key.account}/resourceGroups/rg-{app}/providers/Microsoft.Web/sites/{app}/functions/{function}"
    return f"projects/{key.account}/locations/{key.region}/functions/{key.name}"


# --- deterministic noise -----------------------------------------------------------------------

_MASK = (1 << 64) - 1


def _mix(value: int) -> int:
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def _hash(values: npt.NDArray[np.uint64], salt: int) -> npt.NDArray[np.uint64]:
    """splitmix64 of (value x golden + mixed salt): counter-based, so any window is reproducible.

    The salt is mixed first so that two streams are not the same stream shifted by a minute.
    """
    x = values * np.uint64(0x9E3779B97F4A7C15) + np.uint64(_mix(salt))
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(minutes: npt.NDArray[np.uint64], salt: int) -> Floats:
    return (_hash(minutes, salt) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _normal(minutes: npt.NDArray[np.uint64], salt: int) -> Floats:
    u1 = np.maximum(_uniform(minutes, salt), 1e-12)
    u2 = _uniform(minutes, salt ^ 0x5DEECE66D)
    result: Floats = np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * math.pi * u2)
    return result


def _counts(expected: Floats, minutes: npt.NDArray[np.uint64], salt: int) -> npt.NDArray[np.int64]:
    """Poisson-like counts: exact-enough variance, and zeros when traffic is thin."""
    noisy = expected + np.sqrt(np.maximum(expected, 0)) * _normal(minutes, salt) + _uniform(minutes, salt + 1) - 0.5
    thin = expected < 3
    # For thin traffic a Bernoulli-style draw keeps idle gaps (and therefore cold starts) real.
    thin_draw = np.floor(expected + _uniform(minutes, salt + 2))
    return np.where(thin, thin_draw, np.maximum(np.round(noisy), 0)).astype(np.int64)


# --- the generator -------------------------------------------------------------------------------


def generate(fn: DemoFunction, seed: int, start_min: int, end_min: int) -> Iterator[Sample]:
    """Samples for whole minutes [start_min, end_min) (epoch minutes) of one function."""
    if end_min <= start_min:
        return
    history = fn.idle_minutes + 6  # look back far enough to know whether the platform scaled to zero
    minutes = np.arange(start_min - history, end_min, dtype=np.uint64)
    salt = seed * 1_000_003 + fn.index * 7_919
    m = minutes.astype(np.float64)
    minute_of_day = np.mod(m, 1440.0)
    phase = _REGION_PHASE.get(fn.info.key.region, 0.0)
    diurnal = 1.0 + 0.6 * np.sin(2 * math.pi * (minute_of_day / 1440.0 - 0.25) - phase)
    expected = fn.rate_per_min * diurnal * (1.0 + 0.15 * _normal(minutes // np.uint64(15), salt + 3))
    if fn.trait == "burst":
        # a flash crowd for 6 minutes out of every 40
        expected = np.where(np.mod(m, 40.0) < 6, expected * 9.0, expected)
    offered = _counts(np.maximum(expected, 0.0), minutes, salt + 10)

    median = fn.duration_ms * (1.0 + 0.08 * _normal(minutes, salt + 20))
    creep = 1.0 + 4.0 * (minute_of_day / 1440.0) if fn.trait == "p99-creep" else np.ones_like(m)
    timeout_ms = (fn.info.timeout_s or 900) * 1000.0
    p50 = np.minimum(median, timeout_ms)
    p95 = np.minimum(median * 2.1 * np.sqrt(creep), timeout_ms)
    p99 = np.minimum(median * 3.4 * creep, timeout_ms)
    if fn.trait == "timeout":
        p99 = np.minimum(median * 3.4, timeout_ms)

    # Little's law: concurrency = arrival rate x duration
    avg_ms = p50 * 1.2
    concurrency = offered * avg_ms / 60_000.0
    conc_max = np.ceil(concurrency * 1.6 + (offered > 0))
    throttles = np.zeros_like(offered)
    invocations = offered
    if fn.concurrency_limit is not None:
        over = conc_max > fn.concurrency_limit
        accepted = np.where(over, np.floor(offered * fn.concurrency_limit / np.maximum(conc_max, 1)), offered)
        throttles = (offered - accepted).astype(np.int64)
        invocations = accepted.astype(np.int64)
        conc_max = np.minimum(conc_max, fn.concurrency_limit)

    # Cold starts: first request after the platform scaled to zero, plus scale-out, plus recycling.
    busy = invocations > 0
    idle_run = np.zeros(len(minutes), dtype=np.int64)
    run = history  # assume idle before the look-back
    for i, active in enumerate(busy):
        idle_run[i] = run
        run = 0 if active else run + 1
    after_idle = busy & (idle_run >= fn.idle_minutes)
    prev = np.concatenate(([0.0], conc_max[:-1]))
    scale_out = np.maximum(conc_max - np.maximum(prev, 1.0), 0.0)
    recycle = np.floor(conc_max / 45.0 + _uniform(minutes, salt + 30) * 0.6)
    cold = np.minimum(after_idle.astype(np.int64) + scale_out.astype(np.int64) + recycle.astype(np.int64), invocations)

    rate = np.full(len(minutes), fn.error_rate)
    if fn.trait == "error-spike":
        rate = np.where(np.mod(m, 90.0) < 30, 0.22, rate)
    timeouts = np.zeros_like(invocations)
    if fn.trait == "timeout":
        timeouts = _counts((invocations * 0.12).astype(np.float64), minutes, salt + 40)
        timeouts = np.minimum(timeouts, invocations)
    errors = np.minimum(_counts((invocations * rate).astype(np.float64), minutes, salt + 50) + timeouts, invocations)

    init_lo, init_hi = fn.init_range
    init_avg = init_lo + (init_hi - init_lo) * _uniform(minutes, salt + 60)
    pmax = np.where(timeouts > 0, timeout_ms, np.minimum(p99 * (1.3 + 0.4 * _uniform(minutes, salt + 70)), timeout_ms))
    pmax = np.where(cold > 0, np.minimum(pmax + init_avg, timeout_ms), pmax)
    memory = fn.info.memory_mb or 128
    mem_used = np.minimum(memory * (0.35 + 0.25 * _uniform(minutes // np.uint64(60), salt + 80)), memory)

    provider = fn.info.key.provider
    gen1 = fn.generation == "gen1"
    key = fn.info.key
    for i in range(history, len(minutes)):
        inv = int(invocations[i])
        thr = int(throttles[i])
        if inv == 0 and thr == 0:
            continue  # providers leave idle minutes empty
        avg = float(avg_ms[i])
        # GCP bills in 100 ms steps, the others per millisecond
        billed = inv * math.ceil(avg / 100.0) * 100.0 if provider == "gcp" else float(inv * math.ceil(avg))
        has_cold = int(cold[i]) > 0
        yield Sample(
            key=key,
            start=from_epoch(int(minutes[i]) * 60),
            period_s=60,
            invocations=inv,
            errors=int(errors[i]),
            throttles=None if gen1 else thr,
            cold_starts=None if gen1 else int(cold[i]),
            duration_avg_ms=round(avg, 2) if inv else None,
            duration_p50_ms=round(float(p50[i]), 2) if inv else None,
            duration_p95_ms=round(float(p95[i]), 2) if inv else None,
            duration_p99_ms=round(float(p99[i]), 2) if inv else None,
            duration_max_ms=round(float(pmax[i]), 2) if inv else None,
            init_avg_ms=round(float(init_avg[i]), 1) if provider == "aws" and has_cold else None,
            init_p95_ms=round(float(init_avg[i]) * 1.25, 1) if provider == "aws" and has_cold else None,
            concurrency_max=float(conc_max[i]) if provider == "aws" else None,
            memory_used_max_mb=round(float(mem_used[i])) if provider == "aws" and inv else None,
            billed_ms=billed if inv else None,
        )


class DemoCollector:
    """`Collector` over the generated fleet; never touches the network."""

    provider = "demo"

    def __init__(self, name: str, seed: int = 42, scale: int = 1, include: list[str] | None = None,
                 exclude: list[str] | None = None) -> None:
        from fnmatch import fnmatchcase

        self.name = name
        self.seed = seed
        inc = include or ["*"]
        exc = exclude or []
        self.fleet = [
            f for f in build_fleet(seed, scale)
            if any(fnmatchcase(f.info.key.name, g) for g in inc) and not any(fnmatchcase(f.info.key.name, g) for g in exc)
        ]

    def collect(self, request: CollectRequest) -> CollectResult:
        began = time.monotonic()
        end_min = to_epoch(floor_time(request.end, 60)) // 60
        default_start = to_epoch(floor_time(request.start, 60)) // 60
        starts: dict[tuple[str, str, str], int] = {}
        searched: dict[tuple[str, str, str], list[FunctionKey]] = {}
        samples: list[Sample] = []
        errors: list[ErrorObservation] = []
        events: list[FunctionEvent] = []
        for fn in self.fleet:
            scope = (fn.info.key.provider, fn.info.key.account, fn.info.key.region)
            if scope not in starts:
                last = request.last_bucket(*scope)
                # re-collect the last few minutes: real providers revise recent buckets too
                incremental = to_epoch(last - timedelta(minutes=5)) // 60 if last else default_start
                starts[scope] = max(default_start, incremental)
            generated = list(generate(fn, self.seed, starts[scope], end_min))
            samples.extend(generated)
            errors.extend(observations(generated, fn.info.runtime or "", fn.index, self.seed, fn.errors_per_min))
            events.extend(deploys(fn.info.key, fn.index, self.seed, starts[scope], end_min))
            searched.setdefault(scope, []).append(fn.info.key)
        health = CollectorHealth(
            source=self.name, provider=self.provider, at=utcnow(), ok=True,
            functions=len(self.fleet), samples=len(samples), duration_s=time.monotonic() - began,
        )
        # every minute generated is known: an idle one is a real zero, as for a provider that was read
        coverage = [Coverage(*scope, from_epoch(first * 60), from_epoch(end_min * 60))
                    for scope, first in starts.items() if first < end_min]
        error_coverage = [
            ErrorCoverage(tuple(keys), from_epoch(starts[scope] * 60), from_epoch(end_min * 60))
            for scope, keys in searched.items() if starts[scope] < end_min
        ]
        return CollectResult([f.info for f in self.fleet], samples, [health], coverage, errors, error_coverage,
                             events)


def create(source: DemoSource, config: Config) -> DemoCollector:
    return DemoCollector(source.name or "demo", source.seed, source.scale, source.include, source.exclude)


def window_coverage(seed: int, scale: int, start: datetime, end: datetime) -> list[Coverage]:
    """The coverage a collection of [start, end) records (whole minutes, every scope): `window_samples`'
    companion, for benchmarks and tests that fill a store without the collector."""
    first, last = floor_time(start, 60), floor_time(end, 60)
    scopes = dict.fromkeys((f.info.key.provider, f.info.key.account, f.info.key.region) for f in build_fleet(seed, scale))
    return [Coverage(*scope, first, last) for scope in scopes] if first < last else []


def window_samples(seed: int, scale: int, start: datetime, end: datetime) -> Iterator[Sample]:
    """Every sample of the fleet in [start, end): for benchmarks and tests that need volume."""
    start_min = to_epoch(floor_time(start, 60)) // 60
    end_min = to_epoch(floor_time(end, 60)) // 60
    for fn in build_fleet(seed, scale):
        yield from generate(fn, seed, start_min, end_min)


def window_errors(
    seed: int, scale: int, start: datetime, end: datetime
) -> tuple[list[ErrorObservation], list[FunctionEvent]]:
    """The fleet's error observations and deploys in [start, end), as `window_samples` gives its samples."""
    start_min = to_epoch(floor_time(start, 60)) // 60
    end_min = to_epoch(floor_time(end, 60)) // 60
    errors: list[ErrorObservation] = []
    events: list[FunctionEvent] = []
    for fn in build_fleet(seed, scale):
        errors.extend(observations(
            generate(fn, seed, start_min, end_min), fn.info.runtime or "", fn.index, seed, fn.errors_per_min
        ))
        events.extend(deploys(fn.info.key, fn.index, seed, start_min, end_min))
    return errors, events
