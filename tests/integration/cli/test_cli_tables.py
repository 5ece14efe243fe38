"""Tables keep numbers whole: an 80-column terminal loses whole columns, never digits; piped output is complete.

The terminal is a real pseudo-terminal of 80x24 (what a user's shell gives the process), the pipe a real pipe.
Every value shown on the terminal must be exactly the value the piped table shows for that row and column.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from datetime import timedelta
from pathlib import Path

import pytest

from opsview.schema import FunctionInfo, FunctionKey, Sample, floor_time, utcnow
from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration

STATUS_HEADERS = ("cloud", "region", "function", "inv/min", "err %", "thr", "cold %", "p50", "p95", "p99", "max", "$/h")
INGEST_HEADERS = ("function", "inv", "errors", "thr", "timeouts", "cold", "p50", "p95", "p99", "max", "init avg",
                  "mem used", "cost")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LONG_NAME = "orders-reconciliation-nightly-batch-for-the-european-warehouses"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES", "FORCE_COLOR", "TTY_COMPATIBLE"}}
    return {**env, "NO_COLOR": "1", "TERM": "xterm", **extra}


def piped(*args: str, **env: str) -> str:
    result = subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, timeout=300,
                            env=_env(**env), check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def on_terminal(*args: str, columns: int = 80) -> str:
    """What the command prints on a terminal `columns` wide (a pseudo-terminal; styles removed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "opsview", *args], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, env=_env(), close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the process closed its terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=300) == 0, proc.stderr.read() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    return _ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


