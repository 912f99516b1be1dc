"""Bad situations get one clear line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import PIPEDECK, RepoMaker, run_cli

ONE_STEP = """
name: ci
stages:
  - name: S
    actions: [{name: a, kind: build, run: 'seq 1 100000'}]
"""


def test_a_repository_without_commits(repo: RepoMaker) -> None:
    repo.pipeline(ONE_STEP)
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 1
    assert "has no commits yet" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_corrupt_history_file(repo: RepoMaker) -> None:
    state = repo.root / "state"
    state.mkdir()
    (state / "pipedeck.db").write_bytes(b"this is not a database" * 100)
    result = run_cli("--state-dir", str(state), "runs", cwd=repo.root)
    assert result.returncode == 1
    assert result.stderr == (
        f"pipedeck: {state / 'pipedeck.db'}: the run history is damaged (file is not a"
        " database). It is left as it is: move it aside to start a new history (the runs'"
        " logs stay in runs/), or restore it from a backup\n"
    )
    # Reported, never reset.
    assert (state / "pipedeck.db").read_bytes() == b"this is not a database" * 100


def test_an_emptied_history_beside_earlier_runs_is_not_a_new_start(repo: RepoMaker) -> None:
    repo.pipeline(ONE_STEP)
    repo.commit()
    run_cli("run", "ci", cwd=repo.root, check=True)
    state = repo.root / ".git" / "pipedeck"
    log = state / "runs/ci/1/logs/S/a.log"
    before = log.read_bytes()
    for emptied in (True, False):
        db = state / "pipedeck.db"
        for extra in ("-wal", "-shm"):
            db.with_name(db.name + extra).unlink(missing_ok=True)
        if emptied:
            db.write_bytes(b"")
        else:
            db.unlink()
        for args in (("run", "ci"), ("runs",)):
            result = run_cli(*args, cwd=repo.root)
            assert result.returncode == 1
            what = "empty" if emptied else "missing"
            assert result.stderr == (
                f"pipedeck: {db} is {what}, but {state / 'runs'} holds earlier runs: the run"
                " history was lost or moved. Restore pipedeck.db from a backup, or move"
                f" {state / 'runs'} aside to start a new history\n"
            )
        # Run 1's log was not appended to by a new "run 1".
        assert log.read_bytes() == before


def test_the_state_directory_is_private_whatever_the_umask(repo: RepoMaker) -> None:
    repo.pipeline(ONE_STEP)
    repo.commit()
    done = subprocess.run(
        [*PIPEDECK, "run", "ci"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0,
    )
    assert done.returncode == 0, done.stderr
    state = repo.root / ".git" / "pipedeck"
    assert state.stat().st_mode & 0o777 == 0o700
    own = [
        p
        for p in state.rglob("*")
        if p.is_file() and not {"artifacts", "work"} & set(p.relative_to(state).parts)
    ]
    names = {p.name for p in own}
    assert {"pipedeck.db", "a.log"} <= names, names
    # All 0600 but the `pipedeck` an action runs, which only its owner may run.
    assert {str(p.relative_to(state)): p.stat().st_mode & 0o777 for p in own} == {
        str(p.relative_to(state)): 0o700 if p.name == "pipedeck" else 0o600 for p in own
    }


def test_a_closed_pipe_does_not_break_the_run(repo: RepoMaker) -> None:
    repo.pipeline(ONE_STEP)
    repo.commit()
    shell = f"{' '.join(PIPEDECK)} run ci | head -n 3"
    result = subprocess.run(
        ["bash", "-c", shell], cwd=repo.root, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.splitlines() == ["S/a | 1", "S/a | 2", "S/a | 3"]
    assert "Traceback" not in result.stderr
    show = run_cli("show", "ci", "--json", cwd=repo.root, check=True)
    assert '"status": "succeeded"' in show.stdout
    log = (repo.root / ".git/pipedeck/runs/ci/1/logs/S/a.log").read_text()
    assert log.splitlines()[-1] == "100000"


def test_not_a_git_repository(tmp_path: object) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pipedeck", "runs"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "is not inside a git repository" in result.stderr
    assert "pipedeck demo" in result.stderr
