"""Store benchmark (prints JSON; not a test).

Writes 1,000,000 samples (5,000 functions x 200 minutes) in batches, then reads a 24-hour
minute series of one function out of 5,000 and the latest 15-minute window of all 5,000.
Goals on SQLite: >= 300,000 samples/s written, <= 20 ms per series, <= 150 ms per fleet read.

Beside the store's write rate, the same run measures the ceiling of its SQLite driver (APSW) on this
machine: the same rows as plain tuples, one `executemany` INSERT into an empty table of the same shape
(no upsert, no Sample objects, no key lookups). The store cannot beat that number. The standard
library's sqlite3 module, which the store used before, is measured the same way for comparison.

    .venv/bin/python bench/store.py [--functions 5000] [--minutes 200] [--batch 50000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw

from opsview.schema import MEASURE_NAMES, FunctionKey, Sample
from opsview.store import SQLiteStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def samples_for(keys: list[FunctionKey], minutes: range) -> list[Sample]:
    out = []
    for m in minutes:
        start = T0 + timedelta(minutes=m)
        for i, key in enumerate(keys):
            out.append(Sample(
                key=key, start=start, invocations=100 + i % 50, errors=i % 3, throttles=0, cold_starts=i % 2,
                duration_avg_ms=80.0, duration_p50_ms=70.0, duration_p95_ms=180.0, duration_p99_ms=260.0,
                duration_max_ms=400.0, concurrency_max=4.0, billed_ms=8000.0,
            ))
    return out


def raw_rows_per_s(path: Path, data: list[Sample], batch: int, driver: str) -> float:
    """Plain INSERTs of the same rows through `driver` ("apsw" or "sqlite3"), in `batch`-row transactions."""
    execute: Callable[..., object]
    if driver == "apsw":
        conn: apsw.Connection | sqlite3.Connection = apsw.Connection(str(path))
    else:
        conn = sqlite3.connect(path, isolation_level=None)
    execute, executemany = conn.execute, conn.executemany
    execute("PRAGMA journal_mode=WAL")
    execute("PRAGMA synchronous=NORMAL")
    cols = ", ".join(f"{m} REAL" for m in MEASURE_NAMES)
    execute(f"CREATE TABLE t (fid INTEGER, start INTEGER, period_s INTEGER, {cols}, "
            "PRIMARY KEY (fid, start, period_s)) WITHOUT ROWID")
    fid = {k: i for i, k in enumerate(dict.fromkeys(s.key for s in data))}
    rows = sorted((fid[s.key], int(s.start.timestamp()), s.period_s, *(getattr(s, m) for m in MEASURE_NAMES))
                  for s in data)
    insert = f"INSERT INTO t VALUES ({', '.join('?' for _ in range(3 + len(MEASURE_NAMES)))})"
    began = time.perf_counter()
    for i in range(0, len(rows), batch):
        execute("BEGIN")
        executemany(insert, rows[i : i + batch])
        execute("COMMIT")
    elapsed = time.perf_counter() - began
    conn.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=5000)
    parser.add_argument("--minutes", type=int, default=200)
    parser.add_argument("--batch", type=int, default=200_000)
    args = parser.parse_args()

    keys = [FunctionKey("aws", f"{100000000000 + i % 7}", "us-east-1", f"fn-{i:05d}") for i in range(args.functions)]
    # the series target gets a full day so the series read spans 1,440 buckets
    day_before = range(-1440 + args.minutes, 0)
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "bench.db")
        store.write_samples(samples_for([keys[0]], day_before))
        data = samples_for(keys, range(args.minutes))
        began = time.perf_counter()
        for i in range(0, len(data), args.batch):
            store.write_samples(data[i : i + args.batch])
        write_s = time.perf_counter() - began

        end = T0 + timedelta(minutes=args.minutes)
        series_ms = []
        for _ in range(20):
            t = time.perf_counter()
            points = store.series(keys[0], end - timedelta(hours=24), end)
            series_ms.append((time.perf_counter() - t) * 1000)
        assert len(points) == 1440, len(points)
        fleet_ms = []
        for _ in range(10):
            t = time.perf_counter()
            rows = store.fleet(end - timedelta(minutes=15), end)
            fleet_ms.append((time.perf_counter() - t) * 1000)
        assert len(rows) == args.functions
        assert all(r.buckets == 15 for r in rows)
        db_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        store.close()
        ceiling = raw_rows_per_s(Path(tmp) / "raw.db", data, args.batch, "apsw")
        stdlib = raw_rows_per_s(Path(tmp) / "raw_stdlib.db", data, args.batch, "sqlite3")

    print(json.dumps({
        "benchmark": "store",
        "backend": "sqlite",
        "samples_written": len(data),
        "functions": args.functions,
        "write_samples_per_s": round(len(data) / write_s),
        "write_seconds": round(write_s, 2),
        "raw_apsw_executemany_rows_per_s": round(ceiling),
        "write_vs_raw_ceiling": round(len(data) / write_s / ceiling, 2),
        "raw_stdlib_sqlite3_executemany_rows_per_s": round(stdlib),
        "series_24h_ms_median": round(statistics.median(series_ms), 2),
        "series_points": len(points),
        "fleet_read_ms_median": round(statistics.median(fleet_ms), 1),
        "fleet_read_ms_max": round(max(fleet_ms), 1),
        "store_mb": round(db_mb, 1),
        "goals": {"write_samples_per_s": 300_000, "series_24h_ms": 20, "fleet_read_ms": 150},
    }, indent=2))


if __name__ == "__main__":
    main()
