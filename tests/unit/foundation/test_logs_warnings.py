"""Python warnings never reach the terminal at ordinary levels: they go to the log file.

A library warning printed raw on stderr breaks `collect`'s one-line-per-problem output (CI saw urllib3's SOCKS
DependencyWarning there) and draws over the TUI. Each case runs in its own interpreter: logging and the warnings
module are process-wide.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# The race CI hit, replayed in order: google-auth's `catch_warnings` on one thread (it is not thread-safe)
# restores the filter list as it was on entry, dropping the filter requests installed meanwhile on another
# thread, so the warning that filter was there to silence is emitted after all.
RACE = """
import sys, threading, warnings
from pathlib import Path
from opsview.logs import setup_logging
setup_logging(sys.argv[1], log_file=Path(sys.argv[2]))

class DependencyWarning(Warning):
    pass

entered, installed = threading.Event(), threading.Event()

def credential_lookup():
    with warnings.catch_warnings():
        entered.set()
        installed.wait()

thread = threading.Thread(target=credential_lookup)
thread.start()
entered.wait()
warnings.simplefilter("ignore", DependencyWarning)
installed.set()
thread.join()
warnings.warn("SOCKS support in urllib3 requires PySocks", DependencyWarning)
print("done")
"""


def _run(tmp_path: Path, level: str) -> tuple[subprocess.CompletedProcess[str], str]:
    log_file = tmp_path / "opsview.log"
    result = subprocess.run([sys.executable, "-c", RACE, level, str(log_file)], capture_output=True, text=True,
                            timeout=60, check=True)
    return result, log_file.read_text(encoding="utf-8")


def test_a_library_warning_goes_to_the_log_file_and_not_the_terminal(tmp_path: Path) -> None:
    result, logged = _run(tmp_path, "WARNING")
    assert result.stdout == "done\n"
    assert result.stderr == ""
    assert "DependencyWarning: SOCKS support in urllib3 requires PySocks" in logged


def test_at_debug_the_terminal_shows_library_warnings_too(tmp_path: Path) -> None:
    result, logged = _run(tmp_path, "DEBUG")
    assert "DependencyWarning: SOCKS support in urllib3 requires PySocks" in result.stderr
    assert "DependencyWarning" in logged
