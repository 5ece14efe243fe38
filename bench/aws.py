"""Benchmarks for the AWS collector and `opsview ingest --provider aws`; prints one JSON object.

refresh: one collection of N functions in one region against moto's server, 20 ms added to every request
         (a botocore `before-send` hook sleeps, standing in for the network), beside the naive baseline
         most CLI tools use: GetMetricStatistics once per function per metric, one after another.
         `ours` reads metrics only (cold starts and errors off: the call count of the metrics path);
         `ours_with_errors` adds the error signatures (Logs Insights, counted in the query, 50 log groups a
         query; tests/integration/aws/aws_fakes.FakeInsights answers StartQuery/GetQueryResults, each query
         `Running` once before `Complete`, so GetQueryResults = 2 x StartQuery here and more against AWS's
         slower queries); `ours_with_cold_starts_and_errors` both log reads. `naive_errors` reads each
         function's log group with FilterLogEvents, one call per function at least.
ingest:  a generated Lambda log of N lines through the real reader + accumulator, beside a naive
         line-by-line regex that keeps every duration in a list; each run in its own process so its
         peak RSS is its own. Run on N/5 and N lines to show memory does not grow with the file; the N-line
         pair runs --repeat times (medians; the ratio is taken within each pair, which shares the load).

Default run (~1-2 min): 200 functions, 200,000 lines. Full size: --functions 1000 --lines 1000000.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from fakes import load as load_fake  # bench/fakes.py: the test suite's cloud fakes

LATENCY_S = 0.020
ROOT = Path(__file__).resolve().parents[1]


# --- refresh ------------------------------------------------------------------------------


def _moto_percentiles() -> None:
    """moto answers percentile stats with a null it cannot serialise; add a nearest-rank percentile."""
    from moto.cloudwatch import models

    original = models.Statistics.get_statistics_for_type

    def with_percentiles(self: Any, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            return values[max(0, math.ceil(float(stat[1:]) / 100 * len(values)) - 1)] if values else None
        return original(self, stat)

    models.Statistics.get_statistics_for_type = with_percentiles  # type: ignore[method-assign]


def _moto_metric_index() -> None:
    """Give each CloudWatch query only its own metric's datapoints, for ours and the naive baseline alike.

    moto scans every stored datapoint for every query and every period, so at 1,000 functions its own
    CPU (quadratic in the fleet), not the API pattern, would set the wall time of a 500-query call.
    CloudWatch stores datapoints per metric; this index does the same, keyed by metric name and
    dimensions, and moto's own filtering and statistics then run unchanged on that subset.
    """
    from moto.cloudwatch import models

    local = threading.local()
    all_metrics = models.CloudWatchBackend.get_all_metrics

    def get_all_metrics(self: Any) -> Any:
        subset = getattr(local, "subset", None)
        return all_metrics(self) if subset is None else subset

    def index(self: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], list[Any]]:
        data = all_metrics(self)
        cached = getattr(self, "_bench_index", None)
        if cached is None or cached[0] != len(data):
            built: dict[tuple[str, frozenset[tuple[str, str]]], list[Any]] = defaultdict(list)
            for md in data:
                built[(md.name, frozenset((str(d.name), str(d.value)) for d in md.dimensions))].append(md)
            cached = self._bench_index = (len(data), built)
        return cached[1]

    def subset(self: Any, name: str, dimensions: list[dict[str, str]]) -> list[Any]:
        return index(self).get((name, frozenset((d["Name"], d["Value"]) for d in dimensions)), [])

    get_metric_data = models.CloudWatchBackend.get_metric_data
    get_metric_statistics = models.CloudWatchBackend.get_metric_statistics

    def indexed_data(self: Any, queries: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        if not all("MetricStat" in q for q in queries):
            return get_metric_data(self, queries, *args, **kwargs)
        out = []
        for q in queries:
            metric = q["MetricStat"]["Metric"]
            local.subset = subset(self, metric["MetricName"], metric.get("Dimensions", []))
            try:
                out.extend(get_metric_data(self, [q], *args, **kwargs))
            finally:
                local.subset = None
        return out

    def indexed_statistics(self: Any, namespace: str, metric_name: str, start_time: Any, end_time: Any,
                           period: int, stats: list[str], dimensions: list[dict[str, str]], unit: Any = None) -> Any:
        local.subset = subset(self, metric_name, dimensions)
        try:
            return get_metric_statistics(self, namespace, metric_name, start_time, end_time, period, stats,
                                         dimensions, unit)
        finally:
            local.subset = None

    models.CloudWatchBackend.get_all_metrics = get_all_metrics  # type: ignore[method-assign]
    models.CloudWatchBackend.get_metric_data = indexed_data  # type: ignore[method-assign]
    models.CloudWatchBackend.get_metric_statistics = indexed_statistics  # type: ignore[method-assign]


def _delay(**_: Any) -> None:
    time.sleep(LATENCY_S)


def _write_logs(url: str, functions: int, minute: Any) -> int:
    """A log group per function with a REPORT per minute; every 5th function also logs errors. Returns the
    error records written."""
    import boto3

    logs = boto3.client("logs", endpoint_url=url)
    ms = int(minute.timestamp() * 1000)
    errors = 0
    for i in range(functions):
        group, stream = f"/aws/lambda/fn-{i:04d}", "2026/01/01/[$LATEST]abc"
        logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        rid = f"{i:08x}-ee49-115b-a5b6-4fd21e8dedac"
        events = [{"timestamp": ms + 1000, "message": f"REPORT RequestId: {rid}\tDuration: 20.00 ms\tBilled "
                   "Duration: 20 ms\tMemory Size: 512 MB\tMax Memory Used: 90 MB\tInit Duration: 200.00 ms"}]
        if i % 5 == 0:
            events.insert(0, {"timestamp": ms + 500, "message": f"[ERROR] KeyError: 'user_{i}'"})
            events.insert(1, {"timestamp": ms + 900, "message": f"2026-01-01T00:00:00.000Z {rid} Task timed out "
                                                               "after 3.00 seconds"})
            errors += 2
        logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
    return errors


def bench_refresh(functions: int) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    from opsview.collectors.aws.collector import AwsCollector
    from opsview.collectors.base import CollectRequest
    from opsview.config import AwsSource
    from opsview.schema import floor_time, utcnow

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    _moto_percentiles()
    _moto_metric_index()
    fakes = load_fake("bench_aws_fakes", "aws/aws_fakes.py")  # moto extended where it departs from AWS's docs
    group_filter = fakes.documented_log_group_identifiers()
    group_filter.__enter__()  # undone when bench_refresh returns (the generator's finally)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        role = boto3.client("iam", endpoint_url=url).create_role(
            RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as zf:
            zf.writestr("app.py", "def handler(e, c):\n    return 1\n")
        lam = boto3.client("lambda", endpoint_url=url)
        for i in range(functions):
            lam.create_function(FunctionName=f"fn-{i:04d}", Runtime="python3.12", Role=role, Handler="app.handler",
                                Code={"ZipFile": code.getvalue()}, Timeout=30)
        now = utcnow()
        minute = floor_time(now, 60) - timedelta(minutes=2)
        cw = boto3.client("cloudwatch", endpoint_url=url)
        # sparse data (one minute, three metrics): moto scans every datapoint for every query
        batch = []
        for i in range(functions):
            dims = [{"Name": "FunctionName", "Value": f"fn-{i:04d}"}]
            for metric, value in (("Invocations", 10.0 + i % 7), ("Errors", float(i % 3)), ("Duration", 120.0)):
                batch.append({"MetricName": metric, "Dimensions": dims, "Timestamp": minute, "Value": value})
            if len(batch) >= 900:
                cw.put_metric_data(Namespace="AWS/Lambda", MetricData=batch)
                batch = []
        if batch:
            cw.put_metric_data(Namespace="AWS/Lambda", MetricData=batch)
        error_records = _write_logs(url, functions, minute)
        start, end = now - timedelta(minutes=3), now

        # ours: one refresh as `opsview collect` runs it (cold starts off: this measures metrics)
        collector = AwsCollector(AwsSource(name="bench", regions=["us-east-1"], endpoint_url=url, cold_starts="off",
                                           errors="off"))
        collector._client("sts", "us-east-1").meta.events.register("before-send", _delay)
        for service in ("lambda", "cloudwatch"):
            collector._client(service, "us-east-1").meta.events.register("before-send", _delay)
        began = time.perf_counter()
        result = collector.collect(CollectRequest(start=start, end=end))
        ours_s = time.perf_counter() - began
        assert all(h.ok for h in result.health), result.health
        ours_samples = len(result.samples)

        # with error signatures (and cold starts): the log reads the same refresh adds
        with_logs: dict[str, Any] = {}
        for label, cold_starts in (("ours_with_errors", "off"), ("ours_with_cold_starts_and_errors", "insights")):
            logged = AwsCollector(AwsSource(name="bench", regions=["us-east-1"], endpoint_url=url,
                                            cold_starts=cold_starts, errors="insights"))
            by_operation: dict[str, int] = defaultdict(int)

            def count_operation(model: Any, by_operation: dict[str, int] = by_operation, **_: Any) -> None:
                by_operation[model.name] += 1
                if model.name in ("StartQuery", "GetQueryResults", "StopQuery"):
                    time.sleep(LATENCY_S)  # answered by the fake before `before-send`: the network delay here

            for service in ("sts", "lambda", "cloudwatch", "logs"):
                client = logged._client(service, "us-east-1")
                # before the fake's `before-call.logs.*` handlers, which answer Insights without a request
                client.meta.events.register("before-parameter-build", count_operation)
                client.meta.events.register("before-send", _delay)
            fakes.FakeInsights("123456789012", "us-east-1").attach(logged._client("logs", "us-east-1"))
            began = time.perf_counter()
            found = logged.collect(CollectRequest(start=start, end=end))
            wall = time.perf_counter() - began
            assert all(h.ok for h in found.health), found.health
            with_logs[label] = {
                "api_calls": sum(by_operation.values()), "wall_s": round(wall, 3), "calls_by_operation":
                dict(sorted(by_operation.items())), "error_records": sum(o.count for o in found.errors),
                "error_signatures": len({o.signature for o in found.errors}),
                "functions_error_covered": len({k for c in found.error_coverage for k in c.keys}),
            }
            assert with_logs[label]["error_records"] == error_records, (with_logs[label], error_records)

        # the naive error read: FilterLogEvents on each function's log group, one after another
        naive_logs = boto3.client("logs", endpoint_url=url)
        naive_error_calls = 0

        def count_filter(**_: Any) -> None:
            nonlocal naive_error_calls
            naive_error_calls += 1
            time.sleep(LATENCY_S)

        naive_logs.meta.events.register("before-send", count_filter)
        began = time.perf_counter()
        for i in range(functions):
            for _ in naive_logs.get_paginator("filter_log_events").paginate(
                    logGroupName=f"/aws/lambda/fn-{i:04d}", startTime=int(start.timestamp() * 1000),
                    endTime=int(end.timestamp() * 1000), filterPattern="?ERROR ?\"Task timed out\""):
                pass
        naive_errors_s = time.perf_counter() - began

        # naive: list, then GetMetricStatistics per function per metric, sequentially
        calls = 0

        def count(**_: Any) -> None:
            nonlocal calls
            calls += 1
            time.sleep(LATENCY_S)

        naive_lam = boto3.client("lambda", endpoint_url=url)
        naive_cw = boto3.client("cloudwatch", endpoint_url=url)
        for client in (naive_lam, naive_cw):
            client.meta.events.register("before-send", count)
        began = time.perf_counter()
        pages = naive_lam.get_paginator("list_functions").paginate()
        names = [f["FunctionName"] for page in pages for f in page["Functions"]]
        naive_samples = 0
        for name in names:
            dims = [{"Name": "FunctionName", "Value": name}]
            got = False
            for metric, stats in (("Invocations", ["Sum"]), ("Errors", ["Sum"]), ("Throttles", ["Sum"]),
                                  ("Duration", ["Average", "Maximum"]), ("ConcurrentExecutions", ["Maximum"])):
                reply = naive_cw.get_metric_statistics(Namespace="AWS/Lambda", MetricName=metric, Dimensions=dims,
                                                       StartTime=start, EndTime=end, Period=60, Statistics=stats)
                got = got or bool(reply["Datapoints"])
            naive_samples += got
        naive_s = time.perf_counter() - began
    finally:
        server.stop()
        group_filter.__exit__(None, None, None)
    return {
        "functions": functions,
        "added_latency_ms": LATENCY_S * 1000,
        "ours": {"api_calls": collector.api_calls, "wall_s": round(ours_s, 3), "samples": ours_samples,
                 "measures": "Invocations, Errors, Throttles, Duration avg/p50/p95/p99/max, ConcurrentExecutions"},
        "naive_get_metric_statistics": {"api_calls": calls, "wall_s": round(naive_s, 3),
                                        "functions_with_data": naive_samples,
                                        "measures": "same minus percentiles"},
        "calls_ratio": round(calls / max(1, collector.api_calls), 1),
        "wall_ratio": round(naive_s / ours_s, 1),
        **with_logs,
        "naive_errors": {"api_calls": naive_error_calls, "wall_s": round(naive_errors_s, 3),
                         "method": "FilterLogEvents per function log group"},
    }


# --- ingest -------------------------------------------------------------------------------


def generate_log(path: Path, lines: int) -> None:
    """START / app line / END / REPORT per invocation, 8 functions' worth of request ids, ~3% cold."""
    with path.open("w") as out:
        i = 0
        written = 0
        while written < lines:
            rid = f"{i:08x}-ee49-115b-a5b6-4fd21e8dedac"
            ts = f"2024-05-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}.000Z"
            init = f"\tInit Duration: {150 + i % 300}.12 ms" if i % 33 == 0 else ""
            out.write(f"{ts} START RequestId: {rid} Version: $LATEST\n"
                      f"{ts}\t{rid}\tINFO\tprocessed order {i} in {i % 90} ms\n"
                      f"{ts} END RequestId: {rid}\n"
                      f"{ts} REPORT RequestId: {rid}\tDuration: {10 + (i * 7919) % 900}.{i % 100:02d} ms\t"
                      f"Billed Duration: {11 + (i * 7919) % 900} ms\tMemory Size: 512 MB\tMax Memory Used: "
                      f"{60 + i % 40} MB{init}\n")
            i += 1
            written += 4


