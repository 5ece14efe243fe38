"""`opsview.collectors.aws.columns`: the numpy reader of REPORT lines reads exactly what the line parser reads, or
refuses the chunk (the caller then takes its regex / line-by-line path)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from opsview.collectors.aws.columns import parse_columns
from opsview.collectors.aws.logs import REPORT_MARK, MalformedRecord, Report, parse_report_text, parse_text
from opsview.collectors.aws.report_batches import OTHER_MARKS
from opsview.untrusted import MAX_DURATION_MS

XRAY = "\tXRAY TraceId: 1-5e1b4151-5ac6c58f5b5dbd6a2d1c1a2b\tSegmentId: 6b3c3d2a1e\tSampled: true"
GOOD = "REPORT RequestId: r-1\tDuration: 1.5 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 50 MB\n"


def _report(duration: str = "12.34", billed: str = "13", size: str = "512", used: str = "80", init: str = "",
            rid: str = "8f5a1c2e-0d3b-4b7a-9c1e-5f6a7b8c9d01", prefix: str = "2024-05-01T10:00:00.000Z ") -> str:
    tail = f"\tInit Duration: {init} ms" if init else ""
    return (f"{prefix}REPORT RequestId: {rid}\tDuration: {duration} ms\tBilled Duration: {billed} ms\t"
            f"Memory Size: {size} MB\tMax Memory Used: {used} MB{tail}\n")


def _assert_same_as_parser(text: str) -> int:
    columns = parse_columns(text, OTHER_MARKS)
    assert columns is not None
    lines = [line for line in text.split("\n") if REPORT_MARK in line]
    assert len(columns) == len(lines)
    assert columns.lines == text.count("\n")
    for i, line in enumerate(lines):
        expected = parse_report_text(line[line.find(REPORT_MARK):])
        init = float(columns.init_ms[i])
        got = Report(columns.request_id(i), float(columns.durations_ms[i]), float(columns.billed_ms[i]),
                     int(columns.memory_size_mb[i]), int(columns.max_memory_used_mb[i]),
                     init_ms=None if math.isnan(init) else init)
        assert got == expected, line
    return len(lines)


def test_reads_what_the_line_parser_reads() -> None:
    rng = random.Random(1)
    parts = []
    for i in range(500):
        parts.append(f"2024-05-01T10:00:00.000Z START RequestId: r{i} Version: $LATEST\n")
        parts.append(f"2024-05-01T10:00:00.000Z\tr{i}\tINFO\tdone {i} in {rng.random():.3f} s\n")
        duration = f"{rng.uniform(0, 900000):.{rng.choice([0, 1, 2, 3])}f}"
        init = f"{rng.uniform(50, 9000):.2f}" if rng.random() < 0.2 else ""
        parts.append(_report(duration, str(rng.randint(1, 900001)), str(rng.choice([128, 10240])),
                             str(rng.randint(30, 10240)), init, rid=f"{i:08x}-aa{i}", prefix=rng.choice(["", "x "])))
    assert _assert_same_as_parser("".join(parts)) == 500


def test_numbers_are_the_floats_python_reads() -> None:
    rng = random.Random(2)
    numbers = []
    for _ in range(20000):
        whole = str(rng.randint(0, 10 ** rng.randint(1, 9)))
        fraction = rng.randint(0, 6)
        numbers.append(whole + (f".{rng.randint(0, 10**fraction - 1):0{fraction}d}" if fraction else ""))
    numbers += ["0", "0.0", "007.50", "1234567890.12345", "9999999999.99999", "0.000000000000001", "4503599627.370497"]
    numbers = [n for n in numbers if len(n.replace(".", "")) <= 15 and float(n) <= MAX_DURATION_MS]
    columns = parse_columns("".join(_report(duration=n, init=n) for n in numbers))
    assert columns is not None
    assert columns.durations_ms.tolist() == [float(n) for n in numbers]
    assert columns.init_ms.tolist() == [float(n) for n in numbers]


@pytest.mark.parametrize(("field", "value"), [
    ("duration", "99999999999"), ("init", "123456789012.5"), ("size", "999999999999999"), ("used", "2000000"),
])
def test_numbers_past_the_guards_limits_leave_the_chunk_to_the_line_parser(field: str, value: str) -> None:
    """Fifteen digits fit the columns, but no platform reports such a duration or memory: the line parser skips
    that record, so the columns must not read it."""
    line = _report(**{field: value})
    assert parse_columns(_report() + line) is None
    with pytest.raises(MalformedRecord):
        parse_report_text(line[line.find(REPORT_MARK):])


@pytest.mark.parametrize("line", [
    _report(rid="has space"),
    _report(rid="back\\slash"),
    _report(rid="caf\u00e9"),
    _report(rid=""),
    _report(duration="1."),
    _report(duration=".5"),
    _report(duration="1.2.3"),
    _report(duration="1e3"),
    _report(duration="1234567890123456"),  # 16 digits: not read exactly as one division
    _report(size="1.5"),
    _report(used="-3"),
    _report().replace(" ms\tBilled", "  ms\tBilled"),
    _report().replace("\tDuration", "  Duration"),
    _report().replace("RequestId: ", "RequestId:"),
    _report().replace("\n", "\tStatus: timeout\n"),
    _report().replace("\n", f"{XRAY}\tStatus: error\n"),
    _report().replace("\n", f"{XRAY}\tInit Duration: 5 ms\n"),
    _report().replace("\n", "\t" + _report(prefix="")),  # a second REPORT in the suffix
    _report().replace("\n", "\tRestore Duration: 300.00 ms\tBilled Restore Duration: 200 ms\n"),
    _report(init="12").replace(" ms\n", " ms \n"),
    _report().replace("\n", " " + _report(prefix="")),  # two REPORTs on one line
    "REPORT RequestId: broken Memory Size: 128 MB\n",
    "REPORT RequestId:\n",
])
def test_any_other_layout_is_refused(line: str) -> None:
    assert parse_columns(GOOD + line + GOOD, OTHER_MARKS) is None


@pytest.mark.parametrize("other", [
    "2024-05-01T10:00:00.000Z INIT_REPORT Init Duration: 9999.00 ms\tPhase: init\tStatus: timeout",
    "2024-05-01T10:00:00.000Z r-1 Task timed out after 3.00 seconds",
    "2024-05-01T10:00:00.000Z\tr-1\tERROR\tInvoke Error \t{}",
    "[ERROR] LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code.",
    '{"time":"2024-05-01T10:00:00Z","type":"platform.report","record":{}}',
    "platform.report without braces",
])
def test_other_records_are_left_to_the_line_parser(other: str) -> None:
    """Wherever they are, even first or last in the text, at the same time as clean REPORTs."""
    assert parse_columns(GOOD + GOOD, OTHER_MARKS) is not None
    for text in (other + "\n" + GOOD, GOOD + other + "\n", GOOD + other + "\n" + GOOD):
        assert parse_columns(text, OTHER_MARKS) is None, text


def test_text_without_reports_and_unfinished_text() -> None:
    empty = parse_columns("just application output\n\u00e9t\u00e9\n", OTHER_MARKS)
    assert empty is not None
    assert (len(empty), empty.lines) == (0, 2)
    assert parse_columns(GOOD.rstrip("\n"), OTHER_MARKS) is None
    assert parse_columns("", OTHER_MARKS) is None


def test_x_ray_suffixes_are_read_as_the_parser_reads_them() -> None:
    text = GOOD + _report().replace("\n", XRAY + "\n") + _report(init="150.12").replace("\n", XRAY + "\n")
    assert _assert_same_as_parser(text) == 3
    assert parse_columns(text + "app: Status ok\n", OTHER_MARKS) is None, "a Status anywhere: the regex path"
    assert parse_columns(text + "app: Duration 3\n", OTHER_MARKS) is None


def test_non_ascii_output_around_reports_is_fine() -> None:
    text = "caf\u00e9 \u2713 \u00fcber\n" + _report(init="150.12") + "\u65e5\u672c\u8a9e\t\u00e9\n" + _report()
    assert _assert_same_as_parser(text) == 2


def test_every_published_devguide_report_in_the_exact_layout_is_read_as_the_parser_reads_it(
        realdata: Path) -> None:
    exact = 0
    for path in sorted((realdata / "aws" / "awsdocs_devguide").glob("*.log")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if REPORT_MARK not in line or not isinstance(parse_text(line), Report):
                continue
            columns = parse_columns(line + "\n", OTHER_MARKS)
            if columns is not None:
                exact += _assert_same_as_parser(line + "\n")
    assert exact > 0
