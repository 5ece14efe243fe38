"""Team-scale store benchmark (prints JSON; not a test).

4 collector processes write 250,000 samples each while 8 reader processes query the fleet
view (latest 15 minutes of every function), against a throwaway local PostgreSQL cluster
and against SQLite. Reports samples/s written, reader p50/p95 latency and errors.
Goal: PostgreSQL >= 200,000 samples/s total with reader p95 <= 100 ms, 0 errors.

    .venv/bin/python bench/postgres.py [--writers 4] [--samples 250000] [--readers 8] [--backend both]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

T0 = datetime(2026, 3, 1, tzinfo=UTC)
FUNCTIONS_PER_WRITER = 1250
READ_WINDOW_MIN = 15  # readers query [T0, T0 + 15 min), filled before the race; writers write after it


def _sample(key: Any, minute: int) -> Any:
    from opsview.schema import Sample

    return Sample(key=key, start=T0 + timedelta(minutes=minute), invocations=100, errors=1, throttles=0,
                  cold_starts=0, duration_avg_ms=80.0, duration_p50_ms=70.0, duration_p95_ms=180.0,
                  duration_p99_ms=260.0, duration_max_ms=400.0, concurrency_max=4.0, billed_ms=8000.0)


def _keys(index: int) -> list[Any]:
    from opsview.schema import FunctionKey

    return [FunctionKey("aws", f"acct-{index}", "us-east-1", f"fn-{i:05d}") for i in range(FUNCTIONS_PER_WRITER)]


def _writer(url: str, index: int, samples: int, batch: int, start: Any, out: Any) -> None:
    from opsview.store import open_store

    store = open_store(url)
    keys = _keys(index)
    minutes = samples // len(keys)
    data = [_sample(k, READ_WINDOW_MIN + m) for m in range(minutes) for k in keys]
    errors = 0
    start.wait()
    began = time.perf_counter()
    for i in range(0, len(data), batch):
        try:
            store.write_samples(data[i : i + batch])
        except Exception as exc:  # counted, reported: the goal is zero
            errors += 1
            print(f"writer {index}: {exc}", file=sys.stderr)
    out.put({"written": len(data), "seconds": time.perf_counter() - began, "errors": errors})
    store.close()


def _reader(url: str, interval: float, start: Any, stop: Any, out: Any) -> None:
    from opsview.store import open_store

    store = open_store(url)
    latencies: list[float] = []
    errors = 0
    start.wait()
    end = T0 + timedelta(minutes=READ_WINDOW_MIN)
    while not stop.is_set():
        t = time.perf_counter()
        try:
            rows = store.fleet(T0, end)
            assert sum(r.buckets for r in rows) == len(rows) * READ_WINDOW_MIN
            if interval:
                stop.wait(interval)  # a dashboard's refresh cadence instead of a tight loop
            latencies.append((time.perf_counter() - t) * 1000)
        except Exception as exc:
            errors += 1
            print(f"reader: {exc}", file=sys.stderr)
    out.put({"latencies": latencies, "errors": errors})
    store.close()


def run(url: str, writers: int, samples: int, readers: int, batch: int, interval: float = 0.0) -> dict[str, Any]:
    from opsview.store import open_store

    store = open_store(url)  # migrate and fill the readers' window once, before the race
    store.write_samples(_sample(k, m) for i in range(writers) for k in _keys(i) for m in range(READ_WINDOW_MIN))
    store.close()
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(writers + readers + 1)
    stop = ctx.Event()
    wq, rq = ctx.Queue(), ctx.Queue()
    wprocs = [ctx.Process(target=_writer, args=(url, i, samples, batch, start, wq)) for i in range(writers)]
    rprocs = [ctx.Process(target=_reader, args=(url, interval, start, stop, rq)) for _ in range(readers)]
    for p in wprocs + rprocs:
        p.start()
    start.wait()
    began = time.perf_counter()
    wres = [wq.get() for _ in wprocs]
    wall = time.perf_counter() - began
    stop.set()
    rres = [rq.get() for _ in rprocs]
    for p in wprocs + rprocs:
        p.join()
    lat = sorted(x for r in rres for x in r["latencies"])
    written = sum(r["written"] for r in wres)
    return {
        "samples_written": written,
        "samples_per_s": round(written / wall),
        "write_wall_s": round(wall, 2),
        "reader_queries": len(lat),
        "reader_p50_ms": round(statistics.median(lat), 1) if lat else None,
        "reader_p95_ms": round(lat[int(len(lat) * 0.95) - 1], 1) if lat else None,
        "errors": sum(r["errors"] for r in wres) + sum(r["errors"] for r in rres),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--samples", type=int, default=250_000, help="per writer")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--reader-interval", type=float, default=0.0,
                        help="seconds between a reader's queries (0 = back to back, the worst case)")
    args = parser.parse_args()
    results: dict[str, Any] = {"benchmark": "team-store", "writers": args.writers, "readers": args.readers,
                               "reader_interval_s": args.reader_interval,
                               "samples_per_writer": args.samples, "cores": mp.cpu_count(),
                               "goals": {"postgres_samples_per_s": 200_000, "reader_p95_ms": 100, "errors": 0}}
    if args.backend in ("postgres", "both"):
        from pgcluster import start_cluster

        cluster = start_cluster()
        if cluster is None:
            results["postgres"] = "skipped: PostgreSQL server binaries not installed"
        else:
            try:
                results["postgres"] = run(cluster.url, args.writers, args.samples, args.readers, args.batch,
                                          args.reader_interval)
            finally:
                cluster.stop()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run(str(Path(tmp) / "bench.db"), args.writers, args.samples, args.readers, args.batch,
                                    args.reader_interval)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
