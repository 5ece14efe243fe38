"""`opsview ingest` on input it cannot read says so (one line, exit 2), and counts only what logs can show.

Through the real CLI (a subprocess) on the real exports of ../shared/realdata and on small files of our own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

RID = "4ce9340a-b765-490f-ad8a-02ab3415e2b0"
REPORT = (f"2024-05-01T10:00:00.000Z REPORT RequestId: {RID}\tDuration: 12.50 ms\tBilled Duration: 13 ms\t"
          "Memory Size: 128 MB\tMax Memory Used: 60 MB\n")


def ingest(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", "ingest", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def one_line_exit_2(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    return line


def test_a_yaml_export_names_the_file_and_what_was_expected(realdata: Path) -> None:
    path = realdata / "gcp" / "cloudrun_request_log_simonw_til.yaml"
    line = one_line_exit_2(ingest("--provider", "gcp", str(path)))
    assert line == (f"opsview: {path} (27 lines read, 27 skipped): no Cloud Functions log entries found (expected "
                    "the LogEntry JSON of `gcloud logging read ... --format=json`: gen1 execution lines, gen2 request "
                    "logs); this looks like YAML: export JSON instead (e.g. --format=json)")


def test_the_telemetry_api_examples_are_not_lambda_logs(realdata: Path) -> None:
    path = realdata / "aws" / "awsdocs_telemetry_api_event_examples.txt"
    line = one_line_exit_2(ingest("--provider", "aws", str(path)))
    assert line.startswith(f"opsview: {path} (")
    assert ": no Lambda invocation records found (expected Lambda log lines with REPORT records" in line


def test_a_gcp_export_given_to_azure_suggests_the_provider(realdata: Path) -> None:
    path = realdata / "gcp" / "cloudrun_request_log_simonw_til.json"
    line = one_line_exit_2(ingest("--provider", "azure", str(path), "--format", "json"))
    assert line.startswith(f"opsview: {path} (1 line read, 0 skipped): no Azure App Insights rows or Functions host "
                           "lines found (expected the JSON of `az monitor app-insights query`")
    assert line.endswith("; this looks like GCP logs: try --provider gcp")


def test_nothing_readable_never_touches_the_store(tmp_path: Path) -> None:
    store = tmp_path / "postmortem.db"
    good = tmp_path / "good.log"
    good.write_text(REPORT)
    assert ingest("--provider", "aws", "--store", str(store), str(good)).returncode == 0
    before = store.read_bytes()
    empty = tmp_path / "empty.log"
    empty.write_text("")
    line = one_line_exit_2(ingest("--provider", "aws", "--store", str(store), str(empty)))
    assert line.startswith(f"opsview: {empty} (0 lines read, 0 skipped): no Lambda invocation records found")
    assert store.read_bytes() == before


def test_an_empty_file_among_good_ones_is_a_warning(tmp_path: Path) -> None:
    good, empty = tmp_path / "good.log", tmp_path / "quiet-hour.log"
    good.write_text(REPORT)
    empty.write_text("INIT_START Runtime Version: python:3.12.v18\n")
    result = ingest("--provider", "aws", "--format", "json", str(good), str(empty))
    assert result.returncode == 0
    assert result.stderr.startswith(f"opsview: warning: {empty} (1 line read, 0 skipped): no Lambda invocation")
    assert len(result.stderr.splitlines()) == 1
    assert json.loads(result.stdout)["functions"][0]["invocations"] == 1


# --- throttles: a count only where the log could have shown one ----------------------------------------------


def _functions(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    assert result.returncode == 0, result.stderr
    return {f["function"]: f for f in json.loads(result.stdout)["functions"]}


def _stored(store: Path) -> dict[str, list[int | None]]:
    opened = SQLiteStore(store)
    try:
        lo, hi = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
        return {i.key.name: [s.throttles for s in opened.series(i.key, lo, hi)] for i in opened.functions()}
    finally:
        opened.close()


def test_lambda_logs_never_show_throttles_so_they_are_unknown(realdata: Path, tmp_path: Path) -> None:
    """A throttled invocation never runs, so it writes no log line: 0 would be a guess, not a count."""
    path = realdata / "aws" / "datadog_forwarder_cwlogs_timeout.json"
    store = tmp_path / "aws.db"
    fns = _functions(ingest("--provider", "aws", "--format", "json", "--store", str(store), str(path)))
    assert [f["throttles"] for f in fns.values()] == [None]
    assert {name: set(values) for name, values in _stored(store).items()} == {next(iter(fns)): {None}}


def test_gcp_gen1_throttles_are_unknown_and_gen2_are_counted(tmp_path: Path) -> None:
    """As the collector says: gen1 does not log the platform's rejections; gen2 logs every 429."""
    gen1 = {"type": "cloud_function", "labels": {"function_name": "mailer", "project_id": "p", "region": "r"}}
    gen2 = {"type": "cloud_run_revision", "labels": {"service_name": "api", "location": "r", "project_id": "p"}}
    entries = [
        {"resource": gen1, "timestamp": "2024-05-01T10:00:01Z",
         "textPayload": "Function execution took 120 ms, finished with status code: 200"},
        {"resource": gen2, "timestamp": "2024-05-01T10:00:01Z", "labels": {"goog-managed-by": "cloudfunctions"},
         "httpRequest": {"status": 200, "latency": "0.012s"}},
        {"resource": gen2, "timestamp": "2024-05-01T10:01:01Z", "labels": {"goog-managed-by": "cloudfunctions"},
         "httpRequest": {"status": 200, "latency": "0.020s"}},
        {"resource": gen2, "timestamp": "2024-05-01T10:01:02Z", "labels": {"goog-managed-by": "cloudfunctions"},
         "httpRequest": {"status": 429}},
    ]
    path = tmp_path / "gcloud.json"
    path.write_text(json.dumps(entries))
    store = tmp_path / "gcp.db"
    fns = _functions(ingest("--provider", "gcp", "--format", "json", "--store", str(store), str(path)))
    assert (fns["mailer"]["throttles"], fns["api"]["throttles"]) == (None, 1)
    assert _stored(store) == {"mailer": [None], "api": [0, 1]}


def test_azure_rows_count_429s_and_host_text_cannot(tmp_path: Path) -> None:
    rows = [{"TimeGenerated": "2024-05-01T10:00:00Z", "AppRoleName": "shop", "OperationName": "Functions.pay",
             "Success": ok, "ResultCode": code, "DurationMs": 12.0, "ItemCount": 1}
            for ok, code in ((True, "200"), (False, "429"), (True, "200"))]
    path = tmp_path / "q.json"
    path.write_text(json.dumps(rows))
    assert _functions(ingest("--provider", "azure", "--format", "json", str(path)))["shop/pay"]["throttles"] == 1
    text = tmp_path / "host.log"
    text.write_text(f"2024-05-01T10:00:00Z Executing 'Functions.pay' (Reason='x', Id={RID})\n"
                    f"2024-05-01T10:00:01Z Executed 'Functions.pay' (Succeeded, Id={RID}, Duration=12ms)\n")
    assert _functions(ingest("--provider", "azure", "--format", "json", str(text)))["pay"]["throttles"] is None
