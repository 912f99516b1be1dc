"""The store on a real SQLite file, shared by several processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipedeck.engine.liveness import EngineLease, engine_alive
from pipedeck.engine.recovery import recover
from pipedeck.store import PlannedAction, PlannedStage, Status, Store, StoreError

PLAN = [PlannedStage("Build", [PlannedAction("a", "build", 1), PlannedAction("b", "test", 2)])]


def new_run(store: Store, pipeline: str = "ci", engine_id: str | None = None):  # type: ignore[no-untyped-def]
    return store.create_run(
        pipeline,
        PLAN,
        commit="c" * 40,
        commit_subject="s",
        branch="main",
        variables={},
        engine_id=engine_id,
    )


def test_wal_mode_and_layout(tmp_path: Path) -> None:
    store = Store(tmp_path / "state")
    mode = store.connection().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    run = new_run(store)
    assert store.layout(run).log("Build", "a") == tmp_path / "state/runs/ci/1/logs/Build/a.log"
    store.close()


def test_a_second_store_in_a_process_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """POSIX drops every lock a process holds on a file when it closes any descriptor of it.
    A second Store opened beside a first must not do that, or another process that closes
    its connection takes the database for unused and deletes the write-ahead log the first
    one still writes to: its later runs are lost."""
    state = tmp_path / "state"
    engine = Store(state)
    new_run(engine)
    Store(state).close()  # the console opens more than one (its survey thread's, say)
    wal = state / "pipedeck.db-wal"
    listing = (
        "import sys; from pathlib import Path; from pipedeck.store import Store;"
        " print(len(Store(Path(sys.argv[1])).runs()))"
    )
    once = subprocess.run([sys.executable, "-c", listing, str(state)], capture_output=True)
    assert once.returncode == 0, once.stderr
    assert wal.exists()  # the other process knew it was not the last one
    new_run(engine)
    again = subprocess.run([sys.executable, "-c", listing, str(state)], capture_output=True)
    assert again.stdout.decode().split() == ["2"]
    engine.close()


def test_numbers_are_unique_when_processes_race(tmp_path: Path) -> None:
    state = tmp_path / "state"
    Store(state).close()
    script = (
        "import sys\n"
        "from pipedeck.store import Store, PlannedStage, PlannedAction\n"
        "s = Store(__import__('pathlib').Path(sys.argv[1]))\n"
        "for _ in range(25):\n"
        "    s.create_run('ci', [PlannedStage('S', [PlannedAction('a', 'build', 1)])],"
        " commit='c', commit_subject='', branch=None, variables={})\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", script, str(state)]) for _ in range(4)]
    assert [p.wait(60) for p in procs] == [0, 0, 0, 0]
    store = Store(state)
    numbers = sorted(r.number for r in store.runs("ci"))
    assert numbers == list(range(1, 101))
    store.close()


def test_find_run_forms_and_errors(tmp_path: Path) -> None:
    store = Store(tmp_path)
    new_run(store)
    new_run(store)
    assert store.find_run("ci").number == 2
    assert store.find_run("ci/1").number == 1
    with pytest.raises(StoreError, match="no run 'ci/9'"):
        store.find_run("ci/9")
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.find_run("nope")
    for bad in ("ci/x", "ci/", "ci/²", "ci/-1", "ci/1.0"):
        with pytest.raises(StoreError, match="not a run"):
            store.find_run(bad)
    with pytest.raises(StoreError, match="no run 'ci/99999999999999999999999'"):
        store.find_run("ci/99999999999999999999999")  # more than SQLite's integers hold
    store.close()


def test_recovery_marks_only_runs_whose_engine_is_gone(tmp_path: Path) -> None:
    store = Store(tmp_path)
    lease = EngineLease(tmp_path)
    alive = new_run(store, "alive", engine_id=lease.engine_id)
    dead = new_run(store, "dead", engine_id="12345-deadbeef")
    for run in (alive, dead):
        store.set_run_status(run.id, Status.RUNNING)
    assert engine_alive(tmp_path, lease.engine_id)
    assert [r.key for r in recover(store)] == ["dead/1"]
    assert store.run_by_id(alive.id).status is Status.RUNNING
    detail = store.detail(store.run_by_id(dead.id))
    assert detail.run.status is Status.INTERRUPTED
    assert detail.run.error == "the engine running it stopped"
    assert {a.action.status for _, a in detail.actions()} == {Status.INTERRUPTED}
    lease.release()
    assert not engine_alive(tmp_path, lease.engine_id)
    assert [r.key for r in recover(store)] == ["alive/1"]
    store.close()
