"""The real `opsview demo` in a real terminal (tmux): it draws, answers keys, and quits cleanly."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.ui,
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _start(tmp_path: Path, width: int, height: int) -> str:
    name = f"opsview-{uuid.uuid4().hex[:8]}"
    env = {
        "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "xterm-256color", "PATH": os.environ.get("PATH", ""),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    opsview = Path(sys.executable).with_name("opsview")
    done = tmp_path / "exit-code"
    command = f"env {exports} {opsview} demo --hours 0.5; echo $? > {done}; sleep 60"
    _tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", str(height), command)
    return name


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[int, int], str]]:
    """Starts `opsview demo` in a detached tmux session of the given size; kills it after the test."""
    names: list[str] = []

    def run(width: int, height: int) -> str:
        names.append(_start(tmp_path, width, height))
        return names[-1]

    yield run
    for name in names:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


@pytest.fixture
def session(start: Callable[[int, int], str]) -> str:
    return start(120, 40)


def _wait_for(session: str, predicate: Callable[[str], bool], timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    pane = ""
    while time.monotonic() < deadline:
        pane = _tmux("capture-pane", "-p", "-t", session)
        if predicate(pane):
            return pane
        time.sleep(0.3)
    raise AssertionError(f"timed out; the pane shows:\n{pane}")


def test_demo_opens_the_tui_answers_keys_and_quits(session: str, tmp_path: Path) -> None:
    pane = _wait_for(session, lambda p: "60/60 functions" in p and "data as of" in p)
    assert "checkout-api" in pane
    assert "err %" in pane
    assert "Traceback" not in pane

    _tmux("send-keys", "-t", session, "2")
    pane = _wait_for(session, lambda p: "cloud azure" in p and "18/18 functions" in p)
    assert "orders-func/" in pane
    assert not any(line.startswith("aws ") for line in pane.splitlines())

    _tmux("send-keys", "-t", session, "Enter")
    pane = _wait_for(session, lambda p: "runtime" in p and "━ errors" in p)
    assert "━ p99" in pane
    _tmux("send-keys", "-t", session, "End")  # setup, collection and alert history are below the charts
    pane = _wait_for(session, lambda p: "resource" in p)
    assert "/subscriptions/" in pane  # an Azure resource id in the detail screen
    time.sleep(0.3)
    _tmux("send-keys", "-t", session, "Escape")
    _wait_for(session, lambda p: "18/18 functions" in p)

    _tmux("send-keys", "-t", session, "q")
    code_file = tmp_path / "exit-code"
    deadline = time.monotonic() + 20
    while not code_file.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert code_file.read_text().strip() == "0"
    pane = _tmux("capture-pane", "-p", "-t", session)
    assert "Traceback" not in pane
    assert "Error" not in pane


def test_demo_at_80x24_keeps_its_essentials_on_screen(start: Callable[[int, int], str]) -> None:
    """The smallest common terminal: one-line totals, the footer's a/?/q, every detail chart."""
    session = start(80, 24)
    pane = _wait_for(session, lambda p: "60/60 functions" in p and "data as of" in p and "Filter" in p)
    lines = pane.splitlines()
    assert lines[1].lstrip().startswith("aws ")
    assert "gcp " in lines[1], "the totals line holds every cloud"
    assert lines[2].lstrip().startswith("data as of"), "and does not wrap"
    footer = lines[23]
    for key in ("a Alerts", "? Help", "q Quit"):
        assert key in footer, footer

    _tmux("send-keys", "-t", session, "s", "s")  # sort by cold starts, a column 80 columns used to drop
    pane = _wait_for(session, lambda p: "sort cold % ↓" in p)
    assert "cold%" in next(line for line in pane.splitlines() if line.startswith("cloud"))

    _tmux("send-keys", "-t", session, "Enter")
    pane = _wait_for(session, lambda p: "━ invocations" in p and "━ cold starts" in p and "q Quit" in p)
    for legend in ("━ errors", "━ p99"):
        assert legend in pane
    assert re.search(r"\b\d\d:\d\d\b", pane), "clock times under the charts"
    assert "q Quit" in pane.splitlines()[23]
    _tmux("send-keys", "-t", session, "q")
