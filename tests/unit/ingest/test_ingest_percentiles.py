"""The percentile rule as `opsview ingest` users see it: exact nearest-rank up to 10,000 values per function and
bucket, a sketch within 1 % beyond; sampled rows weighted, in memory flat in their weight."""

from __future__ import annotations

import io
import json
import random
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsview.cli import main
from opsview.collectors.aws import json_reader
from opsview.collectors.aws.ingest import read as read_aws
from opsview.collectors.azure.ingest import read as read_azure
from opsview.ingest import Ingest
from opsview.percentiles import RELATIVE_ERROR, nearest_rank
from opsview.store import SQLiteStore
from opsview.untrusted import EARLIEST, LATEST

RID = "4ce9340a-b765-490f-ad8a-02ab3415e2b"


def report(i: int, duration: float, minute: int = 0) -> str:
    return (f"2024-05-01T10:{minute:02d}:00.000Z REPORT RequestId: {RID}{i % 10}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration) + 1} ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\n")


def ingest(*args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["ingest", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_two_calls_p95_and_p99_are_the_slow_one(tmp_path: Path) -> None:
    """The issue's file: 1.15 ms and 2599.4 ms printed p95 = p99 = 1.16 ms (the sketch rounded the rank down)."""
    path = tmp_path / "two.log"
    path.write_text(report(1, 1.15) + report(2, 2599.4))
    store = tmp_path / "two.db"
    (fn,) = ingest("--provider", "aws", "--store", str(store), str(path))["functions"]
    assert (fn["duration_p50_ms"], fn["duration_p95_ms"], fn["duration_p99_ms"]) == (1.15, 2599.4, 2599.4)
    assert fn["percentiles_exact"] is True
    (fn,) = ingest("--provider", "aws", str(path))["functions"]  # the bulk path (no --store) says the same
    assert (fn["duration_p50_ms"], fn["duration_p95_ms"], fn["duration_p99_ms"]) == (1.15, 2599.4, 2599.4)
    opened = SQLiteStore(store)
    try:
        (info,) = opened.functions()
        (sample,) = opened.series(info.key, EARLIEST, LATEST)
    finally:
        opened.close()
    assert (sample.duration_p50_ms, sample.duration_p99_ms) == (1.15, 2599.4)


def test_forwarder_timeout_is_the_p99_beside_a_fast_call(realdata: Path) -> None:
    """Datadog forwarder payloads: a 3 s timeout sat beside p99 = 1.76 ms."""
    files = sorted((realdata / "aws").glob("datadog_forwarder_cwlogs_*.json"))
    data = ingest("--provider", "aws", *map(str, files))
    storms = {f["function"]: f for f in data["functions"]}["storms-cloudwatch-event"]
    assert storms["invocations"] == 2
    assert storms["timeouts"] == 1
    assert (storms["duration_p50_ms"], storms["duration_p95_ms"], storms["duration_p99_ms"]) == (1.76, 3003.16, 3003.16)


def test_past_ten_thousand_values_a_sketch_within_one_percent(tmp_path: Path) -> None:
    rng = random.Random(4)
    durations = [round(rng.lognormvariate(4, 1.2), 2) for _ in range(12_000)]
    path = tmp_path / "busy.log"
    path.write_text("".join(report(i, d, minute=i % 2) for i, d in enumerate(durations)))
    bulk = ingest("--provider", "aws", str(path))
    stored = ingest("--provider", "aws", "--store", str(tmp_path / "busy.db"), str(path))
    assert bulk == stored, "the bulk path and the line-by-line path fold the same"
    (fn,) = bulk["functions"]
    assert fn["percentiles_exact"] is False
    ordered = sorted(durations)
    for key, q in (("duration_p50_ms", 0.5), ("duration_p95_ms", 0.95), ("duration_p99_ms", 0.99)):
        exact = nearest_rank(ordered, q)
        assert abs(fn[key] - exact) <= RELATIVE_ERROR * exact + 0.005, key  # + the output's rounding to 0.01
    assert fn["duration_max_ms"] == ordered[-1]


def _azure_rows(rows: list[tuple[float, int]]) -> str:
    return json.dumps([{"TimeGenerated": "2024-05-01T10:00:00Z", "AppRoleName": "shop",
                        "OperationName": "Functions.pay", "Success": True, "ResultCode": "200", "DurationMs": d,
                        "ItemCount": n, "Type": "AppRequests"}
                       for d, n in rows])


def test_item_count_weighs_each_row_in_the_percentiles() -> None:
    """99 sampled requests at 10 ms and 1 at 5 s: p99 is 10 ms; with 2 at 5 s, p99 is 5 s (nearest rank)."""
    for rows, p99 in (([(10.0, 99), (5000.0, 1)], 10.0), ([(10.0, 98), (5000.0, 2)], 5000.0)):
        acc = Ingest("azure", None)
        acc.add_all(read_azure(io.StringIO(_azure_rows(rows)), "q.json", None, acc.stats))
        (fn,) = acc.result().functions
        assert fn.measures.invocations == 100
        assert fn.measures.duration_p99_ms == p99
        assert fn.measures.duration_p50_ms == 10.0
        (sample,) = acc.result().samples
        assert sample.invocations == 100
        assert sample.duration_p99_ms == p99


def test_item_count_is_a_weight_not_a_multiplier() -> None:
    """20,000 sampled rows of ItemCount 10,000 (200 million requests) took 223 s and 1.6 GB as 200 million events.
    As weights, memory follows the rows. 12,000 rows: past the exact limit, so the weighted sketch is used too."""
    rows = [(float(1 + i % 500), 10_000) for i in range(12_000)]
    text = _azure_rows(rows)
    tracemalloc.start()
    try:
        acc = Ingest("azure", None)
        acc.add_all(read_azure(io.StringIO(text), "q.json", None, acc.stats))
        result = acc.result()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (fn,) = result.functions
    assert fn.measures.invocations == 120_000_000
    assert fn.measures.duration_max_ms == 500.0
    assert fn.measures.duration_p50_ms == pytest.approx(250.0, rel=RELATIVE_ERROR)
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def test_one_huge_event_is_decoded_a_few_times_not_once_per_refill(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 50 MB single-event export took 31 s: each 64 KiB refill decoded the event again from its start
    (quadratic). The buffer now doubles, so a value of n characters is decoded O(log n) times."""
    calls = []
    real = json_reader.json_raw_decode

    def counting(decoder: json.JSONDecoder, text: str, pos: int) -> Any:
        calls.append(len(text) - pos)
        return real(decoder, text, pos)

    monkeypatch.setattr(json_reader, "json_raw_decode", counting)
    message = "x" * (8 << 20) + f"\n{report(1, 12.5)}"
    document = json.dumps({"events": [{"timestamp": 1714557600000, "message": message}]})
    acc = Ingest("aws", None)
    acc.add_all(read_aws(io.StringIO(document), "big.json", "fn", acc.stats))
    assert acc.result().functions[0].measures.invocations == 1
    assert len(calls) <= 16  # 8 MiB in 64 KiB refills was 128+ decodes of the same event
    assert sum(calls) <= 4 * len(document)  # characters scanned: linear in the input
