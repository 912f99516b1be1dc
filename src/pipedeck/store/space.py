"""Room to record the end when the disk fills up.

A full disk fails the action that was writing (its log cannot grow), and then the engine must
still write that action's end, the stage's and the run's into the database, or the run stays
`running` for ever. So the state directory keeps a few megabytes allocated in a file of its
own; the first write that finds the disk full frees them, and what follows has the room.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from pathlib import Path

RESERVE_NAME = "space.reserve"
RESERVE_BYTES = 4 << 20


def reserve(state_dir: Path) -> None:
    """Make sure the reserve is there (quietly not, when there is no room for it)."""
    path = state_dir / RESERVE_NAME
    with contextlib.suppress(OSError):
        if path.exists() and path.stat().st_size >= RESERVE_BYTES:
            return
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            # Blocks really allocated, not a sparse file: writing zeros would do the same.
            os.posix_fallocate(fd, 0, RESERVE_BYTES)
        except OSError:
            os.close(fd)
            path.unlink(missing_ok=True)
            return
        os.close(fd)


def release(state_dir: Path) -> None:
    """The disk is full: give the reserve back, so the end can be recorded."""
    (state_dir / RESERVE_NAME).unlink(missing_ok=True)


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc)


DISK_FULL = "no space left on device"