def _run_ours(path: str) -> dict[str, Any]:
    from opsview.collectors.aws.ingest import read
    from opsview.ingest import Ingest
    from opsview.schema import DEFAULT_PRICES

    began, cpu = time.perf_counter(), time.process_time()
    acc = Ingest("aws", DEFAULT_PRICES["aws"], minutes=False)  # as `opsview ingest` without --store
    with open(path, encoding="utf-8", errors="replace", newline="") as stream:
        acc.add_all(read(stream, Path(path).name, "bench-fn", acc.stats))
    result = acc.result()
    elapsed = time.perf_counter() - began
    return {"lines": result.stats.lines_read, "seconds": elapsed, "cpu_seconds": time.process_time() - cpu,
            "invocations": result.functions[0].measures.invocations}


_NAIVE = re.compile(r"REPORT RequestId: (\S+)\s+Duration: ([\d.]+) ms.*?(?:Init Duration: ([\d.]+) ms)?$")


def _run_naive(path: str) -> dict[str, Any]:
    began, cpu = time.perf_counter(), time.process_time()
    durations: list[float] = []
    cold = 0
    lines = 0
    with open(path, encoding="utf-8") as stream:
        for line in stream:
            lines += 1
            match = _NAIVE.search(line)
            if match:
                durations.append(float(match.group(2)))
                cold += match.group(3) is not None
    durations.sort()
    _ = durations[int(0.99 * (len(durations) - 1))]
    return {"lines": lines, "seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - cpu,
            "invocations": len(durations)}


