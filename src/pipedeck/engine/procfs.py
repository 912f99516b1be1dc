"""What Linux's /proc says about processes: group, state, environment.

Used to tell when an action's process group is really gone (zombies do not count) and, after a
crash, to find a dead run's processes by the token in their environment. Where /proc does not
exist these answer conservatively and callers fall back to process-group signals alone.
"""

from __future__ import annotations

import os
from pathlib import Path

AVAILABLE = Path("/proc/self/stat").exists()


def pids() -> list[int]:
    with os.scandir("/proc") as entries:
        return [int(e.name) for e in entries if e.name.isdigit()]


def group_and_state(pid: int) -> tuple[int, bytes] | None:
    """(process group, state letter) of `pid`, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # Fields after the command name, which may itself hold spaces and parentheses.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[2]), fields[0]


def ancestry(pid: int) -> tuple[int, int, int] | None:
    """(parent, process group, session) of `pid`, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]), int(fields[2]), int(fields[3])


def environment(pid: int) -> bytes:
    """The NUL-separated environment `pid` started with (empty if it cannot be read)."""
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


def command_line(pid: int) -> list[bytes]:
    """The arguments `pid` was started with (empty if it cannot be read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def running_in_group(pgid: int) -> list[int]:
    """Members of the group that are not zombies."""
    found = []
    for pid in pids():
        info = group_and_state(pid)
        if info is not None and info[0] == pgid and info[1] != b"Z":
            found.append(pid)
    return found


def with_environment_entry(entry: str) -> list[int]:
    """Processes whose environment holds exactly `NAME=value` (never this process)."""
    needle = b"\0" + entry.encode() + b"\0"
    me = os.getpid()
    found = []
    for pid in pids():
        if pid == me:
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + environ:
            found.append(pid)
    return found
