"""Web dashboard benchmark: overview render time, bytes transferred, provider-filter latency (JSON).

The issue's target is 5,000 functions with 24 h of minute data (`--scale 84 --hours 24`,
~7 M samples: slow to generate on a small machine). The default is a reduced fleet; the JSON
says what ran. The naive baseline is the size of the raw minute table for the window, which a
page that did not downsample on the server would have to ship.

"cold" is a first visit to a fresh server; "warm" has the browser's HTTP cache filled but the
server's 15 s read cache cleared. Filter changes are timed twice: right after viewing all
providers (their reads are at hand) and with the read cache cleared before each change.

    .venv/bin/python bench/web.py                      # 600 functions, 6 h
    .venv/bin/python bench/web.py --scale 84 --hours 24 # the issue's size
    .venv/bin/python bench/web.py --scale 84 --hours 24 --store /tmp/web84.db  # fill once, then reuse
    .venv/bin/python bench/web.py --errors             # with error signatures and deploys (new error types)

A reused store is served with a clock that runs on from when it was filled, so its window stays full.
"data_bytes" counts the page's data: callback responses and the first layout, which carries the
overview's content.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from waitress.server import create_server

from opsview.collectors.demo import build_fleet, window_coverage, window_errors, window_samples
from opsview.config import Config
from opsview.error_records import ErrorCoverage
from opsview.schema import floor_time, utcnow
from opsview.store import SQLiteStore
from opsview.web.app import create_app, shutdown
from opsview.web.context import context_of

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
_RENDERED = """() => document.querySelector('#kpi-total-invocations')
    && ['overview-invocations', 'overview-errors', 'overview-durations'].every(
        id => document.querySelector('#' + id + ' .main-svg .scatterlayer .trace'))
    && document.querySelectorAll('.top-box').length === 5
    && document.querySelector('#overview-new-errors table, #overview-new-errors .empty-state')
    && document.querySelector('#overview-health table, #overview-health .empty-state')"""


_FILLED_AT = "bench_web_filled_at"


def fill(store: SQLiteStore, scale: int, hours: float, errors: bool = False) -> int:
    now = utcnow()
    start = floor_time(now - timedelta(hours=hours), 60)
    fleet = build_fleet(42, scale)
    store.upsert_functions(fn.info for fn in fleet)
    written = store.write_samples(window_samples(42, scale, start, now))
    store.record_coverage(window_coverage(42, scale, start, now))
    if errors:  # what the demo collector also writes: signatures, deploys, every function's errors searched
        found, deploys = window_errors(42, scale, start, now)
        store.write_errors(found)
        store.write_events(deploys)
        store.record_error_coverage([ErrorCoverage(tuple(fn.info.key for fn in fleet), start, now)])
    store.set_meta(_FILLED_AT, now.isoformat())
    return written


def bench_clock(store: SQLiteStore) -> Callable[[], datetime]:
    """The server's clock: on a reused store, time runs on from when it was filled, so every run
    sees the same full window however long ago the file was made."""
    filled = store.get_meta(_FILLED_AT)
    if filled is None:
        return utcnow
    offset = utcnow() - datetime.fromisoformat(filled)
    return lambda: utcnow() - offset


def raw_window_bytes(store: SQLiteStore, window: timedelta, now: datetime) -> int:
    """Naive baseline: every minute sample of every function in the window, as JSON."""
    total = 0
    for info in store.functions():
        rows = [asdict(s) for s in store.series(info.key, now - window, now)]
        total += len(json.dumps(rows, default=str))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10, help="demo fleet copies (x60 functions; 84 = 5,040)")
    parser.add_argument("--hours", type=float, default=6.0, help="hours of minute data to generate")
    parser.add_argument("--filter-changes", type=int, default=5, help="provider changes to time")
    parser.add_argument("--errors", action="store_true",
                        help="also fill error signatures, deploys and error coverage (the overview's new error types "
                             "then have rows to find)")
    parser.add_argument("--store", type=Path, default=None,
                        help="keep the filled store in this file, and reuse it (no fill) when it exists")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory(prefix="opsview-bench-web-")
    path = args.store or Path(tmp.name) / "bench.db"
    fresh = not path.exists()
    store = SQLiteStore(path)
    t0 = time.perf_counter()
    samples = fill(store, args.scale, args.hours, args.errors) if fresh else -1
    generate_s = time.perf_counter() - t0
    functions = len(store.functions())

    clock = bench_clock(store)
    app = create_app(store, Config(), clock=clock)
    reads = context_of(app.server).reads
    server = create_server(app.server, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}/"

    from playwright.sync_api import sync_playwright

    received = {"bytes": 0, "data_bytes": 0}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

        def measured_load() -> tuple[Any, float, int, int]:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            urls: dict[str, str] = {}
            received.update(bytes=0, data_bytes=0)
            cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))

            def done(e: dict[str, Any]) -> None:
                received["bytes"] += int(e["encodedDataLength"])
                # The page's data: callback responses, and the first layout (which carries the overview's).
                if any(part in urls.get(e["requestId"], "") for part in ("_dash-update-component", "_dash-layout")):
                    received["data_bytes"] += int(e["encodedDataLength"])

            cdp.on("Network.loadingFinished", done)
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_function(_RENDERED, timeout=120_000, polling=20)
            return page, time.perf_counter() - start, received["bytes"], received["data_bytes"]

        cold_page, cold_s, cold_bytes, data_bytes = measured_load()
        cold_page.close()
        # The server keeps a view's reads for 15 s; clear them so "warm" means only the browser's
        # HTTP cache is warm and the server reads the store again.
        reads.clear()
        page, warm_s, _, _ = measured_load()

        def change_provider(provider: str) -> float:
            page.click("#ctl-provider")
            start = time.perf_counter()
            page.get_by_role("option", name=provider, exact=True).click()
            page.wait_for_function(
                f"""() => document.querySelector('#kpi-card-{provider}') &&
                    document.querySelectorAll('.kpi-card').length === 2 &&
                    document.querySelectorAll('#overview-invocations .scatterlayer .trace').length === 1""",
                timeout=60_000, polling=10)
            return time.perf_counter() - start

        # Switching providers right after viewing all of them: the all-provider reads are at hand.
        page.goto(url)
        page.wait_for_function(_RENDERED, timeout=120_000, polling=20)
        order = ("aws", "gcp", "azure")
        latencies = [change_provider(order[i % 3]) for i in range(args.filter_changes)]
        # The same with nothing at hand: every change reads the store (filtered to that provider).
        uncached = []
        for i in range(args.filter_changes):
            time.sleep(0.3)
            reads.clear()
            uncached.append(change_provider(order[(args.filter_changes + i) % 3]))  # never the current one
        browser.close()
    server.close()
    server.task_dispatcher.shutdown()
    shutdown(app)

    baseline = raw_window_bytes(store, timedelta(hours=1), clock())
    store.close()
    print(json.dumps({
        "functions": functions, "hours": args.hours, "errors": args.errors, "samples_generated": samples,
        "generate_s": round(generate_s, 1), "window": "1h",
        "overview_rendered_cold_s": round(cold_s, 3), "overview_rendered_warm_s": round(warm_s, 3),
        "bytes_transferred_cold": cold_bytes, "data_bytes_cold": data_bytes,
        "naive_raw_window_bytes": baseline, "raw_over_data_ratio": round(baseline / max(1, data_bytes), 1),
        "filter_change_ms": [round(x * 1000) for x in latencies],
        "filter_change_median_ms": round(statistics.median(latencies) * 1000),
        "filter_change_uncached_ms": [round(x * 1000) for x in uncached],
        "filter_change_uncached_median_ms": round(statistics.median(uncached) * 1000),
        "goals": {"rendered_s": 1.5, "bytes": 2_000_000, "filter_change_ms": 300},
    }, indent=2))
    tmp.cleanup()


if __name__ == "__main__":
    main()
