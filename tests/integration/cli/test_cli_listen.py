"""`opsview web` and `opsview exporter` on a port they cannot have: one line, exit 2, no traceback.

Real processes against a real socket that another program (this test) holds open and listening.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsview.store import SQLiteStore

pytestmark = pytest.mark.integration


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    return path


def _opsview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "opsview", *args], capture_output=True, text=True, timeout=120,
                          check=False)


def _one_line_exit_2(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()], result.stderr
    assert result.stderr.startswith(f"opsview: {text}"), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", [("web",), ("web", "--dev"), ("exporter",)], ids=" ".join)
def test_a_busy_port_is_one_line_and_exit_2(command: tuple[str, ...], busy_port: int, store: Path) -> None:
    result = _opsview(*command, "--port", str(busy_port), "--store", str(store))
    _one_line_exit_2(result, f"port {busy_port} is in use (on 127.0.0.1): stop what holds it, or pick another "
                             "with --port")


@pytest.mark.parametrize("command", [("web", "--insecure"), ("exporter", "--insecure")], ids=" ".join)
def test_an_address_of_another_machine_is_one_line_and_exit_2(command: tuple[str, ...], store: Path) -> None:
    # 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never an address of this machine
    result = _opsview(*command, "--host", "192.0.2.10", "--port", "8050", "--store", str(store))
    _one_line_exit_2(result, "cannot listen on 192.0.2.10: not an address of this machine")


def test_a_host_that_does_not_resolve_is_one_line_and_exit_2(store: Path) -> None:
    # RFC 2606: .invalid never resolves
    result = _opsview("exporter", "--insecure", "--host", "no-such-host.invalid", "--store", str(store))
    _one_line_exit_2(result, 'cannot listen on "no-such-host.invalid": no such host')


@pytest.mark.parametrize("command", ["web", "exporter"])
def test_a_port_taken_after_the_probe_is_the_same_line(command: str, busy_port: int, store: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Another program may take the port between the probe and the server's own bind: same line, same exit."""
    from click.testing import CliRunner

    from opsview.cli import main

    monkeypatch.setattr(f"opsview.cli.{command}_cmd.probe", lambda host, port: None)
    result = CliRunner().invoke(main, [command, "--port", str(busy_port), "--store", str(store)])
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr == (f"opsview: port {busy_port} is in use (on 127.0.0.1): stop what holds it, or pick "
                             "another with --port\n")
