"""`opsview ingest --provider azure`: App Insights rows in every shape the tools print, and host text."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsview.cli import main
from opsview.collectors.azure.ingest import read
from opsview.ingest import Ingest, IngestResult
from opsview.logevents import ColdStartEvent, InvocationEvent

EXPORT = "azure/newrelic_appinsights_export"


def _ingest(text: str) -> IngestResult:
    acc = Ingest("azure", None)
    acc.add_all(read(io.StringIO(text), "input", None, acc.stats))
    return acc.result()


def _by_name(result: IngestResult) -> dict[str, dict[str, Any]]:
    return {f["function"]: f for f in result.to_json()["functions"]}


# --- real App Insights export records (diagnostic settings, from New Relic's test data) -----------------


def test_real_apprequests_export_record(realdata: Path) -> None:
    text = (realdata / EXPORT / "appInsightsAppRequest.json").read_text()
    result = _ingest(text)
    fn = _by_name(result)["functionAppName goes here/{function name}"]
    assert fn["invocations"] == 1
    assert fn["errors"] == 0
    assert fn["duration_max_ms"] == pytest.approx(9.16)
    assert fn["timeouts"] is None, "App Insights rows cannot tell timeouts apart"
    assert fn["memory_used_max_mb"] is None
    assert result.stats.lines_read == 1
    assert result.stats.lines_skipped == 0


def test_real_export_jsonl_mixed_tables_keeps_only_requests(realdata: Path) -> None:
    text = (realdata / EXPORT / "arrayOfStrings.jsonl").read_text()
    result = _ingest(text)
    assert list(_by_name(result)) == ["functionAppName/functionName"]
    fn = _by_name(result)["functionAppName/functionName"]
    assert fn["invocations"] == 1
    assert fn["duration_p99_ms"] == pytest.approx(30021.5, rel=0.01)
    assert result.stats.lines_read == 21, "every record of every table is read"
    assert result.stats.lines_skipped == 0, "other tables are read and ignored, not skipped"


def test_real_traces_without_host_starts_give_no_functions(realdata: Path) -> None:
    result = _ingest((realdata / EXPORT / "appInsightsAppTraces.json").read_text())
    assert result.functions == []
    assert result.stats.lines_read == 2


# --- query output shapes ----------------------------------------------------------------------------------


def test_log_analytics_query_list_of_rows_with_sampling_throttles_and_cold_start() -> None:
    rows = [
        {"TimeGenerated": "2025-03-04T10:00:01.1234567Z", "Type": "AppTraces", "AppRoleName": "orders",
         "AppRoleInstance": "i1", "Message": "Host initialized (120ms)"},
        {"TimeGenerated": "2025-03-04T10:00:01.5Z", "Type": "AppTraces", "AppRoleName": "orders",
         "AppRoleInstance": "i1", "Message": "Host started (480ms)"},
        {"TimeGenerated": "2025-03-04T10:00:02Z", "AppRoleName": "orders", "OperationName": "Functions.Get",
         "Success": "True", "ResultCode": "200", "DurationMs": "12.5", "ItemCount": "4"},
        {"TimeGenerated": "2025-03-04T10:00:03Z", "AppRoleName": "orders", "OperationName": "Get",
         "Success": "False", "ResultCode": "500", "DurationMs": 30, "ItemCount": 1},
        {"TimeGenerated": "2025-03-04T10:00:04Z", "AppRoleName": "orders", "OperationName": "Get",
         "Success": False, "ResultCode": "429", "DurationMs": 1, "ItemCount": 2},
    ]
    fn = _by_name(_ingest(json.dumps(rows)))["orders/Get"]
    assert fn["invocations"] == 5, "ItemCount 4 stands for four sampled requests; 429s are not invocations"
    assert fn["errors"] == 1
    assert fn["cold_starts"] == 1, "Host initialized + Host started of one instance are one start"
    assert fn["init_avg_ms"] == 480.0
    assert fn["duration_max_ms"] == 30.0


def test_rest_body_with_classic_requests_naming() -> None:
    body = {"tables": [{
        "name": "PrimaryResult",
        "columns": [{"name": n, "type": t} for n, t in (
            ("timestamp", "datetime"), ("cloud_RoleName", "string"), ("operation_Name", "string"),
            ("success", "string"), ("resultCode", "string"), ("duration", "real"), ("itemCount", "int"))],
        "rows": [
            ["2025-03-04T10:00:00Z", "billing", "Charge", "True", "200", 100.0, 1],
            ["2025-03-04T10:00:01Z", "billing", "Charge", "False", "500", 300.0, 1],
            ["2025-03-04T10:00:02Z", "billing", "Refund", "True", "200", 50.0, 1],
        ],
    }]}
    result = _ingest(json.dumps(body))
    names = _by_name(result)
    assert names["billing/Charge"]["invocations"] == 2
    assert names["billing/Charge"]["errors"] == 1
    assert names["billing/Refund"]["duration_p50_ms"] == pytest.approx(50.0, rel=0.02)
    assert result.samples[0].start.isoformat() == "2025-03-04T10:00:00+00:00", "minute samples for --store"


def test_app_insights_query_traces_table_cold_start_goes_to_next_request() -> None:
    body = {"tables": [{
        "name": "PrimaryResult",
        "columns": [{"name": n, "type": "string"} for n in
                    ("$table", "timestamp", "cloud_RoleName", "cloud_RoleInstance", "operation_Name", "message",
                     "success", "duration")],
        "rows": [
            ["requests", "2025-03-04T10:00:00Z", "app", None, "Early", None, "True", "5"],
            ["traces", "2025-03-04T10:00:10Z", "app", "i9", None, "Host started (900ms)", None, None],
            ["requests", "2025-03-04T10:00:11Z", "app", None, "Late", None, "True", "7"],
        ],
    }]}
    names = _by_name(_ingest(json.dumps(body)))
    assert names["app/Late"]["cold_starts"] == 1
    assert names["app/Early"]["cold_starts"] is None


def test_broken_rows_are_skipped_not_fatal() -> None:
    rows = [{"Type": "AppRequests", "AppRoleName": "a", "Success": "True"},  # no operation
            {"Type": "AppRequests", "AppRoleName": "a", "OperationName": "F", "Success": "maybe"},
            {"Type": "AppRequests", "AppRoleName": "a", "OperationName": "F", "Success": True, "DurationMs": 3}]
    result = _ingest(json.dumps(rows))
    assert result.stats.lines_skipped == 2
    assert _by_name(result)["a/F"]["invocations"] == 1


# --- Functions host text ---------------------------------------------------------------------------------

HOST_LOG = "\n".join([
    'Azure Functions Core Tools',
    '[2025-03-04T10:00:00.100Z] Host initialized (95ms)',
    '[2025-03-04T10:00:00.200Z] Host started (210ms)',
    "[2025-03-04T10:00:01.000Z] Executing 'Functions.HttpTrigger1' (Reason='T"
    "his function was programmatically called via the host APIs.', Id=aaaa-1)",
    '[2025-03-04T10:00:01.050Z] some app output',
    "[2025-03-04T10:00:01.120Z] Executed 'Functions.HttpTrigger1' (Succeeded, Id=aaaa-1, Duration=120ms)",
    "2025-03-04T10:01:00.000 [Information] Executing 'Functions.S"
    "low' (Reason='Timer fired at 2025-03-04T10:01:00', Id=bbbb-2)",
    '2025-03-04T10:06:00.010 [Error] Timeout value of 00:05:00 exceeded b'
    "y function 'Functions.Slow' (Id: 'bbbb-2'). Initiating cancellation.",
    "2025-03-04T10:06:00.050 [Error] Executed 'Functions.Slow' (Failed, Id=bbbb-2, Duration=300050ms)",
    "[3/4/2025 10:07:00 AM] Executing 'Functions.HttpTrigger1' (Reason='old host', Id=cccc-3)",
    "[3/4/2025 10:07:02 AM] Executed 'Functions.HttpTrigger1' (Succeeded, Id=cccc-3)",
    "[2025-03-04T10:08:00.000Z] Executed 'Functions.HttpTrigger1' (Failed, Id=dddd-4, Duration=",
]) + "\n"


def test_host_text_invocations_timeouts_durations_and_cold_start() -> None:
    result = _ingest(HOST_LOG)
    names = _by_name(result)
    http = names["HttpTrigger1"]
    assert http["invocations"] == 2
    assert http["cold_starts"] == 1, "Host started is one cold start, given to the next Executing function"
    assert http["init_avg_ms"] == 210.0
    assert http["duration_max_ms"] == pytest.approx(2000.0), "older hosts: Executing -> Executed time"
    assert http["timeouts"] == 0
    slow = names["Slow"]
    assert (slow["invocations"], slow["errors"], slow["timeouts"]) == (1, 1, 1)
    assert slow["cold_starts"] is None
    assert result.stats.lines_skipped == 1, "the truncated Executed line"
    assert result.stats.lines_read == len(HOST_LOG.splitlines())


def test_reader_yields_events_of_the_shared_types() -> None:
    events = list(read(io.StringIO(HOST_LOG), "x", None, Ingest("azure", None).stats))
    assert any(isinstance(e, ColdStartEvent) for e in events)
    assert all(isinstance(e, InvocationEvent | ColdStartEvent) for e in events)


def test_cli_ingest_azure_json_output(tmp_path: Path) -> None:
    log_file = tmp_path / "func.log"
    log_file.write_text(HOST_LOG)
    result = CliRunner().invoke(main, ["ingest", "--provider", "azure", str(log_file), "--format", "json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert {f["function"] for f in out["functions"]} == {"HttpTrigger1", "Slow"}
    assert out["lines_skipped"] == 1
    slow = next(f for f in out["functions"] if f["function"] == "Slow")
    assert slow["memory_size_mb"] is None
    assert slow["timeouts"] == 1
