"""Prometheus exporter served over real HTTP and parsed back; sharded collectors split sources."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from waitress_stop import stop_waitress

from opsview.collectors.demo import build_fleet, window_samples
from opsview.config import Config, DemoSource
from opsview.exporter import metrics_wsgi_app
from opsview.schema import CollectorHealth
from opsview.sharding import Shard, select, shard_of
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    import waitress.server

    store = SQLiteStore(tmp_path / "m.db")
    store.upsert_functions(f.info for f in build_fleet(42, 1))
    store.write_samples(window_samples(42, 1, NOW - timedelta(minutes=30), NOW))
    store.record_health([
        CollectorHealth("aws-prod", "aws", NOW, True, scope="111111111111/us-east-1"),
        CollectorHealth("gcp-data", "gcp", NOW, False, "403 PERMISSION_DENIED", scope="demo-data-prod"),
    ])
    app = metrics_wsgi_app(store, Config(), timedelta(minutes=10), clock=lambda: NOW)
    port = free_port()
    server = waitress.server.create_server(app, host="127.0.0.1", port=port, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_waitress(server, thread)
        store.close()


def test_metrics_parse_back_with_every_family_and_honest_gaps(served: str) -> None:
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("opsview_invocations", "opsview_errors", "opsview_throttles", "opsview_cold_starts",
                 "opsview_duration_seconds", "opsview_duration_max_seconds", "opsview_init_duration_seconds",
                 "opsview_memory_used_max_bytes", "opsview_cost_usd", "opsview_alert_firing", "opsview_collector_up"):
        assert name in families, name
    invocations = {s.labels["function"]: s.value for s in families["opsview_invocations"].samples
                   if s.labels["provider"] == "aws" and s.labels["region"] == "us-east-1"}
    assert invocations["checkout-api"] > 1000
    assert families["opsview_duration_seconds"].type == "summary"
    quantiles = {s.labels["quantile"] for s in families["opsview_duration_seconds"].samples}
    assert quantiles == {"0.5", "0.95", "0.99"}
    assert {f.name for f in families.values() if any("quantile" in s.labels for s in f.samples)} == {
        "opsview_duration_seconds", "opsview_init_duration_seconds"}  # quantiles only on summaries
    p99 = {s.labels["function"]: s.value for s in families["opsview_duration_seconds"].samples
           if s.labels["quantile"] == "0.99" and s.labels["provider"] == "aws" and s.labels["region"] == "us-east-1"}
    longest = {s.labels["function"]: s.value for s in families["opsview_duration_max_seconds"].samples
               if s.labels["provider"] == "aws" and s.labels["region"] == "us-east-1"}
    assert 0.001 < p99["checkout-api"] <= longest["checkout-api"] < 60  # seconds, not milliseconds
    cold = {s.labels["function"] for s in families["opsview_cold_starts"].samples}
    assert "legacy-newsletter" not in cold  # gcp gen1 reports no cold starts: absent, not 0
    up = {s.labels["source"]: s.value for s in families["opsview_collector_up"].samples}
    assert up == {"aws-prod": 1.0, "gcp-data": 0.0}


def test_promtool_finds_nothing_to_fix(served: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    with urllib.request.urlopen(f"{served}/metrics", timeout=10) as response:
        text = response.read()
    assert b"opsview_duration_seconds{" in text
    checked = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
    assert checked.stdout.decode().strip() == ""


def test_exporter_answers_health_and_404(served: str) -> None:
    with urllib.request.urlopen(f"{served}/healthz", timeout=10) as response:
        assert response.read() == b"ok\n"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"{served}/nope", timeout=10)
    assert err.value.code == 404


def test_shards_cover_every_source_exactly_once() -> None:
    sources = [DemoSource(name=f"team-{i}") for i in range(40)]
    for n in (1, 2, 3, 5):
        owners = [[s.name for s in select(sources, Shard(i, n))] for i in range(1, n + 1)]
        flat = [name for group in owners for name in group]
        assert sorted(flat) == sorted(s.name for s in sources)
        assert all(group for group in owners) or n > len(sources)
    assert shard_of(sources[0], 3) == shard_of(DemoSource(name="team-0"), 3)  # stable, no hash seed
    with pytest.raises(ValueError, match="I must be between 1 and N"):
        Shard.parse("0/3")
    with pytest.raises(ValueError, match="expected I/N"):
        Shard.parse("two of three")


def test_two_sharded_collector_processes_split_the_sources(tmp_path: Path) -> None:
    names = [f"fleet-{i}" for i in range(6)]
    cfg = tmp_path / "opsview.toml"
    cfg.write_text("".join(f"[[sources.demo]]\nname = '{n}'\nseed = {i}\ninclude = ['checkout-*']\n"
                           for i, n in enumerate(names)))
    store = tmp_path / "shared.db"
    procs = [
        subprocess.Popen([sys.executable, "-m", "opsview", "collect", "--config", str(cfg), "--store", str(store),
                          "--shard", f"{i}/2", "--since", "10m"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
        for i in (1, 2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    collected = [sorted(line.split()[0] for line in out.splitlines() if line.strip()) for out, _ in outputs]
    assert sorted(collected[0] + collected[1]) == names
    assert not set(collected[0]) & set(collected[1])
    health = {h.source for h in SQLiteStore(store).latest_health()}
    assert health == set(names)


def test_web_app_serves_metrics_and_a_worker_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_path = tmp_path / "w.db"
    store = SQLiteStore(store_path)
    store.upsert_functions(f.info for f in build_fleet(42, 1))
    store.write_samples(window_samples(42, 1, NOW - timedelta(minutes=30), NOW))
    store.close()
    monkeypatch.setenv("OPSVIEW_STORE", str(store_path))
    monkeypatch.setenv("OPSVIEW_CONFIG", str(tmp_path / "opsview.toml"))
    (tmp_path / "opsview.toml").write_text("[collect]\ninterval = '30s'\n")
    from opsview.web.wsgi import create

    client = create().test_client()
    assert client.get("/healthz").status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    families = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"opsview_invocations", "opsview_collector_up"} <= families
