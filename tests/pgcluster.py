"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temp dir on a free local port.

Debian's `postgresql` package provides the binaries (`.ci/run` installs it). As root, initdb
refuses to run, so the cluster runs as the `postgres` system user the package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


def find_pg_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    root: Path
    port: int
    bin: Path
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql://opsview@127.0.0.1:{self.port}/opsview"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin / args[0]), *args[1:]]
        return ["runuser", "-u", self.run_as, "--", *cmd] if self.run_as else cmd

    def start(self) -> None:
        data = self.root / "data"
        subprocess.run(self._cmd("initdb", "-D", str(data), "-U", "opsview", "--auth=trust", "-E", "UTF8",
                                 "--no-sync"), check=True, capture_output=True)
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        subprocess.run(self._cmd("pg_ctl", "-D", str(data), "-o", options, "-l", str(self.root / "log"), "-w",
                                 "start"), check=True, capture_output=True)
        subprocess.run(self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "opsview", "opsview"),
                       check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(self._cmd("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop"),
                       capture_output=True, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def new_database(self, name: str) -> str:
        subprocess.run(self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "opsview", name),
                       check=True, capture_output=True)
        return f"postgresql://opsview@127.0.0.1:{self.port}/{name}"


def start_cluster() -> PgCluster | None:
    """A running cluster, or None when no PostgreSQL binaries are installed."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        return None
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None
        run_as = "postgres"
    root = Path(tempfile.mkdtemp(prefix="opsview-pg-"))
    if run_as:
        shutil.chown(root, user=run_as)
    cluster = PgCluster(root, _free_port(), pg_bin, run_as)
    for attempt in range(3):
        try:
            cluster.start()
            return cluster
        except subprocess.CalledProcessError:
            if attempt == 2:
                raise
            cluster.stop()
            root.mkdir()
            if run_as:
                shutil.chown(root, user=run_as)
            cluster.port = _free_port()
            time.sleep(0.5)
    return None
