"""A store no command can use: a file that is not a database, a damaged page, a schema from a newer
opsview or one that is not a number, a read-only file. Every command says so in one line and exits 2
(`opsview check`: UNKNOWN, 3), readers included; `/healthz` answers 503."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import apsw
import pytest
from click.testing import CliRunner, Result

from opsview.cli import main
from opsview.collectors.demo import build_fleet, window_samples
from opsview.config import Config
from opsview.schema import CollectorHealth, floor_time, utcnow
from opsview.store import SQLiteStore, open_store
from opsview.store.migrations import LATEST_VERSION
from opsview.store.probe import StoreProbe
from opsview.web.app import create_app, shutdown

pytestmark = pytest.mark.integration

REPORT = ("/aws/lambda/api\t2024-05-01T10:00:00.000Z\tREPORT RequestId: r-1\tDuration: 12.00 ms\t"
          "Billed Duration: 13 ms\tMemory Size: 512 MB\tMax Memory Used: 60 MB\n")


@pytest.fixture(scope="module")
def good_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A healthy store with an hour and a half of the demo fleet, closed (its WAL checkpointed away)."""
    path = tmp_path_factory.mktemp("good") / "good.db"
    store = SQLiteStore(path)
    now = utcnow()
    store.upsert_functions(fn.info for fn in build_fleet(42, 1))
    store.write_samples(window_samples(42, 1, floor_time(now - timedelta(minutes=90), 60), now))
    store.record_health([CollectorHealth("demo", "demo", now, True, functions=60)])
    store.close()
    return path


def not_a_database(path: Path) -> None:
    path.write_bytes(b"opsview? no: a text file that someone pointed --store at\n" * 200)


def damaged_samples(path: Path) -> None:
    """Garbage over the root page of `samples`: the header, the schema and the health table still read."""
    conn = apsw.Connection(str(path))
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'samples'").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with path.open("r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes([0xA5]) * page_size)


def set_schema_version(value: Any) -> Callable[[Path], None]:
    def change(path: Path) -> None:
        conn = apsw.Connection(str(path))
        conn.execute("UPDATE schema_version SET version = ?", (value,))
        conn.close()

    return change


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    path = tmp_path / "opsview.toml"
    path.write_text('[[sources.demo]]\nname = "demo"\n\n[[alerts.rules]]\nname = "errors"\nmeasure = "error_rate"\n'
                    'threshold = 0.5\n', encoding="utf-8")
    return path


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "exported.log"
    path.write_text(REPORT, encoding="utf-8")
    return path


def run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=True)


WRITERS: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "collect": lambda store, cfg, log: ["collect", "--store", str(store), "--config", str(cfg)],
    "check": lambda store, cfg, log: ["check", "--store", str(store), "--config", str(cfg)],
    "demo": lambda store, cfg, log: ["demo", "--collect-only", "--hours", "0.1", "--store", str(store)],
    "ingest": lambda store, cfg, log: ["ingest", "--provider", "aws", "--store", str(store), str(log)],
    "silence": lambda store, cfg, log: ["silence", "add", "--rule", "errors", "--for", "1h", "--store", str(store),
                                        "--config", str(cfg)],
}
READERS: dict[str, Callable[[Path, Path, Path], list[str]]] = {
    "status": lambda store, cfg, log: ["status", "--store", str(store)],
    "tui": lambda store, cfg, log: ["tui", "--read-only", "--store", str(store)],
    "web": lambda store, cfg, log: ["web", "--store", str(store)],
    "silence-list": lambda store, cfg, log: ["silence", "list", "--store", str(store)],
}
# (how the file is broken, what the one line says, the commands that fail)
CASES = {
    "not-a-database": (not_a_database, "file is not a database", {**WRITERS, **READERS}),
    "newer-schema": (set_schema_version(LATEST_VERSION + 1), f"schema v{LATEST_VERSION + 1} is newer than this opsview",
                     {**WRITERS, **READERS}),
    "text-schema-version": (set_schema_version("two"), "schema_version holds 'two', not a version number",
                            {**WRITERS, **READERS}),
    # Only commands that touch the damaged table meet the damage (`/healthz` checks every page).
    "damaged-page": (damaged_samples, "database disk image is malformed",
                     {n: c for n, c in {**WRITERS, **READERS}.items() if n in ("collect", "check", "demo", "ingest",
                                                                                  "status")}),
}


def assert_one_line(result: Result, command: str, says: str) -> None:
    expected = 3 if command == "check" else 2
    lines = [line for line in (result.stdout + result.stderr).splitlines()
             if line.strip() and line != "Generating demo history"]  # demo's progress label
    assert result.exit_code == expected, result.output
    assert len(lines) == 1, lines
    assert says in lines[0]
    assert lines[0].startswith("UNKNOWN: " if command == "check" else "opsview: ")
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)


