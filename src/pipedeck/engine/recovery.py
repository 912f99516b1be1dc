"""After a crash: runs whose engine is gone become `interrupted`, and their processes end.

Processes are found by the run token in their environment (`/proc/<pid>/environ`), not only
by process group, so a daemon that called `setsid` is found too.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from pipedeck.engine.context import RUN_TOKEN_VAR
from pipedeck.engine.liveness import engine_alive
from pipedeck.store import RunRecord, Store


def run_token(store: Store, run: RunRecord) -> str:
    """Unique across repositories: the state dir plus the run's row id."""
    return f"{store.state_dir.resolve()}#{run.id}"


def processes_with_token(token: str) -> list[int]:
    needle = f"{RUN_TOKEN_VAR}={token}".encode() + b"\0"
    found = []
    with os.scandir("/proc") as entries:
        pids = [int(e.name) for e in entries if e.name.isdigit()]
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ + b"\0":
            found.append(pid)
    return found


def kill_run_processes(token: str) -> int:
    pids = processes_with_token(token) if Path("/proc").is_dir() else []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(pids)


def kill_action_groups(store: Store, run: RunRecord) -> None:
    """Each unfinished action's process group: catches children that cleared their env."""
    for _, action in store.detail(run).actions():
        if action.action.status.active and action.action.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(action.action.pid, signal.SIGKILL)


def recover(store: Store) -> list[RunRecord]:
    """Mark every active run of a dead engine interrupted; return the runs marked."""
    recovered = []
    for run in store.active_runs():
        if engine_alive(store.state_dir, run.engine_id):
            continue
        killed = kill_run_processes(run_token(store, run))
        kill_action_groups(store, run)
        reason = "the engine running it stopped"
        if killed:
            reason += f"; ended {killed} leftover process{'es' if killed > 1 else ''}"
        store.mark_interrupted(run.id, reason)
        recovered.append(store.run_by_id(run.id))
    return recovered
