"""`opsview ingest --provider aws`: what a postmortem gets out of exported Lambda logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from opsview.cli import main
from opsview.schema import FunctionKey
from opsview.store import SQLiteStore

RID = "4ce9340a-b765-490f-ad8a-02ab3415e2b"


def _ingest(*args: str, stdin: str | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["ingest", "--provider", "aws", "--format", "json", *args], input=stdin)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["function"]: f for f in data["functions"]}


def _report(i: int, duration: float, *, init: float | None = None, extra: str = "") -> str:
    cold = f"\tInit Duration: {init:.2f} ms" if init is not None else ""
    return (f"REPORT RequestId: {RID}{i % 10}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\t"
            f"Memory Size: 512 MB\tMax Memory Used: {60 + i % 7} MB{cold}{extra}")


TEXT_LOG = "\n".join([
    f"START RequestId: {RID}1 Version: $LATEST",
    f"2024-05-01T10:00:00.100Z\t{RID}1\tINFO\thello",
    f"END RequestId: {RID}1",
    "2024-05-01T10:00:00.200Z " + _report(1, 100.0, init=250.0),
    "2024-05-01T10:00:01.000Z " + _report(2, 200.0),
    f"2024-05-01T10:00:04.000Z {RID}3 Task timed out after 3.00 seconds",
    "2024-05-01T10:00:04.001Z " + _report(3, 3000.0),
    "2024-05-01T10:01:00.000Z " + _report(4, 50.0, extra="\tStatus: error\tError Type: Runtime.ExitError"),
    "INIT_REPORT Init Duration: 9999.00 ms\tPhase: init\tStatus: timeout",
    "REPORT RequestId: broken Memory Size: 128 MB",
    "garbage line \x7f that is just application output",
]) + "\n"


def test_text_log_summary(tmp_path: Path) -> None:
    log = tmp_path / "checkout.log"
    log.write_text(TEXT_LOG)
    data = _ingest(str(log))
    assert data["lines_read"] == 11
    assert data["lines_skipped"] == 1  # the REPORT without a Duration; app output is not "skipped"
    (fn,) = data["functions"]
    assert fn["function"] == "checkout"  # from the file name
    assert fn["invocations"] == 4
    assert fn["timeouts"] == 1
    assert fn["errors"] == 2  # the timeout plus the Status: error
    assert fn["cold_starts"] == 1  # the failed INIT_REPORT is not a cold start of a success
    assert fn["init_avg_ms"] == 250.0
    assert fn["init_max_ms"] == 250.0
    assert fn["duration_max_ms"] == 3000.0
    assert fn["memory_size_mb"] == 512
    assert fn["billed_ms"] == 101 + 201 + 3001 + 51
    assert fn["cost_usd"] == pytest.approx(4 * 0.2 / 1e6 + 3.354 * 0.5 * 0.0000166667, rel=1e-3)


def test_function_flag_wins_over_file_name(tmp_path: Path) -> None:
    log = tmp_path / "export.txt"
    log.write_text(TEXT_LOG)
    assert _by_name(_ingest("--function", "payments", str(log))).keys() == {"payments"}


def test_stdin_and_timeout_line_after_report() -> None:
    # older runtimes write REPORT first and then the timeout line (as the Datadog fixture shows)
    text = _report(5, 3003.0) + f"\n2020-06-09T15:02:26.150Z {RID}5 Task timed out after 3.00 seconds\n"
    fn = _ingest("--function", "f", "-", stdin=text)["functions"][0]
    assert (fn["invocations"], fn["timeouts"], fn["errors"]) == (1, 1, 1)


def _events_doc(n: int, group_key: bool = False) -> dict[str, Any]:
    base = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)
    events = []
    for i in range(n):
        events.append({"logStreamName": "2024/05/01/[$LATEST]abc", "timestamp": base + i * 1000,
                       "message": f"START RequestId: {RID}{i % 10} Version: $LATEST\n", "ingestionTime": base,
                       "eventId": str(i)})
        events.append({"logStreamName": "2024/05/01/[$LATEST]abc", "timestamp": base + i * 1000 + 5,
                       "message": _report(i, 10.0 + i % 100, init=300.0 if i % 50 == 0 else None) + "\n",
                       "ingestionTime": base, "eventId": f"r{i}"})
    doc: dict[str, Any] = {"events": events, "searchedLogStreams": [], "nextToken": "x" * 20}
    return doc


def test_filter_log_events_document_streams_across_buffer_boundaries(tmp_path: Path) -> None:
    """3,000 invocations (~1 MB): the reader decodes event by event across its 64 KiB buffer refills."""
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(_events_doc(3000), indent=4))
    data = _ingest(str(path))
    fn = _by_name(data)["orders"]
    assert data["lines_read"] == 6000  # events, for JSON input
    assert data["lines_skipped"] == 0
    assert fn["invocations"] == 3000
    assert fn["cold_starts"] == 60
    assert fn["duration_max_ms"] == 109.0
    assert fn["duration_p50_ms"] == pytest.approx(59.5, rel=0.02)


def test_get_log_events_output_from_the_aws_docs(realdata: Path) -> None:
    data = _ingest("--function", "my-function", str(realdata / "aws" / "awsdocs_get_log_events_output.json"))
    fn = data["functions"][0]
    assert data["lines_read"] == 5
    assert (fn["invocations"], fn["cold_starts"], fn["duration_max_ms"], fn["memory_used_max_mb"]) == (1, 0, 26.73, 75)


def test_subscription_payloads_take_the_name_from_the_log_group(realdata: Path, tmp_path: Path) -> None:
    aws = realdata / "aws"
    data = _ingest(str(aws / "datadog_forwarder_cwlogs_timeout.json"),
                   str(aws / "datadog_forwarder_cwlogs_coldstart.json"),
                   str(aws / "datadog_forwarder_cwlogs_invocation_xray.json"))
    fns = _by_name(data)
    storms = fns["storms-cloudwatch-event"]  # both snapshots come from this group: one timeout, two cold starts
    assert (storms["invocations"], storms["timeouts"], storms["errors"], storms["cold_starts"]) == (2, 1, 1, 2)
    assert storms["init_max_ms"] == 127.02
    assert storms["init_avg_ms"] == pytest.approx((127.02 + 120.96) / 2, abs=0.01)
    assert fns["hello-dog-node-dev-hello12x"]["invocations"] >= 1
    assert data["lines_skipped"] == 0


def test_json_log_format_lines(realdata: Path) -> None:
    data = _ingest(str(realdata / "aws" / "datadog_platform_report_cloudwatch_json.jsonl"))
    fn = data["functions"][0]
    assert fn["function"] == "datadog_platform_report_cloudwatch_json"
    assert (fn["invocations"], fn["timeouts"], fn["cold_starts"], fn["init_max_ms"]) == (2, 1, 1, 985.41)


def test_telemetry_examples_with_invalid_json_are_skipped_not_fatal(realdata: Path, tmp_path: Path) -> None:
    """The published platform.report example has a trailing comma: counted as skipped."""
    src = realdata / "aws" / "awsdocs_telemetry_api_event_examples.txt"
    one_per_line = "\n".join(" ".join(block.split()) for block in src.read_text().split("\n\n") if block.strip())
    path = tmp_path / "telemetry.txt"
    path.write_text(one_per_line + "\n")
    data = _ingest("--function", "t", str(path))
    assert data["lines_skipped"] >= 1


def test_broken_document_keeps_what_was_read(tmp_path: Path) -> None:
    text = json.dumps(_events_doc(10))
    path = tmp_path / "cut.json"
    path.write_text(text[: len(text) // 2])
    data = _ingest("--function", "f", str(path))
    assert data["lines_skipped"] == 1
    assert 0 < data["functions"][0]["invocations"] < 10


def test_missing_and_binary_files_give_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["ingest", "--provider", "aws", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2
    assert "nope.log: no such file" in missing.output
    binary = tmp_path / "dump.bin"
    binary.write_bytes(b"\x00\x01REPORT" * 100)
    result = runner.invoke(main, ["ingest", "--provider", "aws", str(binary)])
    assert result.exit_code == 2
    assert "not a text file" in result.output
    assert "Traceback" not in result.output


def test_store_option_writes_minute_samples(tmp_path: Path) -> None:
    log = tmp_path / "checkout.log"
    log.write_text(TEXT_LOG)
    db = tmp_path / "pm.db"
    _ingest("--store", str(db), str(log))
    store = SQLiteStore(db)
    try:
        (info,) = store.functions()
        assert info.key.name == "checkout"
        window = (datetime(2024, 5, 1, 9, 59, tzinfo=UTC), datetime(2024, 5, 1, 10, 5, tzinfo=UTC))
        series = store.series(info.key, *window)
        assert [(s.start.minute, s.invocations, s.cold_starts) for s in series] == [(0, 3, 1), (1, 1, 0)]
        assert series[0].start + timedelta(minutes=1) == series[1].start
        assert isinstance(info.key, FunctionKey)
    finally:
        store.close()


def test_table_output_names_the_function(tmp_path: Path) -> None:
    log = tmp_path / "checkout.log"
    log.write_text(TEXT_LOG)
    result = CliRunner(env={"COLUMNS": "200"}).invoke(main, ["ingest", "--provider", "aws", str(log)])
    assert result.exit_code == 0
    assert "checkout" in result.output


def test_a_small_export_never_imports_numpy(tmp_path: Path) -> None:
    """numpy (~0.14 s CPU, ~15 MB to import) is for inputs of 16 MiB or more; a postmortem of a few lines
    must not pay for it."""
    import subprocess
    import sys

    log = tmp_path / "small.log"
    log.write_text(TEXT_LOG * 50)
    code = ("import sys\nfrom opsview.cli import main\n"
            f"try:\n    main(['ingest', '--provider', 'aws', '--format', 'json', {str(log)!r}])\n"
            "except SystemExit:\n    pass\nprint('numpy' in sys.modules, file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "False"
    assert json.loads(out.stdout)["functions"][0]["invocations"] > 0
