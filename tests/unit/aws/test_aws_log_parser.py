"""The pure Lambda log parser: every text and JSON variant an on-call engineer pastes into `opsview ingest`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsview.collectors.aws.logs import (
    FailedInit,
    InvokeError,
    MalformedRecord,
    Report,
    Timeout,
    leading_time,
    parse_json,
    parse_text,
)

RID = "c793869b-ee49-115b-a5b6-4fd21e8dedac"


def _report(line: str) -> Report:
    record = parse_text(line)
    assert isinstance(record, Report)
    return record


def test_warm_report_with_tabs_has_no_cold_start() -> None:
    r = _report(f"REPORT RequestId: {RID}\tDuration: 26.73 ms\tBilled Duration: 27 ms \tMemory Size: 128 MB\t"
                "Max Memory Used: 75 MB\t")
    assert (r.request_id, r.duration_ms, r.billed_ms, r.memory_size_mb, r.max_memory_used_mb) == (
        RID, 26.73, 27.0, 128, 75)
    assert not r.cold_start
    assert r.init_ms is None


def test_cold_report_with_xray_suffix_on_the_same_line() -> None:
    r = _report(f"REPORT RequestId: {RID}\tDuration: 128.83 ms\tBilled Duration: 200 ms\tMemory Size: 128 MB\t"
                "Max Memory Used: 74 MB\tInit Duration: 166.62 ms\tXRAY TraceId: 1-5d9d007f-0a8c7fd02xmpl480aed55ef0\t"
                "SegmentId: 3d752xmpl1bbe37e\tSampled: true")
    assert r.cold_start
    assert r.init_ms == 166.62
    assert r.duration_ms == 128.83


def test_init_duration_first_and_runs_of_spaces() -> None:
    r = _report("REPORT RequestId: f8ac1208... Init Duration: 48.26 ms   Duration: 237.17 ms   "
                "Billed Duration: 300 ms   Memory Size: 128 MB   Max Memory Used: 26 MB")
    assert (r.init_ms, r.duration_ms, r.billed_ms, r.max_memory_used_mb) == (48.26, 237.17, 300.0, 26)


def test_snapstart_restore_is_a_cold_start_and_billed_restore_is_not_confused() -> None:
    r = _report(f"REPORT RequestId: {RID}\tDuration: 51.29 ms\tBilled Duration: 260 ms\tMemory Size: 512 MB\t"
                "Max Memory Used: 110 MB\tRestore Duration: 474.16 ms\tBilled Restore Duration: 208 ms")
    assert r.cold_start
    assert r.init_ms is None
    assert (r.restore_ms, r.billed_restore_ms, r.startup_ms) == (474.16, 208.0, 474.16)


@pytest.mark.parametrize(
    ("status", "timed_out", "failed"), [("timeout", True, False), ("error", False, True), ("success", False, False)]
)
def test_status_field(status: str, timed_out: bool, failed: bool) -> None:
    r = _report(f"REPORT RequestId: {RID}  Duration: 3000.00 ms  Billed Duration: 3000 ms  Memory Size: 128 MB  "
                f"Max Memory Used: 38 MB  Status: {status}" + ("  Error Type: Runtime.ExitError" if failed else ""))
    assert (r.timed_out, r.failed) == (timed_out, failed)
    assert r.error_type == ("Runtime.ExitError" if failed else None)


@pytest.mark.parametrize(
    "prefix",
    [
        "2024-05-01T10:00:00.123Z ",  # CloudWatch export with an ISO timestamp
        "2024/05/01/[$LATEST]e6f4a0c4241adcd70c262d34c0bbc85c 2024-05-01T10:00:00.123000 ",  # sam logs
        "5/1/2024, 12:00:00 PM\t",  # console export: local time and a TAB
    ],
)
def test_prefixes_do_not_hide_the_report(prefix: str) -> None:
    r = _report(prefix + f"REPORT RequestId: {RID}\tDuration: 5.00 ms\tBilled Duration: 5 ms\tMemory Size: 256 MB\t"
                "Max Memory Used: 60 MB\tInit Duration: 300.00 ms")
    assert r.init_ms == 300.0
    assert r.memory_size_mb == 256


def test_only_tz_aware_prefix_times_are_trusted() -> None:
    line = "2024-05-01T10:00:00.123Z REPORT RequestId: x"
    assert leading_time(line, line.find("REPORT")) == datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=UTC)
    naive = "5/1/2024, 12:00:00 PM\tREPORT RequestId: x"
    assert leading_time(naive, naive.find("REPORT")) is None


def test_literal_backslash_t_separators_from_forwarders() -> None:
    r = _report(r"REPORT RequestId: 7c95\tDuration: 3003.16 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\t"
                r"Max Memory Used: 48 MB\tInit Duration: 127.02 ms\t\n")
    assert (r.request_id, r.duration_ms, r.init_ms) == ("7c95", 3003.16, 127.02)


def test_task_timed_out_line() -> None:
    record = parse_text(f"2020-06-09T15:02:26.150Z {RID} Task timed out after 3.00 seconds")
    assert record == Timeout(RID, 3.0)


def test_node_invoke_error_line() -> None:
    record = parse_text(f"2024-01-01T00:00:00.000Z\t{RID}\tERROR\tInvoke Error \t{{\"errorType\":\"Error\"}}")
    assert record == InvokeError(RID)


@pytest.mark.parametrize("status", ["error", "timeout"])
def test_failed_init_report_is_not_a_cold_start(status: str) -> None:
    record = parse_text(f"INIT_REPORT Init Duration: 10000.00 ms\tPhase: init\tStatus: {status}")
    assert isinstance(record, FailedInit)
    assert (record.init_ms, record.status, record.phase) == (10000.0, status, "init")


def test_application_output_is_not_a_record() -> None:
    assert parse_text(f"2024-01-01T00:00:00.000Z\t{RID}\tINFO\tDuration of the job: 12 ms") is None
    assert parse_text("START RequestId: x Version: $LATEST") is None


def test_report_without_duration_is_malformed() -> None:
    with pytest.raises(MalformedRecord, match="Duration"):
        parse_text("REPORT RequestId: x Memory Size: 128 MB")


def test_json_platform_report_with_init_and_timeout() -> None:
    record = parse_json({
        "time": "2024-10-18T19:38:39.661Z", "type": "platform.report",
        "record": {"requestId": "b441", "status": "timeout", "metrics": {
            "durationMs": 30000.0, "billedDurationMs": 30000, "memorySizeMB": 128, "maxMemoryUsedMB": 74,
            "initDurationMs": 985.413}},
    })
    assert isinstance(record, Report)
    assert (record.cold_start, record.init_ms, record.timed_out, record.memory_size_mb) == (True, 985.413, True, 128)


def test_json_platform_report_snapstart_restore() -> None:
    record = parse_json({"type": "platform.report", "record": {"requestId": "r", "status": "success", "metrics": {
        "durationMs": 12.5, "restoreDurationMs": 300.2, "billedRestoreDurationMs": 120}}})
    assert isinstance(record, Report)
    assert record.cold_start
    assert record.startup_ms == 300.2


def test_json_init_report_failed_and_success() -> None:
    failed = parse_json({"type": "platform.initReport", "record": {
        "initializationType": "on-demand", "phase": "init", "status": "error", "errorType": "Runtime.ExitError",
        "metrics": {"durationMs": 1234.5}}})
    assert failed == FailedInit(1234.5, "error", "init", "Runtime.ExitError")
    assert parse_json({"type": "platform.initReport", "record": {"status": "success", "metrics": {}}}) is None


def test_json_line_in_text_mode() -> None:
    line = ('{"time":"2024-01-01T00:00:00Z","type":"platform.report","record":{"requestId":"a",'
            '"metrics":{"durationMs":2.5,"billedDurationMs":3,"memorySizeMB":128,"maxMemoryUsedMB":60}}}')
    record = parse_text(line)
    assert isinstance(record, Report)
    assert record.duration_ms == 2.5
    assert not record.cold_start


def test_every_published_devguide_report_parses(realdata: Path) -> None:
    """Real REPORT lines from the AWS developer guide: each file holds one, most of them cold starts."""
    reports = []
    for path in sorted((realdata / "aws" / "awsdocs_devguide").glob("*.log")):
        lines = [rec for line in path.read_text().splitlines() if (rec := parse_text(line)) is not None]
        found = [rec for rec in lines if isinstance(rec, Report)]
        assert len(found) == 1, path.name
        reports.append((path.name, found[0]))
    by_name = dict(reports)
    assert by_name["powershell-logging__block1.log"].init_ms == 5960.19
    assert by_name["runtimes-custom__block1.log"].init_ms == 48.26
    assert not by_name["best-practices__block1.log"].cold_start
    assert by_name["best-practices__block1.log"].memory_size_mb == 128
    assert sum(r.cold_start for _, r in reports) >= 9
