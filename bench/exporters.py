"""Exporter benchmark: CPU time of one OTLP push of every function beside the Prometheus text exposition of the
same data, measured in the same run (JSON).

The target: 5,000 functions exported in at most 1 s of CPU per interval. Each OTLP push reads the store for the
minutes due, builds the OTLP data, encodes it and POSTs it (the official OTLP/HTTP exporter) to a receiver in
another process, so the receiver's work is not counted. The Prometheus side renders `/metrics` for a window of
the same length over the same minutes. The baseline is the layout opsview did not take: every function's four
identifying attributes on each data point instead of cloud.* on one resource per account and region.

    .venv/bin/python bench/exporters.py                 # ~5,000 functions (demo scale 97)
    .venv/bin/python bench/exporters.py --scale 20

CPU times are process CPU (time.process_time) on a shared machine: indicative, best of --runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from opentelemetry.exporter.otlp.proto.common.metrics_encoder import encode_metrics
from opentelemetry.sdk.metrics.export import MetricsData, ResourceMetrics, ScopeMetrics
from prometheus_client import generate_latest

from opsview.collectors.demo import build_fleet, window_samples
from opsview.config import Config
from opsview.exporter import registry_for
from opsview.fleet import status_of
from opsview.otlp import OtlpPusher, build_metrics, opsview_resource, scope_resource
from opsview.store import SQLiteStore

T = TypeVar("T")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RECEIVER = """
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def cpu(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def flat(data: MetricsData) -> MetricsData:
    """The baseline layout: one resource, the cloud.* attributes repeated on every data point."""
    metrics: dict[str, Any] = {}
    base = opsview_resource()
    for rm in data.resource_metrics:
        extra = {k: v for k, v in rm.resource.attributes.items() if k.startswith("cloud.")}
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points = [replace(p, attributes={**extra, **dict(p.attributes or {})}) for p in metric.data.data_points]
                known = metrics.get(metric.name)
                if known is None:
                    metrics[metric.name] = replace(metric, data=replace(metric.data, data_points=points))
                else:
                    known.data.data_points.extend(points)
    scope = data.resource_metrics[0].scope_metrics[0]
    return MetricsData([ResourceMetrics(base, [ScopeMetrics(scope.scope, list(metrics.values()), scope.schema_url)],
                                        "")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=97, help="demo fleet scale (97 = ~5,000 functions)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    store = SQLiteStore(tmp / "bench.db")
    store.upsert_functions(fn.info for fn in build_fleet(42, args.scale))
    minutes = args.runs + 4
    store.write_samples(window_samples(42, args.scale, NOW - timedelta(minutes=minutes), NOW))
    config = Config.model_validate({"export": {"otlp": {"interval": "1m", "delay": "0s"}}})

    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout is not None
    port = int(receiver.stdout.readline())
    try:
        clock = [NOW - timedelta(minutes=args.runs)]
        pusher = OtlpPusher(store, config, f"http://127.0.0.1:{port}", clock=lambda: clock[0])
        pushes = []
        functions = 0
        for _ in range(args.runs):
            seconds, report = cpu(pusher.push_once)
            assert report is not None
            assert report.ok, report
            pushes.append(seconds)
            clock[0] += timedelta(minutes=1)
            functions = report.functions
        pusher.shutdown()
    finally:
        receiver.terminate()
        receiver.wait()

    # Stages of one push, and the baseline layout's encoding, over the last pushed minute.
    start, end = NOW - timedelta(minutes=1), NOW
    base = opsview_resource()
    read_s, rows = cpu(lambda: [status_of(r, end - start, config.pricing) for r in store.fleet(start, end)
                                if r.buckets])
    build_s, data = cpu(lambda: build_metrics(rows, start, end, lambda s: scope_resource(base, s)))
    encode_s, body = cpu(lambda: encode_metrics(data).SerializeToString())
    flat_data = flat(data)
    flat_s, flat_body = cpu(lambda: encode_metrics(flat_data).SerializeToString())
    points = sum(len(m.data.data_points) for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics)

    registry = registry_for(store, config, end - start, clock=lambda: end)
    prom = []
    text = b""
    for _ in range(args.runs):
        seconds, text = cpu(lambda: generate_latest(registry))
        prom.append(seconds)
    store.close()

    print(json.dumps({
        "functions": functions,
        "otlp_data_points": points,
        "otlp_push_cpu_s": {"best": round(min(pushes), 3), "median": round(statistics.median(pushes), 3),
                            "runs": [round(s, 3) for s in pushes]},
        "otlp_push_stages_cpu_s": {"store_read": round(read_s, 3), "build": round(build_s, 3),
                                   "encode": round(encode_s, 3)},
        "otlp_request_bytes": len(body),
        "prometheus_exposition_cpu_s": {"best": round(min(prom), 3), "median": round(statistics.median(prom), 3)},
        "prometheus_bytes": len(text),
        "baseline_flat_attributes_encode_cpu_s": round(flat_s, 3),
        "baseline_flat_attributes_bytes": len(flat_body),
        "encode_speedup_vs_baseline": round(flat_s / encode_s, 2) if encode_s else None,
        "target_cpu_s_per_interval": 1.0,
        "within_target": min(pushes) <= 1.0,
        "note": "process CPU on a shared 2-core machine: indicative only",
    }, indent=2))


if __name__ == "__main__":
    main()