@pytest.mark.parametrize(("case", "command"), [(case, command) for case, (_, _, commands) in CASES.items()
                                               for command in commands])
def test_every_command_says_in_one_line_that_the_store_is_unusable(
    case: str, command: str, good_store: Path, tmp_path: Path, cfg: Path, log_file: Path
) -> None:
    """Before: `status`, `tui`, `web` read a newer schema; a text schema_version, a damaged page met by
    `status` or `check` ended in a traceback; `collect` and `demo --collect-only` reported every source
    failed (exit 1) or "0 samples written" (exit 0)."""
    breaks, says, commands = CASES[case]
    store = tmp_path / "store.db"
    shutil.copy(good_store, store)
    breaks(store)
    assert_one_line(run(commands[command](store, cfg, log_file)), command, says)


@pytest.fixture
def read_only_store(good_store: Path, tmp_path: Path) -> Iterator[Path]:
    """A store file no one may write, root included: immutable (chattr +i) as root, mode 0444 otherwise."""
    path = tmp_path / "read-only.db"
    shutil.copy(good_store, path)
    if subprocess.run(["id", "-u"], capture_output=True, text=True, check=True).stdout.strip() != "0":
        path.chmod(0o444)
        yield path
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)], check=False).returncode:
        pytest.skip("running as root without chattr +i: no way to make a file read-only here")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_writers_refuse_a_read_only_store_in_one_line(
    command: str, read_only_store: Path, cfg: Path, log_file: Path
) -> None:
    """Before: `demo --collect-only` said "0 samples written" and exited 0; `collect` blamed every source
    (exit 1); `silence add` ended in a traceback."""
    assert_one_line(run(WRITERS[command](read_only_store, cfg, log_file)), command, "readonly database")


def test_readers_still_read_a_read_only_store(read_only_store: Path) -> None:
    result = run(["status", "--store", str(read_only_store), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"function"' in result.stdout


# --- /healthz ---------------------------------------------------------------------------------------------


@pytest.fixture
def served(good_store: Path, tmp_path: Path) -> Iterator[tuple[Path, Any]]:
    """The web app on a copy of the good store (opened read-only, as `opsview web` does), and its client."""
    path = tmp_path / "served.db"
    shutil.copy(good_store, path)
    store = open_store(path, read_only=True)
    app = create_app(store, Config())
    yield path, app.server.test_client()
    shutdown(app)
    store.close()


def overwrite_header(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(b"\0" * 100)


def replace_file(path: Path) -> None:
    path.unlink()
    path.write_text("not a store any more\n", encoding="utf-8")


def migrate_to_newer(path: Path) -> None:
    set_schema_version(LATEST_VERSION + 1)(path)


@pytest.mark.parametrize("breaks", [overwrite_header, replace_file, migrate_to_newer])
def test_healthz_answers_503_when_the_store_breaks_under_the_running_app(
    breaks: Callable[[Path], None], served: tuple[Path, Any]
) -> None:
    """Before: 200 for all three (the app's own connection answered from pages it had read before)."""
    path, client = served
    assert client.get("/healthz").status_code == 200
    breaks(path)
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json["status"] == "error"
    assert str(path) in answer.json["store"]


def test_healthz_answers_503_for_a_store_damaged_before_the_app_started(good_store: Path, tmp_path: Path) -> None:
    """Before: 200 (the pages the health read touches were intact). The first answer waits for a check of
    every page."""
    path = tmp_path / "damaged.db"
    shutil.copy(good_store, path)
    damaged_samples(path)
    store = open_store(path, read_only=True)
    app = create_app(store, Config())
    try:
        answer = app.server.test_client().get("/healthz")
        assert answer.status_code == 503
        assert "store damaged" in answer.json["store"]
    finally:
        shutdown(app)
        store.close()


def test_a_page_damaged_later_is_found_by_the_next_full_check(good_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "later.db"
    shutil.copy(good_store, path)
    store = open_store(path, read_only=True)
    probe = StoreProbe(store, thorough_every=timedelta(0))
    try:
        assert probe.problem() is None
        damaged_samples(path)
        # The full check runs beside the requests; each request starts one when the last is older than
        # `thorough_every` and answers with the latest finished. Ask until it has finished once more.
        for _ in range(200):
            if (problem := probe.problem()) is not None:
                break
            time.sleep(0.05)
        assert problem is not None
        assert "store damaged" in problem
    finally:
        store.close()
