"""Timing a full-screen program in a real terminal: from spawn to a frame showing given text.

The program runs on a pseudo-terminal of a fixed size, as it would in a person's terminal
emulator; its output is read as it comes and stripped of escape sequences, and the time is
taken when every wanted string has been drawn. Then it is asked to quit (ctrl+c) and, if it
does not, killed.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Sequence
from pathlib import Path

ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-B]|.)")


def time_to_text(
    command: Sequence[str],
    stages: Sequence[Sequence[str]],
    *,
    cwd: Path,
    env: dict[str, str],
    size: tuple[int, int] = (120, 40),
    timeout: float = 60.0,
) -> list[float]:
    """Seconds from spawning `command` until each of `stages` (strings that must all have
    been drawn) is reached, in order."""
    master, slave = pty.openpty()
    columns, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    started = time.perf_counter()
    child = subprocess.Popen(
        list(command),
        cwd=cwd,
        env={**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    reached: list[float] = []
    try:
        deadline = started + timeout
        for wanted in stages:
            needles = [w.encode() for w in wanted]
            while not all(n in seen for n in needles):
                left = deadline - time.perf_counter()
                if left <= 0 or child.poll() is not None:
                    shown = ESCAPES.sub(b"", seen)[-400:]
                    raise SystemExit(f"{command[0]}: never drew {wanted!r}; last: {shown!r}")
                ready, _, _ = select.select([master], [], [], left)
                if ready:
                    seen += ESCAPES.sub(b"", _read(master))
            reached.append(time.perf_counter() - started)
    finally:
        _stop(child, master)
    return reached


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the child closed the terminal
        return b""


def _stop(child: subprocess.Popen[bytes], master: int) -> None:
    try:
        os.write(master, b"\x03")
        end = time.perf_counter() + 10
        while child.poll() is None and time.perf_counter() < end:
            # Keep reading: a child blocked on a full terminal never gets to quit.
            if select.select([master], [], [], 0.05)[0]:
                _read(master)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        os.close(master)
