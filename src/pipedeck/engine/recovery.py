"""After a crash: runs whose engine is gone become `interrupted`, and their processes end.

Runs that were only waiting are not touched: an approval outlives the engine that asked.

A dead run's processes are found by the run token in their environment, so a daemon that
called `setsid` is found too; the process groups of those processes are ended with them, which
catches children that cleared their environment. Recorded pids alone are never trusted: after
a reboot they may name anyone's process.
"""

from __future__ import annotations

from pipedeck.engine.liveness import engine_alive
from pipedeck.engine.markers import RUN_TOKEN_VAR
from pipedeck.engine.sweep import end_marked
from pipedeck.store import RunRecord, Status, Store


def run_token(store: Store, run: RunRecord) -> str:
    """Unique across repositories: the state dir plus the run's row id."""
    return f"{store.state_dir.resolve()}#{run.id}"


def kill_run_processes(token: str) -> int:
    """SIGKILL every process carrying `token`, and their process groups; return how many."""
    return end_marked(f"{RUN_TOKEN_VAR}={token}")


def recover(store: Store) -> list[RunRecord]:
    """Mark every active run of a dead engine interrupted; return the runs marked.

    A run that was only waiting (for an approval, or at a stage boundary) lost nothing when
    its engine went: it stays waiting, for the next engine to take up (`Engine.take_up`).
    """
    recovered = []
    for run in store.active_runs():
        if engine_alive(store.state_dir, run.engine_id) or store.idle(run.id):
            continue
        killed = kill_run_processes(run_token(store, run))
        reason = "the engine running it stopped"
        if killed:
            reason += f"; ended {killed} leftover process{'es' if killed > 1 else ''}"
        store.close_run(run.id, Status.INTERRUPTED, reason)
        recovered.append(store.run_by_id(run.id))
    return recovered
