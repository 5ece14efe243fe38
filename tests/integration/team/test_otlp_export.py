"""OTLP/HTTP metrics pushed by the official SDK exporter to a local receiver that decodes them with
opentelemetry-proto: names, units, attributes and values for one function of each cloud.

The receiver speaks OTLP/HTTP as specified (https://opentelemetry.io/docs/specs/otlp/#otlphttp): POST
/v1/metrics with a binary protobuf ExportMetricsServiceRequest (Content-Type application/x-protobuf), answered
by 200 and an ExportMetricsServiceResponse; a 503 is retryable.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from opsview.config import Config
from opsview.otlp import MIB, OtlpPusher
from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

AWS = FunctionKey("aws", "111111111111", "us-east-1", "checkout-api")
AZURE = FunctionKey("azure", "0b1f6471-1bf0-4dda-aec3-111122223333", "westeurope", "orders-app/ProcessOrder")
GCP = FunctionKey("gcp", "demo-data-prod", "europe-west1", "legacy-newsletter")

# One minute bucket of each, as its collector stores it (None: the cloud does not report that measure).
PER_MINUTE = {
    AWS: {"invocations": 100, "errors": 5, "throttles": 2, "cold_starts": 3, "duration_avg_ms": 120.0,
          "duration_p50_ms": 100.0, "duration_p95_ms": 250.0, "duration_p99_ms": 400.0, "duration_max_ms": 900.0,
          "init_avg_ms": 300.0, "init_p95_ms": 450.0, "memory_used_max_mb": 180.0, "billed_ms": 12500.0},
    AZURE: {"invocations": 60, "errors": 1, "throttles": 0, "cold_starts": 2, "duration_avg_ms": 80.0,
            "duration_p50_ms": 70.0, "duration_p95_ms": 150.0, "duration_p99_ms": 200.0},
    GCP: {"invocations": 40, "errors": 4, "throttles": 1, "duration_p50_ms": 30.0, "duration_p95_ms": 90.0,
          "duration_p99_ms": 140.0, "duration_max_ms": 300.0},
}
MEMORY_MB = {AWS: 512, AZURE: None, GCP: 256}


@dataclass
class OtlpReceiver:
    url: str = ""
    requests: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_next: int = 0  # answer this many requests with 503 first


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    state = OtlpReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            with lock:
                failing = state.fail_next > 0
                state.fail_next -= 1 if failing else 0
                if not failing and self.path == "/v1/metrics":
                    assert self.headers["Content-Type"] == "application/x-protobuf"
                    state.requests.append(ExportMetricsServiceRequest.FromString(body))
                    state.headers.append({k.lower(): v for k, v in self.headers.items()})
            self.send_response(503 if failing else 200 if self.path == "/v1/metrics" else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.end_headers()
            self.wfile.write(ExportMetricsServiceResponse().SerializeToString())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def fill(store: SQLiteStore, start: datetime, minutes: int) -> None:
    store.upsert_functions(FunctionInfo(key, memory_mb=MEMORY_MB[key]) for key in PER_MINUTE)
    store.write_samples(Sample(key=key, start=start + timedelta(minutes=i), **measures)
                        for key, measures in PER_MINUTE.items() for i in range(minutes))


@dataclass
class Point:
    metric: str
    unit: str
    kind: str
    value: Any
    start: datetime
    end: datetime


def points(request: ExportMetricsServiceRequest) -> dict[FunctionKey, dict[str, Point]]:
    """Per function (resource cloud.* + point faas.name), its data points by metric name."""
    out: dict[FunctionKey, dict[str, Point]] = {}
    for rm in request.resource_metrics:
        res = {kv.key: kv.value.string_value for kv in rm.resource.attributes}
        assert res["service.name"] == "opsview"
        assert res["service.instance.id"] == f"{res['cloud.provider']}/{res['cloud.account.id']}/{res['cloud.region']}"
        assert rm.schema_url == "https://opentelemetry.io/schemas/1.44.0"
        for sm in rm.scope_metrics:
            assert sm.scope.name == "opsview"
            for metric in sm.metrics:
                kind = metric.WhichOneof("data")
                data = getattr(metric, kind)
                for p in data.data_points:
                    attrs = {kv.key: kv.value.string_value for kv in p.attributes}
                    assert set(attrs) == {"faas.name"}
                    key = FunctionKey(res["cloud.provider"], res["cloud.account.id"], res["cloud.region"],
                                      attrs["faas.name"])
                    if kind == "histogram":
                        assert data.aggregation_temporality == 1  # DELTA
                        value: Any = {"count": p.count, "sum": p.sum if p.HasField("sum") else None,
                                      "max": p.max if p.HasField("max") else None,
                                      "min": p.min if p.HasField("min") else None, "buckets": list(p.bucket_counts)}
                    elif kind == "sum":
                        assert data.aggregation_temporality == 1  # DELTA
                        assert data.is_monotonic
                        value = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                    else:
                        value = p.as_double
                    start = datetime.fromtimestamp(p.start_time_unix_nano / 1e9, UTC) if kind != "gauge" else None
                    end = datetime.fromtimestamp(p.time_unix_nano / 1e9, UTC)
                    out.setdefault(key, {})[metric.name] = Point(metric.name, metric.unit, kind, value,
                                                                 start or end, end)
    return out


def test_exporter_once_pushes_each_cloud_with_semconv_names_units_and_honest_gaps(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    store_path = tmp_path / "store.db"
    store = SQLiteStore(store_path)
    fill(store, floor_time(utcnow(), 60) - timedelta(minutes=15), 15)
    store.close()
    config = tmp_path / "opsview.toml"
    config.write_text('[export.otlp]\ninterval = "2m"\ndelay = "3m"\ntimeout = "5s"\n'
                      'headers_env = { Authorization = "OPSVIEW_TEST_OTLP_AUTH" }\n', encoding="utf-8")
    env = {**os.environ, "OPSVIEW_TEST_OTLP_AUTH": "Bearer s3cret"}
    done = subprocess.run(
        [sys.executable, "-m", "opsview", "exporter", "--config", str(config), "--store", str(store_path),
         "--otlp", receiver.url, "--once"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"] is True
    assert report["functions"] == 3
    assert "s3cret" not in done.stdout + done.stderr
    [request] = receiver.requests
    assert receiver.headers[0]["authorization"] == "Bearer s3cret"  # from the environment, never the file
    got = points(request)
    assert set(got) == {AWS, AZURE, GCP}
    minutes = 2  # interval: each push covers the whole minutes since the previous one
    first = next(iter(got[AWS].values()))
    assert first.end - first.start == timedelta(minutes=minutes)
    assert first.end == datetime.fromisoformat(report["end"])

    aws = got[AWS]
    units = {name: (p.unit, p.kind) for name, p in aws.items()}
    assert units == {
        "faas.invocations": ("{invocation}", "sum"), "faas.errors": ("{error}", "sum"),
        "faas.coldstarts": ("{coldstart}", "sum"), "faas.invoke_duration": ("s", "histogram"),
        "faas.init_duration": ("s", "histogram"), "faas.mem_usage": ("By", "histogram"),
        "opsview.faas.throttles": ("{throttle}", "sum"), "opsview.faas.cost": ("USD", "sum"),
        "opsview.faas.invoke_duration.p50": ("s", "gauge"), "opsview.faas.invoke_duration.p95": ("s", "gauge"),
        "opsview.faas.invoke_duration.p99": ("s", "gauge"), "opsview.faas.init_duration.p95": ("s", "gauge"),
    }
    assert aws["faas.invocations"].value == (100 - 5) * minutes  # semconv: successful invocations
    assert aws["faas.errors"].value == 5 * minutes
    assert aws["faas.coldstarts"].value == 3 * minutes
    assert aws["opsview.faas.throttles"].value == 2 * minutes
    assert aws["faas.invoke_duration"].value == {"count": 200, "sum": pytest.approx(0.120 * 200), "max": 0.9,
                                                 "min": None, "buckets": [200]}
    assert aws["faas.init_duration"].value == {"count": 6, "sum": pytest.approx(0.3 * 6), "max": None, "min": None,
                                               "buckets": [6]}
    assert aws["faas.mem_usage"].value == {"count": 200, "sum": None, "max": 180 * MIB, "min": None,
                                           "buckets": [200]}
    assert aws["opsview.faas.invoke_duration.p99"].value == pytest.approx(0.4)
    assert aws["opsview.faas.init_duration.p95"].value == pytest.approx(0.45)
    gb_s = 12500.0 * minutes / 1000 * 512 / 1024
    assert aws["opsview.faas.cost"].value == pytest.approx(200 / 1e6 * 0.20 + gb_s * 0.0000166667)

    azure = got[AZURE]
    assert azure["faas.invocations"].value == 59 * minutes
    assert azure["opsview.faas.throttles"].value == 0  # Azure reported zero: 0, not absent
    assert azure["faas.invoke_duration"].value["max"] is None  # no maximum reported: unset, not 0
    assert azure["faas.invoke_duration"].value["sum"] == pytest.approx(0.08 * 120)
    for absent in ("faas.mem_usage", "opsview.faas.init_duration.p95", "opsview.faas.cost"):
        assert absent not in azure, absent  # no memory, no init percentiles, no memory size for a cost

    gcp = got[GCP]
    assert gcp["faas.errors"].value == 8
    assert gcp["opsview.faas.invoke_duration.p95"].value == pytest.approx(0.09)
    for absent in ("faas.coldstarts", "faas.init_duration", "faas.mem_usage", "opsview.faas.cost"):
        assert absent not in gcp, absent  # gen1 reports no cold starts; no billed time or average: no cost
    assert gcp["faas.invoke_duration"].value == {"count": 80, "sum": None, "max": 0.3, "min": None,
                                                 "buckets": [80]}
    assert all("faas.timeouts" not in fn for fn in got.values())  # no cloud reports timeouts to opsview


def test_semconv_names_units_and_descriptions_are_the_packaged_conventions() -> None:
    from opentelemetry.semconv._incubating.metrics import faas_metrics

    from opsview import otlp

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            return lambda **kw: kw

    ours = [otlp.INVOCATIONS, otlp.ERRORS, otlp.COLDSTARTS, otlp.INVOKE_DURATION, otlp.INIT_DURATION, otlp.MEM_USAGE]
    for instrument in ours:
        factory = getattr(faas_metrics, "create_" + instrument.name.replace(".", "_"))
        spec = factory(Recorder())
        assert (instrument.name, instrument.unit, instrument.description) == (
            spec["name"], spec["unit"], spec["description"])


def test_a_failed_push_is_covered_by_the_next_and_consecutive_pushes_tile(
    tmp_path: Path, receiver: OtlpReceiver
) -> None:
    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    store = SQLiteStore(tmp_path / "store.db")
    fill(store, t0 - timedelta(minutes=30), 30)
    config = Config.model_validate({"export": {"otlp": {"endpoint": receiver.url, "interval": "1m", "delay": "2m",
                                                        "timeout": "1s"}}})
    now = [t0]
    pusher = OtlpPusher(store, config, clock=lambda: now[0])
    receiver.fail_next = 1000  # the endpoint is down
    failed = pusher.push_once()
    assert failed is not None
    assert not failed.ok
    receiver.fail_next = 0
    now[0] = t0 + timedelta(minutes=1)
    caught_up = pusher.push_once()
    assert caught_up is not None
    assert caught_up.ok
    assert (caught_up.start, caught_up.end) == (failed.start, t0 - timedelta(minutes=1))
    assert points(receiver.requests[-1])[AWS]["faas.errors"].value == 5 * 2  # both minutes, once
    assert pusher.push_once() is None  # nothing new within the same minute
    now[0] = t0 + timedelta(minutes=2, seconds=30)
    nxt = pusher.push_once()
    assert nxt is not None
    assert nxt.start == caught_up.end  # spans tile: no minute twice, none skipped
    assert points(receiver.requests[-1])[AWS]["faas.errors"].value == 5
    pusher.shutdown()
    store.close()


def test_missing_header_secret_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "opsview.toml"
    config.write_text('[export.otlp]\nendpoint = "http://127.0.0.1:9"\n'
                      'headers_env = { "x-honeycomb-team" = "OPSVIEW_TEST_UNSET_VAR" }\n', encoding="utf-8")
    SQLiteStore(tmp_path / "s.db").close()
    env = {k: v for k, v in os.environ.items() if k != "OPSVIEW_TEST_UNSET_VAR"}
    done = subprocess.run([sys.executable, "-m", "opsview", "exporter", "--config", str(config), "--store",
                           str(tmp_path / "s.db"), "--once"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "opsview: export.otlp.headers_env.x-honeycomb-team: environment variable OPSVIEW_TEST_UNSET_VAR is not set")
