"""Is the engine that owns a run still alive? A held flock answers, and the OS releases it.

Each engine holds an exclusive flock on `engines/<engine_id>.lock` for its whole life. Another
process that can take that lock knows the owner is gone — however it died, `kill -9` included
— without trusting pids, which the OS reuses.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from pathlib import Path


def _lock_path(state_dir: Path, engine_id: str) -> Path:
    return state_dir / "engines" / f"{engine_id}.lock"


class EngineLease:
    def __init__(self, state_dir: Path) -> None:
        self.engine_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._path = _lock_path(state_dir, self.engine_id)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        os.close(self._fd)
        self._fd = None


def engine_alive(state_dir: Path, engine_id: str | None) -> bool:
    if engine_id is None:
        return False
    path = _lock_path(state_dir, engine_id)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    # We took it, so nobody holds it: a dead engine's leftover file.
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return False


class RepoLock:
    """`<state>/lock`: held by the one engine that runs pipelines for the repository.

    The holder writes who it is (pid, role) into the file so clients can say whom they hand
    their requests to. The OS drops the flock when the holder dies, however it dies.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path, role: str) -> RepoLock | None:
        """Take the lock if nobody holds it; None if another engine does."""
        path = state_dir / "lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        # `lock_holder` takes the lock shared for an instant to see if anyone holds it; a
        # few tries keep a client's look from turning away a would-be engine. An engine
        # that holds it has written who it is: then there is nothing to wait for.
        for attempt in range(5):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt == 4 or _holder_alive(os.pread(fd, 64, 0)):
                    os.close(fd)
                    return None
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        os.close(self._fd)
        self._fd = None


def _holder_alive(written: bytes) -> bool:
    """`written` (the lock file) names a process that is still running."""
    pid = written.split(b" ", 1)[0]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lock_holder(state_dir: Path) -> str | None:
    """`pid role` of the engine holding the repository's lock, or None if nobody does."""
    path = state_dir / "lock"
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return path.read_text().strip() or "unknown"
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
