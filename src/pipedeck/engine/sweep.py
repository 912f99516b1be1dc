"""Ending what is left of a run or an action, found by the marker in its environment.

Standard library only: recovery runs it from every command that opens the history, before
anything else is loaded.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from pipedeck.engine import procfs

REAPER = Path(__file__).with_name("reaper.py")
"""The program every action runs under (see `reaper.py`)."""


def signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def end_marked(entry: str) -> int:
    """Kill every process whose environment holds `entry`, and their groups; say how many.

    A reaper among them is told to end its tree at once rather than killed: killed, it would
    hand its tree to init, out of reach.
    """
    if not procfs.AVAILABLE:
        return 0
    pids = procfs.with_environment_entry(entry)
    reapers = {pid for pid in pids if _is_reaper(pid)}
    groups = {info[0] for pid in pids if (info := procfs.group_and_state(pid)) is not None}
    groups -= {info[0] for pid in reapers if (info := procfs.group_and_state(pid)) is not None}
    for pid in reapers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGUSR1)
    for pgid in groups:
        # Never our own group: a console started from the same shell may share it.
        if pgid != os.getpgrp():
            signal_group(pgid, signal.SIGKILL)
    for pid in set(pids) - reapers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def _is_reaper(pid: int) -> bool:
    return str(REAPER).encode() in procfs.command_line(pid)[:4]
