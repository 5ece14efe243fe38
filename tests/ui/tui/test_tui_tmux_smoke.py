"""The real `opsview demo` in a real terminal (tmux): it draws, answers keys, and quits cleanly."""

from __future__ import annotations

import os
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


@pytest.fixture
def session(tmp_path: Path) -> Iterator[str]:
    name = f"opsview-{uuid.uuid4().hex[:8]}"
    env = {
        "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "xterm-256color", "PATH": os.environ.get("PATH", ""),
    }
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    opsview = Path(sys.executable).with_name("opsview")
    done = tmp_path / "exit-code"
    command = f"env {exports} {opsview} demo --hours 0.5; echo $? > {done}; sleep 60"
    _tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", command)
    try:
        yield name
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


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
    pane = _wait_for(session, lambda p: "runtime" in p and "resource" in p)
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
