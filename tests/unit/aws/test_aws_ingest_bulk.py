"""The bulk path of `opsview ingest --provider aws` (raw text, no --store) gives the same summary as the
line-by-line path, whatever the chunk boundaries cut through.

Chunks are made tiny (and the REPORT window short) so a few hundred lines cross many boundaries; the
line-by-line reference is the same reader with per-minute times wanted (what `--store` uses).
"""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

import opsview.collectors.aws.ingest as aws_ingest
from opsview.collectors.aws import correlator, text_reader
from opsview.ingest import Ingest

RID = "8f5a1c2e-0d3b-4b7a-9c1e-5f6a7b8c9d0"


@pytest.fixture(autouse=True, params=["columns", "regex"])
def _small_chunks(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Every test runs on both bulk readers: numpy columns (chunks in the exact layout) and the regex rows."""
    monkeypatch.setattr(text_reader, "TEXT_CHUNK", 3000)
    monkeypatch.setattr(correlator, "PENDING", 3)
    monkeypatch.setattr(text_reader, "use_columns", lambda _size: request.param == "columns")
    monkeypatch.setattr(text_reader, "COLUMNS_TEXT", 0)


def _summary(text: str, *, bulk: bool, function: str | None = "fn") -> dict[str, Any]:
    acc = Ingest("aws", None, minutes=not bulk)
    acc.add_all(aws_ingest.read(io.StringIO(text, newline=""), "export.log", function, acc.stats))
    data: dict[str, Any] = acc.result().to_json()
    return data


def _invocation(rng: random.Random, i: int, *, specials: bool, prefix: str = "2024-05-01T10:00:00.000Z ") -> list[str]:
    rid = f"{RID}{i:x}"
    duration = rng.uniform(0.5, 3000.0)
    report = (f"REPORT RequestId: {rid}\tDuration: {duration:.2f} ms\tBilled Duration: {int(duration) + 1} ms\t"
              f"Memory Size: {rng.choice([128, 512])} MB\tMax Memory Used: {rng.randint(40, 120)} MB")
    lines = [f"{prefix}START RequestId: {rid} Version: $LATEST", f"{prefix}{rid}\tINFO\tprocessing {i}"]
    roll = rng.random()
    if roll < 0.1:
        report += f"\tInit Duration: {rng.uniform(100, 900):.2f} ms"
    elif roll < 0.15:
        report += "\tXRAY TraceId: 1-5e1b4151-5ac6c58f5b5dbd6a2d1c1a2b\tSegmentId: 6b3c3d2a1e\tSampled: true"
    elif specials and roll < 0.2:
        report += f"\tRestore Duration: {rng.uniform(100, 400):.2f} ms\tBilled Restore Duration: 300 ms"
    elif specials and roll < 0.23:
        report += "\tStatus: error\tError Type: Runtime.ExitError"
    elif specials and roll < 0.26:
        lines.append(f"{prefix}{rid} Task timed out after 3.00 seconds")
    elif specials and roll < 0.28:
        lines.append(f"{prefix}{rid}\tERROR\tInvoke Error \t{{\"errorType\":\"Error\"}}")
    lines += [f"{prefix}END RequestId: {rid}", prefix + report]
    if specials and rng.random() < 0.03:  # a timeout line written after its REPORT, maybe in the next chunk
        lines.append(f"{prefix}{rid} Task timed out after 3.00 seconds")
    if specials and rng.random() < 0.01:
        lines.append(f"{prefix}INIT_REPORT Init Duration: 9999.00 ms\tPhase: init\tStatus: timeout")
    return lines


def _log(seed: int, invocations: int, *, specials: bool, newline: str = "\n", trailing: bool = True) -> str:
    rng = random.Random(seed)
    lines = [line for i in range(invocations) for line in _invocation(rng, i, specials=specials)]
    return newline.join(lines) + (newline if trailing else "")


def test_plain_log_bulk_matches_line_by_line_and_counts_every_line() -> None:
    text = _log(1, 400, specials=False)
    bulk, reference = _summary(text, bulk=True), _summary(text, bulk=False)
    assert bulk == reference
    assert bulk["lines_read"] == text.count("\n")
    assert bulk["functions"][0]["invocations"] == 400
    assert bulk["functions"][0]["cold_starts"] == text.count("Init Duration")


@pytest.mark.parametrize("seed", [2, 3, 4])
def test_timeouts_errors_and_restores_keep_their_meaning_across_chunks(seed: int) -> None:
    text = _log(seed, 500, specials=True)
    bulk = _summary(text, bulk=True)
    assert bulk == _summary(text, bulk=False)
    fn = bulk["functions"][0]
    assert fn["invocations"] == 500
    assert fn["timeouts"] > 0
    assert fn["errors"] > fn["timeouts"]


def test_crlf_and_missing_final_newline() -> None:
    text = _log(5, 300, specials=True, newline="\r\n", trailing=False)
    bulk = _summary(text, bulk=True)
    assert bulk == _summary(text, bulk=False)
    assert bulk["lines_read"] == text.count("\n") + 1, "the unterminated last line is read"
    assert bulk["functions"][0]["invocations"] == 300


def test_a_report_cut_by_a_chunk_boundary_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _log(6, 200, specials=False)
    for size in (257, 1000, 4099):
        monkeypatch.setattr(text_reader, "TEXT_CHUNK", size)
        assert _summary(text, bulk=True) == _summary(text, bulk=False), size
        assert _summary(text, bulk=True)["functions"][0]["invocations"] == 200


def test_report_in_another_layout_and_broken_reports_still_count() -> None:
    text = _log(7, 200, specials=False)
    odd = (f"REPORT RequestId: {RID}odd  Memory Size: 256 MB  Duration: 12.50 ms  Billed Duration: 13 ms  "
           "Max Memory Used: 300 MB\n")
    broken = "REPORT RequestId: broken Memory Size: 128 MB\n"
    middle = text.index("START", len(text) // 2)
    text = text[:middle] + odd + broken + text[middle:]
    bulk = _summary(text, bulk=True)
    assert bulk == _summary(text, bulk=False)
    assert bulk["functions"][0]["invocations"] == 201
    assert bulk["functions"][0]["memory_used_max_mb"] == 300
    assert bulk["lines_skipped"] == 1


def test_names_from_log_group_prefixes_without_function_flag() -> None:
    rng = random.Random(8)
    lines = [line for i in range(300)
             for line in _invocation(rng, i, specials=True, prefix=f"/aws/lambda/fn-{i % 3}\t2024-05-01T10:00:00Z\t")]
    text = "\n".join(lines) + "\n"
    bulk = _summary(text, bulk=True, function=None)
    assert bulk == _summary(text, bulk=False, function=None)
    assert [f["function"] for f in bulk["functions"]] == ["fn-0", "fn-1", "fn-2"]


def test_a_malformed_number_is_not_fatal() -> None:
    text = _log(10, 100, specials=False)
    bad = f"REPORT RequestId: {RID}bad\tDuration: 1.2.3 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t" \
          "Max Memory Used: 50 MB\n"
    text = text[: text.index("START", len(text) // 2)] + bad + text[text.index("START", len(text) // 2):]
    bulk = _summary(text, bulk=True)
    assert bulk == _summary(text, bulk=False)
    assert bulk["lines_read"] == text.count("\n")


def test_cli_json_without_store_matches_the_store_path(tmp_path: Path) -> None:
    """`--format json` alone takes the bulk path; with `--store` every REPORT is read one by one for minute
    samples. The printed summary is the same."""
    from click.testing import CliRunner

    from opsview.cli import main

    log = tmp_path / "checkout.log"
    log.write_text(_log(11, 3000, specials=False))
    runner = CliRunner()
    plain = runner.invoke(main, ["ingest", "--provider", "aws", "--format", "json", str(log)])
    stored = runner.invoke(main, ["ingest", "--provider", "aws", "--format", "json", "--store",
                                  str(tmp_path / "pm.db"), str(log)])
    assert plain.exit_code == 0, plain.output
    assert stored.exit_code == 0, stored.output
    assert json.loads(plain.stdout) == json.loads(stored.stdout)
    assert json.loads(plain.stdout)["functions"][0]["function"] == "checkout"
    assert json.loads(plain.stdout)["functions"][0]["invocations"] == 3000


def test_classic_mac_line_ends_are_lines_too() -> None:
    text = _log(12, 300, specials=True, newline="\r")
    bulk = _summary(text, bulk=True)
    assert bulk == _summary(text, bulk=False)
    assert bulk["lines_read"] == text.count("\r")
    assert bulk["functions"][0]["invocations"] == 300


def test_chunks_with_a_few_other_records_are_cut_around_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """A timeout or error now and then (real logs) must not send whole chunks line by line: the chunk is cut
    around those lines, the REPORTs between them are still summed in bulk, and the result is the same."""
    monkeypatch.setattr(text_reader, "TEXT_CHUNK", 40_000)
    monkeypatch.setattr(correlator, "PENDING", 8)
    rng = random.Random(13)
    lines = []
    for i in range(3000):
        lines += _invocation(rng, i, specials=False)
        if i % 97 == 5:  # before its REPORT (the runtime's order), after it, without an id, an init failure
            lines.insert(-1, f"2024-05-01T10:00:00.000Z {RID}{i:x} Task timed out after 3.00 seconds")
        if i % 211 == 9:
            lines.append(f"2024-05-01T10:00:00.000Z {RID}{i:x}\tERROR\tInvoke Error \t{{\"errorType\":\"Error\"}}")
        if i % 307 == 11:
            lines.append("2024-05-01T10:00:00.000Z Task timed out after 3.00 seconds")
        if i % 401 == 13:
            lines.append("2024-05-01T10:00:00.000Z INIT_REPORT Init Duration: 9999.00 ms\tPhase: init\tStatus: error")
        if i == 1500:
            lines.append("REPORT RequestId: broken Memory Size: 128 MB")
    text = "\n".join(lines) + "\n"
    batches = []
    real_columns, real_reports = text_reader.bulk_columns, text_reader.bulk_reports
    monkeypatch.setattr(text_reader, "bulk_columns", lambda *a: batches.append(a[0]) or real_columns(*a))
    monkeypatch.setattr(text_reader, "bulk_reports", lambda *a: batches.append(a[0]) or real_reports(*a))
    bulk = _summary(text, bulk=True)
    assert len(batches) > 10, "the REPORTs between the cuts were read in bulk"
    assert bulk == _summary(text, bulk=False)
    fn = bulk["functions"][0]
    assert (fn["invocations"], bulk["lines_read"], bulk["lines_skipped"]) == (3000, text.count("\n"), 1)
    assert fn["timeouts"] >= 3000 // 97


def test_split_keeps_every_line_once() -> None:
    text = "a\nb Task timed out after 1 seconds\nc\nd\nplatform.report INIT_REPORT\ne\nUnhandled exception\n"
    cut = text_reader.split(text)
    assert "".join(cut) == text
    assert cut == ["a\n", "b Task timed out after 1 seconds\n", "c\nd\n", "platform.report INIT_REPORT\n", "e\n",
                   "Unhandled exception\n"]
    assert text_reader.split("no marks\n") == ["no marks\n"]

