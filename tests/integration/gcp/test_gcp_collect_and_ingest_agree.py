"""The same Cloud Logging entries through `collect` (the live collector, over the local REST server) and through
`opsview ingest --provider gcp --store` give the same per-minute numbers: one accumulator, one percentile rule.

Before, the collector interpolated between ranks (p95 of 1.15 ms and 2599.4 ms: 2469.5 ms) while ingest
rounded the rank down in a sketch (1.16 ms): the same log gave two different p95s, and neither was a
duration that happened.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner

from opsview.cli import main
from opsview.collect import CollectionRunner
from opsview.config import Config
from opsview.percentiles import RELATIVE_ERROR, nearest_rank
from opsview.schema import Sample
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
END = T0 + timedelta(minutes=10)
PROJECT = "shop-prod"


def ts(minute: int, second: float) -> str:
    return (T0 + timedelta(minutes=minute, seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entries(fake: ModuleType) -> tuple[list[dict[str, Any]], list[float]]:
    rng = random.Random(11)
    out = [
        fake.gen1_line(PROJECT, "us-central1", "contact", ts(1, 1), "Function execution took 1.15 ms, finished with "
                       "status code: 200"),
        fake.gen1_line(PROJECT, "us-central1", "contact", ts(1, 2), "Function execution took 2599.4 ms, finished with "
                       "status: 'timeout'"),
    ]
    # a busy minute: past 10,000 durations, so both paths use the sketch
    busy = [rng.lognormvariate(3, 1.3) for _ in range(10_500)]
    out += [fake.gen2_request(PROJECT, "europe-west1", "checkout", ts(2, i * 50 / len(busy)), 503 if i % 97 == 0
                              else 200, f"{d / 1000:.6f}s") for i, d in enumerate(busy)]
    out += [fake.gen2_request(PROJECT, "europe-west1", "checkout", ts(3, i), 200, f"{0.001 * (i + 1):.3f}s")
            for i in range(7)]
    out.append(fake.gen2_start(PROJECT, "europe-west1", "checkout", ts(3, 0), "AUTOSCALING"))
    rng.shuffle(out)  # the file's order is not the API's (sorted by time): the numbers must not depend on it
    return out, [float(f"{d / 1000:.6f}") * 1000.0 for d in busy]


def _samples(path: Path) -> dict[tuple[str, datetime], Sample]:
    store = SQLiteStore(path)
    try:
        return {(s.key.name, s.start): s for info in store.functions() for s in store.series(info.key, T0, END)}
    finally:
        store.close()


def test_collect_and_ingest_give_the_same_percentiles(
    logging_api: Callable[..., Any], entry_builders: ModuleType, tmp_path: Path
) -> None:
    log, busy = entries(entry_builders)
    api = logging_api({PROJECT: log})
    config = Config.model_validate({"sources": {"gcp": [{"name": "gcp", "project_id": PROJECT,
                                                         "api_endpoint": api.url, "mode": "logs"}]}})
    collected_db = tmp_path / "collected.db"
    store = SQLiteStore(collected_db)
    try:
        reports = CollectionRunner(config, store).run(now=END, since=timedelta(minutes=10))
    finally:
        store.close()
    assert [r.errors for r in reports] == [()]

    export = tmp_path / "gcloud-logging-read.json"
    export.write_text(json.dumps(log, indent=2))  # as `gcloud logging read --format=json` prints it
    ingested_db = tmp_path / "ingested.db"
    result = CliRunner().invoke(main, ["ingest", "--provider", "gcp", "--store", str(ingested_db), str(export)])
    assert result.exit_code == 0, result.output

    collected, ingested = _samples(collected_db), _samples(ingested_db)
    assert collected.keys() == ingested.keys() == {("contact", T0 + timedelta(minutes=1)),
                                                    ("checkout", T0 + timedelta(minutes=2)),
                                                    ("checkout", T0 + timedelta(minutes=3))}
    for slot, c in collected.items():
        i = ingested[slot]
        assert (c.invocations, c.errors, c.cold_starts) == (i.invocations, i.errors, i.cold_starts), slot
        assert (c.duration_p50_ms, c.duration_p95_ms, c.duration_p99_ms, c.duration_max_ms) == (
            i.duration_p50_ms, i.duration_p95_ms, i.duration_p99_ms, i.duration_max_ms), slot
        assert c.duration_avg_ms == pytest.approx(i.duration_avg_ms, rel=1e-12), slot

    # and the numbers are the rule's: exact nearest rank while small...
    small = collected[("contact", T0 + timedelta(minutes=1))]
    assert (small.duration_p50_ms, small.duration_p95_ms, small.duration_p99_ms) == (1.15, 2599.4, 2599.4)
    seven = collected[("checkout", T0 + timedelta(minutes=3))]
    assert (seven.duration_p50_ms, seven.duration_p99_ms) == (4.0, 7.0)
    assert (seven.cold_starts, collected[("checkout", T0 + timedelta(minutes=2))].cold_starts) == (1, 0)
    assert small.cold_starts is None  # gen1: no marker
    # ...and within 1 % beyond 10,000 values
    big = collected[("checkout", T0 + timedelta(minutes=2))]
    ordered = sorted(busy)
    for got, q in ((big.duration_p50_ms, 0.5), (big.duration_p95_ms, 0.95), (big.duration_p99_ms, 0.99)):
        exact = nearest_rank(ordered, q)
        assert got is not None
        assert abs(got - exact) <= RELATIVE_ERROR * exact
