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
    assert result.stderr.startswith("pipedeck: cannot open run history in")
    assert "Traceback" not in result.stderr


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