def table(text: str, headers: tuple[str, ...]) -> tuple[list[str], list[list[str]], list[str]]:
    """(headers shown, rows of cells, lines after the rows): cells hold no spaces, headers may."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.strip().startswith("─"))
    header_line = lines[rule - 1]
    shown = sorted((h for h in headers if re.search(rf"(?<!\S){re.escape(h)}(?!\S)", header_line)),
                   key=lambda h: re.search(rf"(?<!\S){re.escape(h)}(?!\S)", header_line).start())  # type: ignore[union-attr]
    rows = []
    end = rule + 1
    while end < len(lines) and lines[end].strip():
        rows.append(lines[end].split())
        end += 1
    return shown, rows, lines[end:]


def assert_same_values(narrow: str, full: str, headers: tuple[str, ...], name: str = "function") -> list[str]:
    """Every cell on the terminal is the piped table's cell of that row and column; names may end in an
    ellipsis (a cut name), values never. Returns the headers the terminal left out."""
    shown, rows, _ = table(narrow, headers)
    all_headers, full_rows, _ = table(full, headers)
    assert all_headers == list(headers)
    assert len(rows) == len(full_rows)
    for row, full_row in zip(rows, full_rows, strict=True):
        assert len(row) == len(shown), row
        whole = dict(zip(headers, full_row, strict=True))
        for header, cell in zip(shown, row, strict=True):
            if header == name and cell.endswith("…"):
                assert whole[header].startswith(cell[:-1])
            else:
                assert cell == whole[header], (header, row, full_row)
    return [h for h in headers if h not in shown]


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tables") / "demo.db"
    piped("demo", "--collect-only", "--store", str(path), "--hours", "1")
    return path


def test_status_on_80_columns_drops_columns_never_digits(demo_store: Path) -> None:
    narrow = on_terminal("status", "--store", str(demo_store))
    assert max(len(line) for line in narrow.splitlines()) <= 80
    full = piped("status", "--store", str(demo_store))
    hidden = assert_same_values(narrow, full, STATUS_HEADERS)
    assert hidden  # 12 columns do not fit in 80
    assert {"function", "inv/min", "err %", "p99"}.isdisjoint(hidden)  # the columns that matter most stay
    _, _, after = table(narrow, STATUS_HEADERS)
    caption = f"not shown at 80 columns: {', '.join(hidden)} (widen the terminal, or pipe)"
    assert " ".join(after).split() == caption.split()


def test_status_never_drops_the_column_it_is_sorted_by(demo_store: Path) -> None:
    narrow = on_terminal("status", "--store", str(demo_store), "--sort", "cold_starts")
    full = piped("status", "--store", str(demo_store), "--sort", "cold_starts")
    assert "cold %" not in assert_same_values(narrow, full, STATUS_HEADERS)
    unsorted = on_terminal("status", "--store", str(demo_store))
    assert "cold %" not in table(unsorted, STATUS_HEADERS)[0]  # of low importance, it is dropped when not sorted on


def test_status_piped_is_whole_whatever_columns_says(demo_store: Path, tmp_path: Path) -> None:
    store_path = tmp_path / "long.db"
    store_path.write_bytes(demo_store.read_bytes())
    # an Azure function is named app/function: 60 + 1 + 100 characters is a name Azure accepts
    name = f"{'contoso-order-processing-west-europe-production-primary-app':<60}".replace(" ", "x") + "/" + "f" * 100
    key = FunctionKey("azure", "00000000-0000-0000-0000-000000000000", "westeurope", name)
    store = SQLiteStore(store_path)
    try:
        store.upsert_functions([FunctionInfo(key)])
        start = floor_time(utcnow(), 60) - timedelta(minutes=2)
        store.write_samples([Sample(key=key, start=start, period_s=60, invocations=1234567, errors=0)])
    finally:
        store.close()
    full = piped("status", "--store", str(store_path), COLUMNS="80")
    shown, rows, _ = table(full, STATUS_HEADERS)
    assert shown == list(STATUS_HEADERS)
    assert all(len(row) == len(STATUS_HEADERS) for row in rows)
    assert name in [row[2] for row in rows]
    assert "…" not in full


def _aws_log(tmp_path: Path) -> Path:
    lines = []
    for i, name in enumerate(["checkout", "auth", LONG_NAME]):
        for n in range(3):
            rid = f"{i:08d}-0000-4000-8000-{n:012d}"
            lines.append(f"2024-05-01T10:0{n}:00.000Z /aws/lambda/{name}\tREPORT RequestId: {rid}\t"
                         f"Duration: {1234.56 * (n + 1) + i:.2f} ms\tBilled Duration: 3704 ms\tMemory Size: 1024 MB\t"
                         f"Max Memory Used: 187 MB\tInit Duration: 812.33 ms")
    path = tmp_path / "export.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_on_80_columns_drops_columns_never_digits(tmp_path: Path) -> None:
    log = _aws_log(tmp_path)
    narrow = on_terminal("ingest", "--provider", "aws", str(log))
    assert max(len(line) for line in narrow.splitlines()) <= 80
    full = piped("ingest", "--provider", "aws", str(log))
    hidden = assert_same_values(narrow, full, INGEST_HEADERS)
    assert hidden
    assert {"function", "inv", "errors", "p99", "max"}.isdisjoint(hidden)


def test_ingest_piped_prints_long_names_and_every_column_whole(tmp_path: Path) -> None:
    full = piped("ingest", "--provider", "aws", str(_aws_log(tmp_path)))
    shown, rows, _ = table(full, INGEST_HEADERS)
    assert shown == list(INGEST_HEADERS)
    assert LONG_NAME in [row[0] for row in rows]
    assert "…" not in full


CHECK_CONFIG = """
[[alerts.rules]]
name = "any-error-at-all-in-the-last-quarter-hour"
measure = "error_rate"
window = "15m"
op = ">"
threshold = 0
severity = "warning"
"""


def test_check_and_silence_list_print_whole_lines_on_80_columns(demo_store: Path, tmp_path: Path) -> None:
    """Both print lines, not tables: the terminal wraps a long line, nothing is cut."""
    config = tmp_path / "opsview.toml"
    config.write_text(CHECK_CONFIG)
    store = tmp_path / "check.db"
    store.write_bytes(demo_store.read_bytes())
    args = ("check", "--no-collect", "--config", str(config), "--store", str(store))
    result = subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, timeout=300,
                            env=_env(COLUMNS="80"), check=False)
    records = [line for line in result.stdout.splitlines() if "any-error-at-all-in-the-last-quarter-hour" in line]
    assert records
    assert all(re.search(r"(aws|azure|gcp)/\S+/\S+/\S+", line) for line in records)
    assert "…" not in result.stdout
    silence = ("silence", "add", "--rule", "any-error-*", "--function", f"aws/*/*/{LONG_NAME}", "--for", "2h",
               "--comment", "nightly batch rewrite, expected to fail until the migration is done", "--store",
               str(store), "--config", str(config))
    piped(*silence)
    listed = on_terminal("silence", "list", "--store", str(store), "--config", str(config))
    assert f"aws/*/*/{LONG_NAME}" in listed.replace("\n", "")
    assert "expected to fail until the migration is done" in listed.replace("\n", "")
