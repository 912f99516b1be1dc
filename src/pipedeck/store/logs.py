"""Action logs on disk: the append-only writer, its timing sidecar, and tailing.

A log is the action's output byte for byte. Beside it, `<log>.times` holds one fixed-size
record per chunk written — (byte offset, Unix time) — so a viewer can show when each line
arrived without the log itself carrying timestamps.
"""

from __future__ import annotations

import os
import struct
import time
from bisect import bisect_right
from pathlib import Path

TIMES_SUFFIX = ".times"
TIME_RECORD = struct.Struct("<Qd")


def times_path(log: Path) -> Path:
    return log.with_name(log.name + TIMES_SUFFIX)


class LogWriter:
    """Appends to a log and records when each chunk arrived; every write reaches the OS at
    once, so a crash loses nothing already written."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._times = os.open(times_path(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.offset = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        os.write(self._times, TIME_RECORD.pack(self.offset, time.time()))
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.offset += len(data)

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._times)


class LogTimes:
    """When the byte at an offset was written, from the sidecar (None where there is none)."""

    def __init__(self, log: Path) -> None:
        self._offsets: list[int] = []
        self._times: list[float] = []
        self._path = times_path(log)
        self._read = 0

    def refresh(self) -> None:
        try:
            with self._path.open("rb") as f:
                f.seek(self._read)
                data = f.read()
        except FileNotFoundError:
            return
        usable = len(data) - len(data) % TIME_RECORD.size
        for offset, stamp in TIME_RECORD.iter_unpack(data[:usable]):
            self._offsets.append(offset)
            self._times.append(stamp)
        self._read += usable

    def at(self, offset: int) -> float | None:
        i = bisect_right(self._offsets, offset) - 1
        return self._times[i] if i >= 0 else None


class LogTail:
    """Hands out the complete lines appended to a file since the last call."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""

    def read_new(self, final: bool = False) -> list[str]:
        """New complete lines; with `final`, also a last line without its newline."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n")
        if final:
            self._partial = b""
            body = data
        else:
            self._partial = data[cut + 1 :]
            body = data[: cut + 1]
        return body.decode("utf-8", errors="replace").splitlines()
