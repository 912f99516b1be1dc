"""Finding a repository, and reading its branch from HEAD without running git."""

from __future__ import annotations

import os
from pathlib import Path

from pipedeck.gitrepo.location import Location, locate
from tests.conftest import RepoMaker, git


def test_the_branch_is_read_from_head_and_a_detached_head_has_none(repo: RepoMaker) -> None:
    repo.commit("Start")
    assert locate(repo.root).branch() == "main"
    git(repo.root, "checkout", "-q", "-b", "feature/x")
    assert locate(repo.root).branch() == "feature/x"
    git(repo.root, "checkout", "-q", "--detach")
    assert locate(repo.root).branch() is None


def test_a_worktree_reads_its_own_head(repo: RepoMaker, tmp_path: Path) -> None:
    repo.commit("Start")
    other = tmp_path / "other"
    git(repo.root, "worktree", "add", "-q", "-b", "hotfix", str(other))
    assert locate(other).branch() == "hotfix"
    assert locate(repo.root).branch() == "main"
    assert locate(other).git_dir == locate(repo.root).git_dir


def test_a_head_that_is_a_fifo_or_a_device_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # Opened for reading with nobody writing, a FIFO would block the console for ever.
    for head in (fifo, Path("/dev/zero"), tmp_path / "missing"):
        assert Location(root=tmp_path, git_dir=tmp_path, head=head).branch() is None
    big = tmp_path / "HEAD"
    big.write_text("ref: refs/heads/" + "x" * 100_000)
    assert Location(root=tmp_path, git_dir=tmp_path, head=big).branch() is None


def test_heads_git_accepts_are_read_as_git_reads_them(tmp_path: Path) -> None:
    head = tmp_path / "HEAD"
    at = Location(root=tmp_path, git_dir=tmp_path, head=head)
    head.write_text("ref:refs/heads/main\n")  # no space: git reads it, so do we
    assert at.branch() == "main"
    head.write_text("ref: refs/heads/main\nsecond line\n")  # not a branch name to show
    assert at.branch() is None
    head.write_text("ref: refs/heads/[b]x\x1b[31m\n")
    assert at.branch() is None
    head.unlink()
    head.symlink_to("refs/heads/topic")  # the old symbolic-link form
    assert at.branch() == "topic"


def test_gitpython_s_unreadable_head_is_no_branch_not_a_crash(repo: RepoMaker) -> None:
    from pipedeck.gitrepo import GitRepo

    repo.commit("Start")
    (repo.root / ".git" / "HEAD").write_text("ref:refs/heads/main\n")
    handle = GitRepo.open(repo.root)
    try:
        assert handle.current_branch() in (None, "main")
    finally:
        handle.close()
