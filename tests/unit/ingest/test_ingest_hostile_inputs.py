"""Hostile inputs to `opsview ingest`, one regression test each, through the real CLI.

Each input used to end in a traceback (RecursionError, OverflowError, ValueError, AttributeError) or in a
number JSON cannot hold. Now each is a skipped record (counted in `lines_skipped`), a record with its time
unknown, or a one-line error with exit 2. Every run asserts the same user-visible contract: no traceback,
at most one line on stderr, and on exit 0 strict JSON on stdout (no NaN/Infinity) whose every number is
finite. `HOSTILE` is the list the closing note counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from opsview.cli import main
from opsview.store import SQLiteStore

RID = "4ce9340a-b765-490f-ad8a-02ab3415e2b0"
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC)
DEEP = '{"a":' * 200_000  # 200,000 levels (a run of `[` alone is read as list separators by the GCP reader)
BIG = "1" * 400  # float() gives inf; int() of the float overflows
HUGE_INT = "9" * 5000  # past Python's 4300-digit limit: json.loads raises ValueError


def report(duration: str = "12.5", billed: str = "13", size: str = "128", used: str = "60",
           prefix: str = "2024-05-01T10:00:00.000Z ") -> str:
    return (f"{prefix}REPORT RequestId: {RID}\tDuration: {duration} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {size} MB\tMax Memory Used: {used} MB\n")


def platform_report(**metrics: Any) -> str:
    values = {"durationMs": 12.5, "billedDurationMs": 13, "memorySizeMB": 128, "maxMemoryUsedMB": 60} | metrics
    body = ", ".join(f'"{k}": {v}' for k, v in values.items())  # raw text: NaN, 1e400, 400 digits as written
    return ('{"time": "2024-05-01T10:00:00.000Z", "type": "platform.report", "record": {"requestId": "' + RID
            + '", "metrics": {' + body + '}, "status": "success"}}\n')


def cw_event(message: str, timestamp: str = "1714557600000") -> str:
    return '{"events": [{"timestamp": ' + timestamp + ', "message": ' + json.dumps(message) + "}]}"


def gcp(latency: str = '"0.012s"', timestamp: str = '"2024-05-01T10:00:00Z"', text: str | None = None) -> str:
    resource = '{"type": "cloud_run_revision", "labels": {"service_name": "api", "location": "r", "project_id": "p"}}'
    if text is not None:
        resource = '{"type": "cloud_function", "labels": {"function_name": "f", "region": "r", "project_id": "p"}}'
        return ('[{"resource": ' + resource + ', "timestamp": ' + timestamp + ', "textPayload": ' + json.dumps(text)
                + "}]")
    return ('[{"resource": ' + resource + ', "timestamp": ' + timestamp + ', "httpRequest": {"status": 200, "latency": '
            + latency + "}}]")


def azure_row(duration: str = "12.5", items: str = "1", time: str = '"2024-05-01T10:00:00Z"') -> str:
    return ('[{"TimeGenerated": ' + time + ', "AppRoleName": "app", "OperationName": "Functions.f", "Success": true, '
            '"ResultCode": "200", "DurationMs": ' + duration + ', "ItemCount": ' + items + ', "Type": "AppRequests"}]')


@dataclass(frozen=True)
class Case:
    id: str
    provider: str
    text: str
    skipped: int  # records counted in `lines_skipped`
    invocations: int = 0  # what is still counted
    timed: bool = True  # False: the record counts but its time is unknown (no minute sample with --store)


HOSTILE = [
    # nesting (RecursionError)
    Case("aws-deep-json-document", "aws", DEEP, skipped=1),
    Case("aws-deep-json-lines", "aws", platform_report() + '{"a":' * 200_000 + "\n", skipped=1, invocations=1),
    Case("aws-deep-platform-line", "aws", "2024-05-01T10:00:00Z platform.report {" + '"a":[' * 200_000 + "\n", 1),
    Case("aws-deep-message-json", "aws", cw_event('{"type": "platform.report", "x": ' + DEEP), skipped=1),
    Case("aws-deep-array-document", "aws", "[" * 200_000, skipped=1),
    Case("gcp-deep-inside-an-entry", "gcp", '[{"resource": ' + "[" * 200_000, skipped=1),
    Case("azure-deep-json", "azure", DEEP, skipped=1),
    Case("gcp-deep-json", "gcp", DEEP, skipped=1),
    # huge, NaN, infinite, negative numbers (OverflowError / ValueError / NaN in the output)
    Case("aws-report-400-digit-duration", "aws", report(duration=BIG), skipped=1),
    Case("aws-report-400-digit-memory", "aws", report(size=BIG), skipped=1),
    Case("aws-report-memory-past-bigint", "aws", report(size="99999999999999999999"), skipped=1),
    Case("aws-report-memory-15-digits", "aws", report(used="999999999999999"), skipped=1),
    Case("aws-report-400-digit-billed", "aws", report(billed=BIG) + report(), skipped=1, invocations=1),
    Case("aws-timeout-400-digit-seconds", "aws", f"{RID} Task timed out after {BIG} seconds\n" + report(), 1, 1),
    Case("aws-compact-document-one-line", "aws", cw_event(report()), skipped=0, invocations=1),
    Case("aws-json-duration-1e400", "aws", platform_report(durationMs="1e400"), skipped=1),
    Case("aws-json-duration-nan", "aws", platform_report(durationMs="NaN"), skipped=1),
    Case("aws-json-duration-infinity", "aws", platform_report(durationMs="Infinity"), skipped=1),
    Case("aws-json-duration-negative", "aws", platform_report(durationMs="-5"), skipped=1),
    Case("aws-json-duration-400-digits", "aws", platform_report(durationMs=BIG), skipped=1),
    Case("aws-json-duration-5000-digits", "aws", platform_report(durationMs=HUGE_INT), skipped=1),
    Case("aws-json-memory-1e30", "aws", platform_report(memorySizeMB="1e30"), skipped=1),
    Case("aws-json-billed-1e308", "aws", platform_report(billedDurationMs="1e308") * 2, skipped=2),  # sum: inf
    Case("aws-event-timestamp-1e400", "aws", cw_event(report(), "1e400"), skipped=0, invocations=1, timed=False),
    Case("aws-event-timestamp-400-digits", "aws", cw_event(report(), BIG), skipped=0, invocations=1, timed=False),
    Case("aws-event-timestamp-negative", "aws", cw_event(report(), "-1e20"), skipped=0, invocations=1, timed=False),
    Case("gcp-latency-1e400s", "gcp", gcp(latency='"1e400s"'), skipped=1),
    Case("gcp-latency-seconds-1e400", "gcp", gcp(latency='{"seconds": 1e400}'), skipped=1),
    Case("gcp-latency-seconds-400-digits", "gcp", gcp(latency='{"seconds": ' + BIG + "}"), skipped=1),
    Case("gcp-latency-nan", "gcp", gcp(latency='"NaNs"'), skipped=1),
    Case("gcp-latency-infinity", "gcp", gcp(latency='"infs"'), skipped=1),
    Case("gcp-latency-negative", "gcp", gcp(latency='"-1s"'), skipped=1),
    Case("gcp-latency-nanos-nan", "gcp", gcp(latency='{"seconds": 1, "nanos": NaN}'), skipped=1),
    Case("gcp-gen1-took-400-digits", "gcp", gcp(text=f"Function execution took {BIG} ms, finished with status: 'ok'"),
         skipped=1),
    Case("gcp-status-5000-digits", "gcp", gcp().replace('"status": 200', f'"status": {HUGE_INT}'), skipped=1),
    Case("azure-duration-nan", "azure", azure_row(duration="NaN"), skipped=1),
    Case("azure-duration-infinity-text", "azure", azure_row(duration='"Infinity"'), skipped=1),
    Case("azure-duration-1e400", "azure", azure_row(duration="1e400"), skipped=1),
    Case("azure-duration-negative", "azure", azure_row(duration="-3"), skipped=1),
    Case("azure-duration-400-digits", "azure", azure_row(duration=BIG), skipped=1),
    Case("azure-itemcount-1e400", "azure", azure_row(items="1e400"), skipped=1),
    Case("azure-itemcount-negative", "azure", azure_row(items="-3"), skipped=1),
    Case("azure-host-duration-400-digits", "azure",
         f"2024-05-01T10:00:00Z Executed 'Functions.f' (Succeeded, Id={RID}, Duration={BIG}ms)\n", skipped=1),
    Case("azure-host-started-400-digits", "azure", f"2024-05-01T10:00:00Z Host started ({BIG}ms)\n", skipped=1),
    # names that name nothing (a key with an empty part cannot be parsed back from the store)
    Case("azure-operation-names-nothing", "azure", azure_row().replace("Functions.f", "Functions."), skipped=1),
    Case("gcp-project-from-empty-log-name", "gcp", gcp().replace('"project_id": "p"', '"x": 1').replace(
        '"timestamp"', '"logName": "projects//logs/run", "timestamp"'), skipped=1),
    # tables of the wrong shape (AttributeError / TypeError)
    Case("azure-tables-of-numbers", "azure", '{"tables": [1]}', skipped=1),
    Case("azure-columns-not-a-list", "azure", '{"tables": [{"columns": 5, "rows": [[1]]}]}', skipped=1),
    Case("azure-rows-not-a-list", "azure", '{"tables": [{"columns": [], "rows": 5}]}', skipped=1),
    Case("azure-column-names-not-text", "azure", '{"tables": [{"columns": [[1], {"name": {}}], "rows": [[1, 2]]}]}', 0),
    # timestamps out of range (OverflowError in astimezone)
    Case("aws-text-time-year-1-plus-14h", "aws", report(prefix="0001-01-01T00:00:00+14:00 "), 0, 1, timed=False),
    Case("aws-json-time-year-1-plus-14h", "aws",
         platform_report().replace("2024-05-01T10:00:00.000Z", "0001-01-01T00:00:00+14:00"), 0, 1, timed=False),
    Case("gcp-time-year-1-plus-14h", "gcp", gcp(timestamp='"0001-01-01T00:00:00+14:00"'), skipped=1),
    Case("gcp-time-year-9999-minus-14h", "gcp", gcp(timestamp='"9999-12-31T23:59:59-14:00"'), skipped=1),
    Case("gcp-time-year-1-utc", "gcp", gcp(timestamp='"0001-01-01T00:00:00Z"'), skipped=1),
    Case("azure-time-year-1-plus-14h", "azure", azure_row(time='"0001-01-01T00:00:00+14:00"'), 0, 1, timed=False),
    Case("azure-host-time-year-1", "azure",
         f"1/1/0001 12:00:00 AM Executed 'Functions.f' (Succeeded, Id={RID}, Duration=5ms)\n", 0, 1, timed=False),
]


def strict_json(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, ["ingest", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), "a traceback"
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 1, f"more than one line on stderr: {lines}"
    return result


@pytest.mark.parametrize("case", HOSTILE, ids=[c.id for c in HOSTILE])
def test_hostile_input_is_a_skipped_record_never_a_traceback(case: Case, tmp_path: Path) -> None:
    path = tmp_path / "hostile.log"
    path.write_text(case.text, encoding="utf-8")
    store = tmp_path / "postmortem.db"
    result = run("--provider", case.provider, "--format", "json", "--store", str(store), str(path))
    assert result.exit_code == 0, result.output
    data = strict_json(result.stdout)  # no NaN or Infinity: every number printed is finite
    assert data["lines_skipped"] == case.skipped
    assert sum(f["invocations"] for f in data["functions"]) == case.invocations
    opened = SQLiteStore(store)
    try:
        samples = [s for info in opened.functions() for s in opened.series(info.key, EARLIEST, LATEST)]
    finally:
        opened.close()
    assert sum(s.invocations or 0 for s in samples) == (case.invocations if case.timed else 0)


def test_json_output_is_strict_where_a_sum_used_to_overflow(tmp_path: Path) -> None:
    """`billed_ms` summed two 1e308 values to Infinity and printed `"billed_ms": Infinity`."""
    path = tmp_path / "billed.jsonl"
    path.write_text(platform_report(billedDurationMs="1e308") * 2 + platform_report())
    data = strict_json(run("--provider", "aws", "--format", "json", str(path)).stdout)
    assert data["functions"][0]["billed_ms"] == 13


def test_rich_markup_in_a_name_is_printed_as_text(tmp_path: Path) -> None:
    path = tmp_path / "rows.json"
    path.write_text(azure_row().replace('"app"', '"[/]"').replace("Functions.f", "[bold]x"))
    result = run("--provider", "azure", str(path), env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "[/]/[bold]x" in result.stdout


def _opsview(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": "/nonexistent", "OPSVIEW_CONFIG": ""}
    return subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, env=env,
                          timeout=120, check=False, **kwargs)


def _one_line_exit_2(proc: subprocess.CompletedProcess[str], *words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    for word in words:
        assert word in proc.stderr


def test_closed_stdin_is_one_line_and_exit_2() -> None:
    """`opsview ingest --provider aws - <&-`: Python starts with `sys.stdin = None`."""
    proc = _opsview("ingest", "--provider", "aws", "-", stdin=subprocess.DEVNULL, pass_fds=(),
                    preexec_fn=lambda: os.close(0))
    _one_line_exit_2(proc, "stdin")


def test_unreadable_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        path = tmp_path / "secret.log"
        path.write_text(report())
        path.chmod(0)  # Permission denied
    else:  # root reads any file, whatever its mode; the kernel refuses this one with an I/O error
        path = Path("/proc/self/mem")
    proc = _opsview("ingest", "--provider", "aws", str(path))
    _one_line_exit_2(proc, str(path), "cannot read")


def test_deep_nesting_in_a_subprocess_is_counted_not_fatal(tmp_path: Path) -> None:
    """The real process, with the interpreter's own recursion limit and stack (the cases above run in-process)."""
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    proc = _opsview("ingest", "--provider", "gcp", "--format", "json", str(path))
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert strict_json(proc.stdout)["lines_skipped"] == 1
