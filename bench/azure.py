"""Benchmark: one Azure refresh of many function apps against a local Azure Monitor server.

Prints JSON: requests and wall time of the collector (one KQL query per workspace, one metrics
batch per 50 apps) beside a naive baseline measured in the same run (one KQL query per function
and one metrics call per app, 5 log queries in flight as the service allows), both through the
real SDK clients, with latency added to every server reply.

    .venv/bin/python bench/azure.py                # 500 apps x 4 functions, 20 ms latency
    .venv/bin/python bench/azure.py --apps 50 --latency-ms 5
    .venv/bin/python bench/azure.py --flex-apps 250  # half the fleet on Flex Consumption (plans detected)

`requests` counts every call of the refresh: log queries, metrics batches and, where a batch mixes
hosting plans, metric definitions. Error signatures and app versions (on by default) ride in the same one
query per workspace: `batched.requests` is with them, `batched.requests_errors_off` without (the same).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# this file is named like the `azure` package: keep its folder off the path so `import azure` finds the SDK
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO / "tests" / "integration" / "azure"))
sys.path.insert(0, str(REPO))

from azure_fake_service import (  # noqa: E402
    FakeAzure,
    FakeCredential,
    Reply,
    error_row,
    host_row,
    logs_body,
    request_row,
    start_fake_azure,
    version_row,
)

from opsview.collectors.azure.collector import AzureCollector  # noqa: E402
from opsview.collectors.azure.kql import function_buckets_query  # noqa: E402
from opsview.collectors.azure.metrics import NAMESPACE, PLAN_METRICS, Plan  # noqa: E402
from opsview.collectors.base import CollectRequest  # noqa: E402
from opsview.config import AzureSource  # noqa: E402

SUB = "00000000-0000-0000-0000-00000000bench"
T0 = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
_ONE = re.compile(r'AppRoleName == "(?P<app>[^"]+)" and OperationName == "(?P<op>[^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apps", type=int, default=500)
    parser.add_argument("--functions", type=int, default=4, help="functions per app")
    parser.add_argument("--minutes", type=int, default=5, help="length of the refresh window")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--flex-apps", type=int, default=0, help="apps on Flex Consumption (the rest Consumption)")
    args = parser.parse_args()

    apps = [f"app{i:04d}" for i in range(args.apps)]
    functions = [f"Fn{j}" for j in range(args.functions)]
    minutes = [T0 + timedelta(minutes=m) for m in range(args.minutes)]
    rows_by_fn = {
        (a, f): [request_row(a, f, t, 10 + j) for j, t in enumerate(minutes)] for a in apps for f in functions
    }
    # every app's host logs reach the workspace, so its cold starts are known (0 or more)
    all_rows = [row for rows in rows_by_fn.values() for row in rows] + [host_row(a, T0, 1) for a in apps]
    # every 10th function fails in every minute (two error texts, one signature), every app runs one version
    error_rows = [error_row(a, f, t, "System.TimeoutException", f"call to ledger {j} timed out", 2)
                  for i, (a, f) in enumerate(rows_by_fn) if i % 10 == 0 for j, t in enumerate(minutes)]
    error_rows += [version_row(a, "1.0.0", T0, minutes[-1]) for a in apps]

    def reply(body: dict[str, Any]) -> Reply:
        errors = "AppExceptions" in body["query"]
        one = _ONE.search(body["query"])
        if one:
            return Reply(200, logs_body(rows_by_fn.get((one["app"], one["op"]), []), errors=errors))
        return Reply(200, logs_body(all_rows + (error_rows if errors else []), errors=errors))

    def metric(rid: str, name: str, t: datetime) -> float | None:
        # consistent with the App Insights rows: minute j runs (10 + j) per function, 100 ms at 256 MB
        executions = float(args.functions * (10 + int((t - T0).total_seconds() // 60)))
        units = executions * 100.0 * 256
        return {"FunctionExecutionCount": executions, "FunctionExecutionUnits": units,
                "OnDemandFunctionExecutionCount": executions, "OnDemandFunctionExecutionUnits": units,
                "AlwaysReadyFunctionExecutionCount": 0.0, "AlwaysReadyFunctionExecutionUnits": 0.0}.get(name)

    flex = apps[len(apps) - args.flex_apps:] if args.flex_apps else []
    state = FakeAzure(logs_reply_fn=reply, latency_s=args.latency_ms / 1000.0, metric_value=metric,
                      app_plans=dict.fromkeys(flex, "flex"))
    server, thread = start_fake_azure(state)
    rids = [f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/{a}" for a in apps]
    source = AzureSource(name="bench", subscription_id=SUB, workspace_id="ws", region="westeurope",
                         logs_endpoint=state.url, metrics_endpoint=state.url, management_endpoint=state.url,
                         function_app_ids=rids)
    request = CollectRequest(start=T0, end=T0 + timedelta(minutes=args.minutes))
    try:
        # the collector: one query + ceil(apps / 50) metrics batches
        collector = AzureCollector(source, credential=FakeCredential())
        began = time.perf_counter()
        result = collector.collect(request)
        batched_s = time.perf_counter() - began
        batched_requests = len(state.seen)
        definitions = len(state.definition_calls())
        assert all(h.ok for h in result.health), [h.error for h in result.health]
        assert all(s.billed_ms is not None for s in result.samples), "every app billed, Flex ones included"
        samples = len(result.samples)
        error_observations = len(result.errors)
        assert error_observations == len(error_rows) - len(apps), "one signature per failing function-minute"
        # a second refresh knows every app's plan
        state.seen.clear()
        collector.collect(request)
        second_requests = len(state.seen)
        # the same refresh without errors: the request count does not depend on them
        state.seen.clear()
        AzureCollector(source.model_copy(update={"errors": False}), credential=FakeCredential()).collect(request)
        no_errors_requests = len(state.seen)

        # the naive baseline: one query per function, one metrics call per app
        state.seen.clear()
        naive_s, naive_samples = _naive(state.url, apps, functions, rids, request, state.app_plans)
        naive_requests = len(state.seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)

    print(json.dumps({
        "benchmark": "azure_refresh",
        "apps": args.apps, "functions": args.apps * args.functions, "minutes": args.minutes,
        "latency_ms": args.latency_ms, "flex_apps": args.flex_apps,
        "batched": {"requests": batched_requests, "wall_s": round(batched_s, 3), "samples": samples,
                    "metric_definitions": definitions, "second_refresh_requests": second_requests,
                    "error_observations": error_observations, "requests_errors_off": no_errors_requests},
        "naive": {"requests": naive_requests, "wall_s": round(naive_s, 3), "rows": naive_samples},
        "request_ratio": round(naive_requests / max(1, batched_requests), 1),
        "speedup": round(naive_s / max(batched_s, 1e-9), 1),
        "goal_request_ratio": 100,
    }, indent=2))


def _naive(
    url: str, apps: list[str], functions: list[str], rids: list[str], request: CollectRequest,
    plans: dict[str, str],
) -> tuple[float, int]:
    from azure.monitor.query import LogsQueryClient
    from azure.monitor.querymetrics import MetricsClient

    cred = FakeCredential()
    logs = LogsQueryClient(cred, endpoint=url)
    metrics = MetricsClient(url, cred)
    base = function_buckets_query(request.start, request.end)
    span = (request.start, request.end)

    def one_function(app: str, fn: str) -> int:
        query = base.replace("| where TimeGenerated >= lo and TimeGenerated < hi\n| extend",
                             f'| where TimeGenerated >= lo and TimeGenerated < hi\n'
                             f'| where AppRoleName == "{app}" and OperationName == "{fn}"\n| extend', 1)
        response = logs.query_workspace("ws", query, timespan=span, enforce_https=False)
        return sum(len(t.rows) for t in response.tables)

    def one_app(rid: str) -> int:
        # the baseline knows every app's plan (as if configured): one call per app, no detection
        plan = Plan(plans.get(rid.rsplit("/", 1)[-1], "consumption"))
        out = metrics.query_resources(resource_ids=[rid], metric_namespace=NAMESPACE,
                                      metric_names=list(PLAN_METRICS[plan]),
                                      timespan=span, granularity=timedelta(minutes=1), aggregations=["Total"],
                                      enforce_https=False)
        return len(out)

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=5) as pool:  # the service's 5 concurrent log queries
        rows = sum(pool.map(lambda pair: one_function(*pair), [(a, f) for a in apps for f in functions]))
        list(pool.map(one_app, rids))
    return time.perf_counter() - began, rows


if __name__ == "__main__":
    main()
