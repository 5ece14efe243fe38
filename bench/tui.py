"""Benchmark the terminal UI on a 5,000-function store; prints one JSON object.

    .venv/bin/python bench/tui.py [--scale 84] [--minutes 30] [--refreshes 15]

Measured headless (App.run_test) at 120x40, with the store built in a child process so the peak RSS
is the TUI's own (taken before the eager baseline below is built):
- first_paint_s: app start until the first screen update showing every function's row (numbers);
  sparklines_s: until the first screen update with the sparklines, which are read after the numbers;
- refresh_apply_ms: UI-thread time to apply one refresh whose data changed (the FleetLoaded handler
  plus the SparksLoaded one), against an eager DataTable given every row's formatted cells, cleared
  and refilled, as the TUI did before its table went virtual (`naive_rebuild_ms`), in the same run;
- filter_ms / sort_ms: key press until the first screen update after the filter/sort handler ran;
  pilot_roundtrip_ms: Pilot's press-and-wait-for-idle for the same keys and for a key bound to nothing;
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
    from opsview.collectors.demo import build_fleet, window_coverage, window_samples
    from opsview.schema import CollectorHealth
    from opsview.store import SQLiteStore

    store = SQLiteStore(path)
    # the history reaches to the newest minute the refreshes below will ask for
    end = NOW + timedelta(minutes=40)
    store.upsert_functions(f.info for f in build_fleet(42, scale))
    store.write_samples(window_samples(42, scale, NOW - timedelta(minutes=minutes), end))
    store.record_coverage(window_coverage(42, scale, NOW - timedelta(minutes=minutes), end))  # as collection does
    store.record_health([CollectorHealth("demo", "demo", end, True, functions=scale * 60)])
    store.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(path: Path, refreshes: int) -> dict[str, Any]:
    from textual.widgets import DataTable

    from opsview.config import Config
    from opsview.store import SQLiteStore
    from opsview.tui.app import OpsviewApp
    from opsview.tui.messages import FleetLoaded, SparksLoaded
    from opsview.tui.screens.fleet import FleetScreen
    from opsview.tui.widgets.cells import Palette, fit_columns, label, row_cells

    class Clock:
        now = NOW

        def __call__(self) -> datetime:
            return self.now

    apply_ms: list[float] = []  # UI-thread time spent applying reads since the last reset
    applied: dict[str, float] = {}  # when the first fleet / sparkline read was applied
    on_fleet, on_sparks = FleetScreen.on_fleet_loaded, FleetScreen.on_sparks_loaded

    def timed_fleet(self: FleetScreen, message: FleetLoaded) -> None:
        began = time.perf_counter()
        on_fleet(self, message)
        applied.setdefault("fleet", time.perf_counter())
        apply_ms.append((time.perf_counter() - began) * 1000)

    def timed_sparks(self: FleetScreen, message: SparksLoaded) -> None:
        began = time.perf_counter()
        on_sparks(self, message)
        applied.setdefault("sparks", time.perf_counter())
        apply_ms.append((time.perf_counter() - began) * 1000)

    FleetScreen.on_fleet_loaded = timed_fleet  # type: ignore[method-assign]
    FleetScreen.on_sparks_loaded = timed_sparks  # type: ignore[method-assign]
    store = SQLiteStore(path, read_only=True)
    clock = Clock()
    app = OpsviewApp(store, Config(), read_only=True, clock=clock)
    functions = len(store.functions())
    out: dict[str, Any] = {"functions": functions}

    # Screen updates, as the terminal would receive them (headless, the app still composes each one).
    painted: list[float] = []
    display = app._display

    def recording_display(target: Any, renderable: Any) -> None:
        display(target, renderable)
        if renderable is not None:
            painted.append(time.perf_counter())

    app._display = recording_display  # type: ignore[method-assign, assignment]

    def first_paint_after(moment: float) -> float:
        return min(t for t in painted if t >= moment)

    async def idle(pilot: Any) -> None:
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    began = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.fleet
        while "sparks" not in applied or not any(t >= applied["sparks"] for t in painted):
            await pilot.pause(0.01)
        assert len(screen.table.shown_keys) == functions
        out["first_paint_s"] = round(first_paint_after(applied["fleet"]) - began, 3)
        out["sparklines_s"] = round(first_paint_after(applied["sparks"]) - began, 3)
        await idle(pilot)

        per_refresh: list[float] = []
        for _ in range(refreshes):
            apply_ms.clear()
            clock.now += timedelta(minutes=1)  # new data each time, so cells really change
            screen.reload()
            await idle(pilot)
            per_refresh.append(sum(apply_ms))
        out["refresh_apply_ms"] = {"median": round(statistics.median(per_refresh), 2),
                                   "p95": round(pct(per_refresh, 0.95), 2), "n": len(per_refresh)}

        # Keystroke to repaint: from sending the key until the first screen update after the view changed
        # (the filter/sort handler ran). Pilot's own round trip (press + wait for idle) is reported too; it
        # sleeps in 20 ms steps until the CPU is idle, so it has a floor even for a key that does nothing.
        viewed: list[float] = []
        set_view = FleetScreen._set_view

        def recording_set_view(self: FleetScreen, view: Any, **kwargs: Any) -> None:
            set_view(self, view, **kwargs)
            viewed.append(time.perf_counter())

        FleetScreen._set_view = recording_set_view  # type: ignore[method-assign]

        async def keystroke(key: str, roundtrips: list[float]) -> float:
            painted.clear()
            viewed.clear()
            t0 = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()
            roundtrips.append((time.perf_counter() - t0) * 1000)
            for _ in range(200):
                after = [t for t in painted if viewed and t >= viewed[-1]]
                if after:
                    return (after[0] - t0) * 1000
                await pilot.pause(0.01)
            raise RuntimeError(f"no repaint after {key!r}")

        noop: list[float] = []
        for _ in range(5):
            t0 = time.perf_counter()
            await pilot.press("x")  # bound to nothing on the fleet screen
            await pilot.pause()
            noop.append((time.perf_counter() - t0) * 1000)

        def summary(values: list[float]) -> dict[str, float]:
            return {"median": round(statistics.median(values), 1), "max": round(max(values), 1)}

        await pilot.press("slash")
        filter_trips: list[float] = []
        filter_ms = [await keystroke(ch, filter_trips) for ch in "checkout"]
        filter_ms += [await keystroke("backspace", filter_trips) for _ in range(8)]  # widening back to all rows
        await pilot.press("escape")
        out["filter_ms"] = {**summary(filter_ms), "widen_to_all_ms": round(filter_ms[-1], 1)}
        sort_trips: list[float] = []
        sort_ms = [await keystroke("s", sort_trips) for _ in range(7)]
        sort_ms += [await keystroke("S", sort_trips) for _ in range(3)]
        out["sort_ms"] = summary(sort_ms)
        out["pilot_roundtrip_ms"] = {"filter": summary(filter_trips), "sort": summary(sort_trips),
                                     "key_bound_to_nothing": summary(noop)}

        # the TUI's own peak, before the baseline below builds 5,000 eager rows
        out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

        # last, so the garbage of 5,000 eager rows is not collected during the keystrokes above
        snapshot = screen.snapshot
        assert snapshot is not None
        palette = Palette.from_theme(app.theme_variables)
        eager: DataTable[Any] = DataTable(cursor_type="row", zebra_stripes=True, cell_padding=0)
        await screen.mount(eager)
        layout = fit_columns(118)
        for spec, col_width in layout:
            eager.add_column(label(spec), width=col_width, key=spec.key)
        naive: list[float] = []
        for _ in range(3):
            t0 = time.perf_counter()
            eager.clear()
            for status in snapshot.statuses:
                cells = row_cells(status, snapshot.sparks.get(status.key), palette)
                eager.add_row(*(cells[spec.key] for spec, _ in layout), key=str(status.key))
            naive.append((time.perf_counter() - t0) * 1000)
            await pilot.pause()
        await eager.remove()
        out["naive_rebuild_ms"] = round(statistics.median(naive), 2)
        out["refresh_vs_naive_ratio"] = round(statistics.median(naive) / statistics.median(per_refresh), 1)

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
