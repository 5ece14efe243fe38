"""Benchmark the terminal UI on a 5,000-function store; prints one JSON object.

    .venv/bin/python bench/tui.py [--scale 84] [--minutes 30] [--refreshes 15]

Measured headless (App.run_test) at 120x40, with the store built in a child process so the peak RSS
is the TUI's own:
- first_paint_s: app start until the table holds every function and the screen has settled;
- refresh_apply_ms: the FleetLoaded handler (diff + in-place cell updates) for a refresh whose data
  changed, against a naive clear-and-rebuild of the same table (`naive_rebuild_ms`) in the same run;
- filter_ms / sort_ms: key press until the app is idle again (the repaint is queued by then);
- series_read_ms: the one-query `fleet_series` for every sparkline, against one `series` query per
  function (`naive_series_ms`).
Goals from the issue: first paint <= 1.5 s, refresh apply <= 50 ms median, filter/sort <= 100 ms, RSS <= 250 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NOW = datetime(2025, 3, 4, 12, 7, 30, tzinfo=UTC)


def build_store(path: Path, scale: int, minutes: int) -> None:
    from collectors.demo import build_fleet, window_samples
    from opsview.schema import CollectorHealth
    from opsview.store import SQLiteStore

    store = SQLiteStore(path)
    # the history reaches to the newest minute the refreshes below will ask for
    end = NOW + timedelta(minutes=40)
    store.upsert_functions(f.info for f in build_fleet(42, scale))
    store.write_samples(window_samples(42, scale, NOW - timedelta(minutes=minutes), end))
    store.record_health([CollectorHealth("demo", "demo", end, True, functions=scale * 60)])
    store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(path: Path, refreshes: int) -> dict[str, Any]:
    from opsview.config import Config
    from opsview.store import SQLiteStore
    from opsview.tui.app import OpsviewApp
    from opsview.tui.messages import FleetLoaded
    from opsview.tui.screens.fleet import FleetScreen

    class Clock:
        now = NOW

        def __call__(self) -> datetime:
            return self.now

    apply_ms: list[float] = []
    original = FleetScreen.on_fleet_loaded

    def timed(self: FleetScreen, message: FleetLoaded) -> None:
        began = time.perf_counter()
        original(self, message)
        apply_ms.append((time.perf_counter() - began) * 1000)

    FleetScreen.on_fleet_loaded = timed  # type: ignore[method-assign]
    store = SQLiteStore(path, read_only=True)
    clock = Clock()
    app = OpsviewApp(store, Config(), read_only=True, clock=clock)
    functions = len(store.functions())
    out: dict[str, Any] = {"functions": functions}

    async def idle(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    began = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.fleet
        while len(screen.table.shown_keys) < functions:
            await pilot.pause(0.01)
        await pilot.pause()
        out["first_paint_s"] = round(time.perf_counter() - began, 3)

        apply_ms.clear()
        for _ in range(refreshes):
            clock.now += timedelta(minutes=1)  # new data each time, so cells really change
            screen.reload()
            await idle(pilot)
        out["refresh_apply_ms"] = {"median": round(statistics.median(apply_ms), 2),
                                   "p95": round(pct(apply_ms, 0.95), 2), "n": len(apply_ms)}

        naive: list[float] = []
        for _ in range(5):
            rows = list(screen.table._rows)
            t0 = time.perf_counter()
            table = screen.table
            table.clear()
            table._shown = {}
            table._order = []
            table.show_rows(rows)
            naive.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
        out["naive_rebuild_ms"] = round(statistics.median(naive), 2)
        out["refresh_vs_naive_ratio"] = round(statistics.median(naive) / statistics.median(apply_ms), 1)

        async def keystroke(*keys: str) -> float:
            t0 = time.perf_counter()
            await pilot.press(*keys)
            await pilot.pause()
            return (time.perf_counter() - t0) * 1000

        await pilot.press("slash")
        filter_ms = [await keystroke(ch) for ch in "checkout"]
        filter_ms += [await keystroke("backspace") for _ in range(8)]  # widening back to all 5,000 rows
        await pilot.press("escape")
        out["filter_ms"] = {"median": round(statistics.median(filter_ms), 1), "max": round(max(filter_ms), 1),
                            "widen_to_all_ms": round(filter_ms[-1], 1)}
        sort_ms = [await keystroke("s") for _ in range(7)] + [await keystroke("S") for _ in range(3)]
        out["sort_ms"] = {"median": round(statistics.median(sort_ms), 1), "max": round(max(sort_ms), 1)}

    from opsview.tui.model import SPARK_STEP_S, spark_grid

    start, end = spark_grid(clock.now)
    t0 = time.perf_counter()
    store.fleet_series(start, end, SPARK_STEP_S, measures=("invocations", "errors"))
    one_query = time.perf_counter() - t0
    t0 = time.perf_counter()
    for info in store.functions():
        store.series(info.key, start, end, SPARK_STEP_S)
    per_function = time.perf_counter() - t0
    out["series_read_ms"] = round(one_query * 1000, 1)
    out["naive_series_ms"] = round(per_function * 1000, 1)
    out["series_vs_naive_ratio"] = round(per_function / one_query, 1)
    store.close()
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=84, help="demo fleet copies (84 x 60 = 5,040 functions)")
    parser.add_argument("--minutes", type=int, default=30, help="minutes of history before the first read")
    parser.add_argument("--refreshes", type=int, default=15)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build_store(args.build, args.scale, args.minutes)
        return
    with tempfile.TemporaryDirectory(prefix="opsview-bench-") as tmp:
        path = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--build", str(path), "--scale", str(args.scale),
                        "--minutes", str(args.minutes)], check=True)
        build_s = time.perf_counter() - t0
        result = asyncio.run(measure(path, args.refreshes))
    result["store_build_s"] = round(build_s, 1)
    result["goals"] = {"first_paint_s": 1.5, "refresh_apply_ms_median": 50, "filter_sort_ms": 100, "peak_rss_mb": 250}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
