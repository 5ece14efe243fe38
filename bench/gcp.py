"""Benchmark: one GCP refresh of 300 functions (gen1 + gen2) with 200,000 log entries, then the traffic axis
(metrics vs logs path at 1k, 10k, 100k requests/min, bench/gcp_traffic.py). JSON on stdout.

    .venv/bin/python bench/gcp.py                       # the issue's sizes (~5 min on a shared 2-core machine)
    .venv/bin/python bench/gcp.py --entries 20000 --skip-traffic   # quick

Both sides talk to the same local Cloud Logging REST server (tests/integration/gcp/fake_logging_api.py)
through the real google-cloud-logging client, with `--latency-ms` added to every call:
- opsview: one wide filter per project, raw pages of 1000, `opsview.collectors.gcp.entries` parsing;
- naive: `client.list_entries` once per function (filter on its name), reading the SDK's LogEntry objects.
  It runs on `--naive-sample` functions and is scaled to all of them (calls and wall time are per function).
The quota limiter is lifted for both (calls_per_minute=6000) so wall time measures the work; the
`quota_minutes` figures say how long each plan takes under the real 60 calls/min/project.
Error records (`--error-entries`, default 1 per 50 entries, on top of `--entries`): stderr lines at ERROR and
gen1 crashes. `opsview` reads them in the same filter (errors on, the default); `opsview_errors_off` is the
same refresh without them: the traffic's calls, as before errors were collected.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from fakes import load as load_fake  # bench/fakes.py: the test suite's cloud fakes
from google.auth.credentials import AnonymousCredentials
from google.cloud import logging as cloud_logging

from opsview.collectors.base import CollectRequest
from opsview.collectors.gcp.buckets import BucketAccumulator
from opsview.collectors.gcp.collector import GcpCollector
from opsview.collectors.gcp.entries import ERROR_SEVERITIES, parse_entry, parse_error
from opsview.config.sources import GcpSource

PROJECT = "bench-project"
T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
WINDOW_MIN = 10


def make_entries(fake: ModuleType, functions: int, entries: int) -> list[dict[str, Any]]:
    out = []
    span_us = WINDOW_MIN * 60 * 1_000_000
    for i in range(entries):
        fn = i % functions
        at = T0 + timedelta(microseconds=(i * 7919 * 1009) % span_us)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        region = "us-central1" if fn % 3 else "europe-west1"
        if fn % 2:
            code = 500 if i % 97 == 0 else 200
            text = f"Function execution took {20 + i % 400} ms, finished with status code: {code}"
            out.append(fake.gen1_line(PROJECT, region, f"legacy-{fn:03d}", stamp, text))
        elif i % 211 == 0:
            out.append(fake.gen2_start(PROJECT, region, f"fn-{fn:03d}", stamp, "AUTOSCALING"))
        else:
            status = 429 if i % 503 == 0 else 503 if i % 101 == 0 else 200
            out.append(fake.gen2_request(PROJECT, region, f"fn-{fn:03d}", stamp, status, f"0.{i % 900:03d}s"))
    return out


def make_errors(fake: ModuleType, functions: int, count: int) -> list[dict[str, Any]]:
    """Error records: gen2 stderr tracebacks on two keys' worth of signatures, gen1 crashes and stderr lines."""
    out = []
    span_us = WINDOW_MIN * 60 * 1_000_000
    for i in range(count):
        fn = (i * 7) % functions
        stamp = (T0 + timedelta(microseconds=(i * 104729 * 1013) % span_us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        region = "us-central1" if fn % 3 else "europe-west1"
        if fn % 2 == 0:
            text = f"Traceback (most recent call last):\n  File \"main.py\", line 9\nKeyError: 'sku_{i % 977}'"
            out.append(fake.gen2_log(PROJECT, region, f"fn-{fn:03d}", stamp, text))
        elif i // 2 % 2:
            out.append(fake.gen1_line(PROJECT, region, f"legacy-{fn:03d}", stamp,
                                      f"Function execution took {i % 90} ms, finished with status: 'crash'"))
        else:
            out.append(fake.gen1_log(PROJECT, region, f"legacy-{fn:03d}", stamp,
                                     f"Error: connect ECONNREFUSED 10.0.{i % 4}.{i % 200}:5432", execution_id=f"e{i}"))
    return out


def run_opsview(url: str, errors: bool = True) -> dict[str, Any]:
    source = GcpSource(name="bench", project_id=PROJECT, mode="logs", api_endpoint=url, calls_per_minute=6000,
                       errors=errors)
    # a first refresh warms the fake server (it evaluates each filter once over all entries): not ours to time
    GcpCollector(source, credentials=AnonymousCredentials()).collect(
        CollectRequest(start=T0, end=T0 + timedelta(minutes=WINDOW_MIN)))
    collector = GcpCollector(source, credentials=AnonymousCredentials())
    began = time.perf_counter()
    result = collector.collect(CollectRequest(start=T0, end=T0 + timedelta(minutes=WINDOW_MIN)))
    wall = time.perf_counter() - began
    assert all(h.ok for h in result.health), result.health
    stats = collector.last_stats[PROJECT]
    return {
        "calls": stats.calls,
        "wall_s": round(wall, 3),
        "entries": stats.entries,
        "functions": len(result.functions),
        "samples": len(result.samples),
        "invocations": sum(s.invocations or 0 for s in result.samples),
        "error_records": sum(o.count for o in result.errors),
        "error_signatures": len({o.signature for o in result.errors}),
        "quota_minutes": round(stats.calls / 60, 2),
    }


def run_naive(url: str, names: list[tuple[str, str]]) -> dict[str, Any]:
    client = cloud_logging.Client(project=PROJECT, credentials=AnonymousCredentials(), _use_grpc=False,
                                  client_options={"api_endpoint": url})
    bounds = (f'timestamp>="{T0:%Y-%m-%dT%H:%M:%SZ}" AND '
              f'timestamp<"{T0 + timedelta(minutes=WINDOW_MIN):%Y-%m-%dT%H:%M:%SZ}"')
    calls = 0
    entries = 0
    invocations = 0
    began = time.perf_counter()
    for label, name in names:
        count = 0
        for entry in client.list_entries(filter_=f'{bounds} AND resource.labels.{label}="{name}"', page_size=1000):
            count += 1
            if entry.http_request or "finished with status" in str(entry.payload):
                invocations += 1
        entries += count
        calls += max(1, math.ceil(count / 1000))
    wall = time.perf_counter() - began
    return {"calls": calls, "wall_s": round(wall, 3), "entries": entries, "invocations": invocations,
            "quota_minutes": round(calls / 60, 2)}


def parse_rate(entries: list[dict[str, Any]]) -> dict[str, Any]:
    # what the collector does per entry once a page is decoded: parse + fold into minute buckets
    best = math.inf
    for _ in range(3):
        acc = BucketAccumulator()
        began = time.perf_counter()
        for entry in entries:
            event = parse_entry(entry)
            if event is not None:
                acc.add(event)
            elif entry.get("severity") in ERROR_SEVERITIES:  # the error check read_events adds (errors on)
                parse_error(entry)
        acc.samples()
        best = min(best, time.perf_counter() - began)
    return {"entries": len(entries), "best_s": round(best, 3), "entries_per_s": round(len(entries) / best)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--functions", type=int, default=300)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--error-entries", type=int, default=None, help="error records on top (default entries/50)")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--naive-sample", type=int, default=60, help="functions the naive baseline really lists")
    parser.add_argument("--skip-naive", action="store_true", help="only the opsview side")
    parser.add_argument("--skip-traffic", action="store_true", help="leave out the metrics-vs-logs traffic axis")
    args = parser.parse_args()

    fake = load_fake("bench_fake_logging_api", "gcp/fake_logging_api.py")
    traffic = make_entries(fake, args.functions, args.entries)
    errors = make_errors(fake, args.functions, args.entries // 50 if args.error_entries is None else args.error_entries)
    entries = traffic + errors
    api = fake.FakeLoggingApi({PROJECT: entries}, latency_s=args.latency_ms / 1000, quota_per_minute=None).start()
    try:
        ours = run_opsview(api.url)
        ours_errors_off = run_opsview(api.url, errors=False)
        names = sorted({
            ("function_name", e["resource"]["labels"]["function_name"]) if e["resource"]["type"] == "cloud_function"
            else ("service_name", e["resource"]["labels"]["service_name"]) for e in entries
        })
        naive = None
        if not args.skip_naive:
            step = max(1, len(names) // max(1, args.naive_sample))
            sample = names[::step][: args.naive_sample]
            naive = run_naive(api.url, sample)
            scale = len(names) / len(sample)
            naive.update({
                "measured_functions": len(sample),
                "calls": round(naive["calls"] * scale),
                "wall_s": round(naive["wall_s"] * scale, 3),
                "entries": round(naive["entries"] * scale),
                "invocations": round(naive["invocations"] * scale),
            })
            naive["quota_minutes"] = round(naive["calls"] / 60, 2)
    finally:
        api.stop()
    parsing = parse_rate(entries)
    goal_calls = math.ceil(len(entries) / 1000) + 2
    report: dict[str, Any] = {
        "benchmark": "gcp_refresh",
        "functions": args.functions,
        "entries": args.entries,
        "latency_ms": args.latency_ms,
        "error_entries": len(errors),
        "opsview": ours,
        "opsview_errors_off": ours_errors_off,
        "naive_per_function": naive,
        "parsing": parsing,
        "goal": {
            "calls_max": goal_calls,
            "calls_ok": ours["calls"] <= goal_calls,
            "entries_per_s_min": 100_000,
            "parsing_ok": parsing["entries_per_s"] >= 100_000,
        },
    }
    if naive:
        report["ratio"] = {
            "calls": round(naive["calls"] / ours["calls"], 2),
            "wall": round(naive["wall_s"] / ours["wall_s"], 2),
        }
    if not args.skip_traffic:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import gcp_traffic

        report["traffic_axis"] = gcp_traffic.run(functions=args.functions)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
