"""Retention and `pipedeck prune`: old runs lose their files, never what rollback needs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RepoMaker, run_cli

PIPELINE = """
name: ci
RETENTION
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: make
        kind: build
        outputs: [app]
        run: head -c 100000 /dev/zero > "$PIPEDECK_OUTPUT_APP/blob"
DEPLOY"""

DEPLOY = """  - name: Production
    actions: [{name: ship, kind: deploy, inputs: [app], run: 'echo shipped'}]
"""


def pipeline(repo: RepoMaker, retention: str = "", deploy: bool = False) -> None:
    text = PIPELINE.replace("RETENTION", retention).replace("DEPLOY", DEPLOY if deploy else "")
    repo.pipeline(text)
    repo.commit()


def show(repo: RepoMaker, run: str) -> Any:
    return json.loads(run_cli("show", run, "--json", cwd=repo.root, check=True).stdout)


def run_dir(repo: RepoMaker, number: int) -> Any:
    return repo.root / ".git" / "pipedeck" / "runs" / "ci" / str(number)


def test_prune_says_what_it_frees_and_keeps_the_records(repo: RepoMaker) -> None:
    pipeline(repo)
    for _ in range(4):
        run_cli("run", "ci", cwd=repo.root, check=True)
    pipeline(repo, "retention: {runs: 1}")

    dry = json.loads(run_cli("prune", "--dry-run", "--json", cwd=repo.root, check=True).stdout)
    assert [r["run"] for r in dry["runs"]] == ["ci/3", "ci/2", "ci/1"]
    assert all(r["bytes"] >= 100_000 for r in dry["runs"]) and dry["freed"] >= 300_000
    assert all(run_dir(repo, n).is_dir() for n in (1, 2, 3, 4))  # nothing removed

    said = run_cli("prune", cwd=repo.root, check=True).stdout.splitlines()
    assert said[0].startswith("ci/3") and "kB" in said[0]
    assert said[-1].startswith("freed ") and said[-1].endswith("(3 runs)")
    assert [run_dir(repo, n).exists() for n in (1, 2, 3, 4)] == [False, False, False, True]
    assert show(repo, "ci/1")["pruned_at"].endswith("Z")
    assert show(repo, "ci/4")["pruned_at"] is None
    listed = run_cli("runs", cwd=repo.root, check=True).stdout.splitlines()
    assert [line.split()[0] for line in listed] == ["ci/4", "ci/3", "ci/2", "ci/1"]  # all kept
    assert [line.endswith("  (pruned)") for line in listed] == [False, True, True, True]
    logs = run_cli("logs", "ci/1", cwd=repo.root)
    assert logs.returncode == 1 and "were pruned" in logs.stderr
    again = run_cli("prune", cwd=repo.root, check=True).stdout
    assert again == "freed 0 B (0 runs)\n"


def test_retention_after_each_run_keeps_the_releases_a_rollback_can_return_to(
    repo: RepoMaker,
) -> None:
    pipeline(repo, "retention: {runs: 2}", deploy=True)
    for _ in range(8):
        run_cli("run", "ci", cwd=repo.root, check=True)
    # Newest 2 kept by retention, 4-8 as production's last five releases; 1-3 pruned.
    assert [run_dir(repo, n).exists() for n in range(1, 9)] == [False] * 3 + [True] * 5
    pruned = [n for n in range(1, 9) if show(repo, f"ci/{n}")["pruned_at"]]
    assert pruned == [1, 2, 3]
    refused = run_cli("rollback", "ci", "Production", "--to", "3", cwd=repo.root)
    assert refused.returncode == 1
    assert refused.stderr == (
        "pipedeck: ci/3's artifacts were pruned: nothing is left to roll back with\n"
    )
    back = run_cli("rollback", "ci", "Production", "--to", "4", cwd=repo.root)
    assert back.returncode == 0, back.stderr
    # The rollback is a release too: ci/5..ci/9 are the last five; 4 stays as what runs now.
    dry = json.loads(run_cli("prune", "--dry-run", "--json", cwd=repo.root, check=True).stdout)
    assert dry["runs"] == []
    assert sorted(dry["kept_for_releases"]) == ["ci/4", "ci/5", "ci/6", "ci/7"]


@contextmanager
def undeletable(path: Path) -> Iterator[None]:
    """A file even root cannot delete: immutable, as on a read-only mount."""
    path.write_text("stuck\n")
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable files (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_run_that_cannot_be_removed_is_reported_and_tried_again(repo: RepoMaker) -> None:
    pipeline(repo)
    for _ in range(3):
        run_cli("run", "ci", cwd=repo.root, check=True)
    with undeletable(run_dir(repo, 1) / "stuck"):
        # After a run: retention fails on ci/1, removes ci/2, and the run keeps its status.
        pipeline(repo, "retention: {runs: 2}")
        ran = run_cli("run", "ci", cwd=repo.root)
        assert ran.returncode == 0, ran.stderr
        assert "Traceback" not in ran.stderr
        assert "retention: 1 old run of ci pruned, " in ran.stderr  # ci/2
        assert "retention could not remove all of ci/1: " in ran.stderr
        assert show(repo, "ci/4")["status"] == "succeeded"
        assert show(repo, "ci/4")["error"] is None
        assert not run_dir(repo, 2).exists()

        # By hand: the same, said, and exit 1; nothing else is held back by it.
        pipeline(repo, "retention: {runs: 1}")
        pruned = run_cli("prune", cwd=repo.root)
        assert pruned.returncode == 1
        assert "Traceback" not in pruned.stderr
        assert pruned.stderr.startswith("pipedeck: could not remove all of ci/1: ")
        assert "the next prune tries again" in pruned.stderr
        assert not run_dir(repo, 3).exists() and run_dir(repo, 4).is_dir()
        dry = json.loads(run_cli("prune", "--dry-run", "--json", cwd=repo.root).stdout)
        assert [r["run"] for r in dry["runs"]] == ["ci/1"]
    assert run_cli("prune", cwd=repo.root).returncode == 0
    assert not run_dir(repo, 1).exists()
