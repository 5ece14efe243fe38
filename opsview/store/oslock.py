"""An exclusive lock on a file that the operating system drops when its holder dies.

The SQLite store's named locks (`opsview check`'s) are these, on a file beside the store. A lock row
in the database with an expiry outlived a killed check by its whole time to live (15 minutes without
alerting); a heartbeat would need a thread and clocks that agree, and a pid check cannot tell a reused
pid from the holder. The kernel releases a file lock the moment the holder's process ends, however
it ends (SIGKILL, OOM kill, power loss of a container), so the next check proceeds at once.

`flock` (not `fcntl`/`lockf` record locks): it belongs to the open file, so two locks taken in one
process exclude each other as two processes do, and closing some other descriptor of the file does not
drop it. It holds wherever SQLite's own locking does (a local filesystem; SQLite is not meant for network
filesystems). The descriptor is not inherited by programs the holder starts (Python opens files
non-inheritable). On Windows, `msvcrt.locking` gives the same: the system drops it when the process ends.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def try_lock(path: Path) -> int | None:
    """Lock `path` (created if missing) without waiting: the open descriptor that holds the lock, or None
    when another holder has it. OSError when the file cannot be created or opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        locked = _lock(fd)
    except BaseException:
        os.close(fd)
        raise
    if not locked:
        os.close(fd)
        return None
    return fd


def unlock(fd: int) -> None:
    """Release a lock `try_lock` took and close its descriptor."""
    try:
        _unlock(fd)
    finally:
        os.close(fd)


def is_held(path: Path) -> bool:
    """Whether some holder has the lock on `path` right now (probes by taking it for an instant)."""
    if not path.exists():
        return False
    fd = try_lock(path)
    if fd is None:
        return True
    unlock(fd)
    return False


if sys.platform == "win32":
    import msvcrt

    def _lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
