"""Benchmark: one full evaluation of 200 rules over 5,000 functions (JSON on stdout).

    .venv/bin/python bench/alerts.py              # 5,000 functions x 2 h of minute data (quick)
    .venv/bin/python bench/alerts.py --hours 24   # the issue's full size (writes 7.2 M samples first)

Ratio: the engine (one SQL aggregation per distinct window, one batched read for M-of-N, numpy
comparisons) against a naive baseline measured in the same run: one `series` read per function per
rule window, aggregated in Python. The baseline runs on a sample of functions and is scaled up.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from opsview.alerts.engine import evaluate
from opsview.config import RuleConfig
from opsview.schema import FunctionInfo, FunctionKey, Sample, aggregate, measure_value
from opsview.store import SQLiteStore

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
MEASURES: list[tuple[str, str, float, dict[str, Any]]] = [
    ("error_rate", "5m", 0.05, {}),
    ("throttles", "5m", 0, {}),
    ("timeout_ratio", "10m", 0.8, {}),
    ("cold_start_rate", "1h", 0.2, {}),
    ("invocations", "15m", 0, {"op": "==", "missing": "breaching",
                               "previous": {"window": "1h", "op": ">", "threshold": 0}}),
    ("duration_p99_ms", "1m", 2000, {"datapoints": "3/5"}),
]


def make_rules(count: int) -> list[RuleConfig]:
    rules = []
    for i in range(count):
        measure, window, threshold, extra = MEASURES[i % len(MEASURES)]
        match = [{}, {"provider": "aws"}, {"provider": "gcp"}, {"function": "fn-1*"}][(i // len(MEASURES)) % 4]
        scaled = threshold * (1 + i % 3)
        if measure == "timeout_ratio":  # the config refuses a timeout_ratio above 1.5: it can never be reached
            scaled = min(scaled, 1.5)
        rules.append(RuleConfig.model_validate({
            "name": f"r{i}", "measure": measure, "window": window, "threshold": scaled,
            "for": "5m", "match": match, **extra,
        }))
    return rules


def fill(store: SQLiteStore, functions: int, hours: int, seed: int = 7) -> int:
    rng = np.random.default_rng(seed)
    providers = ["aws", "azure", "gcp"]
    keys = [FunctionKey(providers[i % 3], "acct", "region-1", f"fn-{i}") for i in range(functions)]
    store.upsert_functions(FunctionInfo(k, timeout_s=30.0, memory_mb=256) for k in keys)
    minutes = hours * 60
    start = NOW - timedelta(minutes=minutes)
    written = 0
    for m in range(minutes):
        inv = rng.poisson(20, functions)
        err = rng.binomial(inv, 0.02)
        p99 = rng.gamma(2.0, 400.0, functions)
        t = start + timedelta(minutes=m)
        written += store.write_samples(
            Sample(key=k, start=t, invocations=int(inv[i]), errors=int(err[i]), throttles=int(inv[i] > 38),
                   cold_starts=int(inv[i] > 30), duration_p99_ms=float(p99[i]))
            for i, k in enumerate(keys) if inv[i] > 0 or i % 50  # some functions go quiet now and then
        )
    return written


def naive(store: SQLiteStore, rules: list[RuleConfig], sample: int) -> float:
    infos = store.functions()[:sample]
    began = time.perf_counter()
    for rule in rules:
        for info in infos:
            buckets = store.series(info.key, NOW - rule.window, NOW)
            measure_value(rule.measure, aggregate(buckets), info, None)
    return (time.perf_counter() - began) * (len(store.functions()) / sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=5000)
    parser.add_argument("--hours", type=int, default=2, help="hours of minute data (24 = full size)")
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--naive-sample", type=int, default=50, help="functions the naive baseline really reads")
    parser.add_argument("--data", type=Path, metavar="PATH",
                        help="keep the filled store here and reuse it next time (the 24 h fill takes minutes); "
                             "each run evaluates on a fresh copy")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fill_s = 0.0
        if args.data is None or not args.data.exists():
            target = args.data or Path(tmp) / "bench.db"
            store = SQLiteStore(target)
            began = time.perf_counter()
            fill(store, args.functions, args.hours)
            fill_s = time.perf_counter() - began
            store.close()
        if args.data is not None:
            shutil.copyfile(args.data, Path(tmp) / "bench.db")
        store = SQLiteStore(Path(tmp) / "bench.db")
        samples = store._conn().execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        rules = make_rules(args.rules)
        timings = []
        result = None
        for k in range(3):  # the first run creates states; later ones update them
            began = time.perf_counter()
            result = evaluate(rules, store, NOW + timedelta(minutes=k))
            timings.append(time.perf_counter() - began)
        assert result is not None
        naive_s = naive(store, rules, args.naive_sample)
        store.close()
    print(json.dumps({
        "functions": args.functions, "hours_of_minute_data": args.hours, "samples": samples, "rules": args.rules,
        "fill_s": round(fill_s, 1) if fill_s else "reused",
        "evaluate_s": [round(t, 3) for t in timings],
        "evaluate_best_s": round(min(timings), 3),
        "active_alerts": len(result.records),
        "naive_estimated_s": round(naive_s, 1),
        "speedup_vs_naive": round(naive_s / min(timings), 1),
        "goal_s": 1.0,
    }, indent=2))


if __name__ == "__main__":
    main()
