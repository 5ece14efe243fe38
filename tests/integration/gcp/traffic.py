"""Synthetic GCP function traffic, and the two views Google gives of it: log entries and metric time series.

The same requests feed the Cloud Logging fake (one LogEntry per request / instance start, as Cloud Logging
stores them) and the Cloud Monitoring fake (per-minute counters and latency distributions, as the Cloud
Functions and Cloud Run metrics are documented: https://cloud.google.com/monitoring/api/metrics_gcp), so a test
can hold the two collector paths to each other.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Request:
    project: str
    region: str
    name: str
    """gen1: the function name; gen2: the Cloud Run service name."""
    gen1: bool
    at: datetime
    latency_ms: float
    status: int | str
    """gen2: HTTP status; gen1: HTTP status or a status word (`timeout`)."""
    revision: str = ""
    labelled: bool = True


@dataclass(frozen=True)
class Start:
    project: str
    region: str
    name: str
    at: datetime
    reason: str
    startup_ms: float
    revision: str = ""
    labelled: bool = True


def generate(
    project: str, functions: int, per_minute: float, minutes: int, *, seed: int = 7, start: datetime = T0,
    unlabelled: int = 0,
) -> tuple[list[Request], list[Start]]:
    """`functions` functions (odd: gen1, even: gen2), `per_minute` requests each per minute on average, with
    a heavy-tailed latency, some 5xx, some 429 (gen2) and timeouts (gen1), and gen2 instance starts.
    The last `unlabelled` gen2 functions are Cloud Run services without the Cloud Functions label."""
    rng = random.Random(seed)
    reqs: list[Request] = []
    starts: list[Start] = []
    gen2_ids = [i for i in range(functions) if i % 2 == 0]
    unlabelled_ids = set(gen2_ids[len(gen2_ids) - unlabelled:]) if unlabelled else set()
    for i in range(functions):
        gen1 = i % 2 == 1
        region = "europe-west1" if i % 3 == 0 else "us-central1"
        name = f"legacy-{i:03d}" if gen1 else f"fn-{i:03d}"
        labelled = i not in unlabelled_ids
        base = 20.0 + (i % 7) * 15.0
        for minute in range(minutes):
            n = int(per_minute) + (1 if rng.random() < per_minute - int(per_minute) else 0)
            minute_at = start + timedelta(minutes=minute)
            if not gen1 and (minute == 0 or rng.random() < 0.2):
                at = minute_at + timedelta(seconds=rng.uniform(0, 5))
                starts.append(Start(project, region, name, at, "AUTOSCALING", rng.uniform(200, 1500),
                                    f"{name}-00001-abc", labelled))
                if rng.random() < 0.3:
                    starts.append(Start(project, region, name, at + timedelta(seconds=1), "MIN_INSTANCE",
                                        rng.uniform(200, 900), f"{name}-00001-abc", labelled))
            for _ in range(n):
                at = minute_at + timedelta(microseconds=rng.randrange(60_000_000))
                latency = base * math.exp(rng.gauss(0.0, 0.6))
                roll = rng.random()
                status: int | str
                if gen1:
                    status = "timeout" if roll < 0.005 else 500 if roll < 0.03 else 200
                else:
                    status = 429 if roll < 0.01 else 503 if roll < 0.04 else 404 if roll < 0.06 else 200
                revision = "" if gen1 else f"{name}-0000{1 + (rng.random() < 0.3)}-abc"
                reqs.append(Request(project, region, name, gen1, at, round(latency, 3), status, revision, labelled))
    return reqs, starts


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_entries(fake: ModuleType, reqs: list[Request], starts: list[Start]) -> list[dict[str, Any]]:
    """The LogEntries Cloud Logging holds for this traffic (fake = fake_logging_api's builders)."""
    out = []
    for r in reqs:
        if r.gen1:
            took = f"Function execution took {r.latency_ms:.0f} ms"
            text = (f"{took}, finished with status: '{r.status}'" if isinstance(r.status, str)
                    else f"{took}, finished with status code: {r.status}")
            out.append(fake.gen1_line(r.project, r.region, r.name, _stamp(r.at), text))
        else:
            entry = fake.gen2_request(r.project, r.region, r.name, _stamp(r.at), r.status,
                                      f"{r.latency_ms / 1000:.6f}s", labelled=r.labelled)
            entry["resource"]["labels"]["revision_name"] = r.revision
            out.append(entry)
    for s in starts:
        out.append(fake.gen2_start(s.project, s.region, s.name, _stamp(s.at), s.reason, labelled=s.labelled))
    return out


def gen1_status_label(status: int | str) -> str:
    """The `status` label of cloudfunctions execution_count / execution_times for one execution."""
    if isinstance(status, str):
        return status  # "timeout", "crash", ... are the label's own words
    return "ok" if status < 500 else "error"