def _child(kind: str, path: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, path], capture_output=True, text=True,
                         check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    data: dict[str, Any] = json.loads(out.stdout)
    return data


def bench_ingest(lines: int, repeat: int) -> dict[str, Any]:
    """`repeat` rounds of (ours, naive) back to back: medians, and the ratio of each round's pair (the machine
    may be shared: a round's two runs see about the same load)."""
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small.log", Path(tmp) / "big.log"
        generate_log(small, lines // 5)
        generate_log(big, lines)
        ours_small = _child("ours", str(small))
        rounds = [(_child("ours", str(big)), _child("naive", str(big))) for _ in range(repeat)]
        size_mb = big.stat().st_size / 1e6
    ours_runs, naive_runs = [r[0] for r in rounds], [r[1] for r in rounds]
    for ours, naive in rounds:
        assert ours["invocations"] == naive["invocations"], (ours, naive)
    ours, naive = _median_run(ours_runs), _median_run(naive_runs)
    return {
        "lines": ours["lines"],
        "file_mb": round(size_mb, 1),
        "runs": repeat,
        "ours": {"lines_per_s": round(ours["lines"] / ours["seconds"]), "seconds": round(ours["seconds"], 2),
                 "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in ours_runs), 2),
                 "peak_rss_mb": max(r["peak_rss_mb"] for r in ours_runs),
                 "peak_rss_mb_at_one_fifth_size": ours_small["peak_rss_mb"]},
        "naive_regex": {"lines_per_s": round(naive["lines"] / naive["seconds"]), "seconds": round(naive["seconds"], 2),
                        "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in naive_runs), 2),
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in naive_runs)},
        "speed_ratio": round(statistics.median(n["seconds"] / o["seconds"] for o, n in rounds), 2),
        "speed_ratio_per_run": [round(n["seconds"] / o["seconds"], 2) for o, n in rounds],
        "cpu_ratio": round(statistics.median(n["cpu_seconds"] / o["cpu_seconds"] for o, n in rounds), 2),
    }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=200, help="functions in the refresh benchmark")
    parser.add_argument("--lines", type=int, default=200_000, help="lines of the generated ingest log")
    parser.add_argument("--repeat", type=int, default=3,
                        help="ingest: rounds of (ours, naive) on the full-size log; medians are reported")
    parser.add_argument("--only", choices=["refresh", "ingest"], default=None)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, path = args.child
        data = _run_ours(path) if kind == "ours" else _run_naive(path)
        data["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(data))
        return
    report: dict[str, Any] = {}
    if args.only in (None, "ingest"):
        report["ingest"] = bench_ingest(args.lines, max(1, args.repeat))
    if args.only in (None, "refresh"):
        report["refresh"] = bench_refresh(args.functions)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
