"""Finding a repository with one `git` call, for the commands that only read its history.

`GitRepo` (GitPython) is for the engine's work; a command that only needs to know where the
repository and its git directory are asks git itself, once, and loads nothing else.
"""

from __future__ import annotations

import os
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

HEAD_LIMIT = 4096
"""More than any `ref: refs/heads/NAME` line git writes."""


class GitError(Exception):
    """A git operation failed in a way the user can act on."""


@dataclass(frozen=True, slots=True)
class Location:
    root: Path
    """The top of the working tree."""
    git_dir: Path
    """The common git directory: shared by all worktrees, so run history is too."""
    head: Path
    """This worktree's HEAD file: which branch is checked out here."""

    def branch(self) -> str | None:
        """The checked-out branch, read from HEAD without running git; None when HEAD is
        detached or cannot be read that way (git itself then says, later)."""
        try:
            if self.head.is_symlink():  # the old symbolic-link form of HEAD
                return _branch_of(os.readlink(self.head))
            # A FIFO or a device in its place must not hold the console up (or fill memory).
            fd = os.open(self.head, os.O_RDONLY | os.O_NONBLOCK)
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    return None
                raw = os.read(fd, HEAD_LIMIT + 1)
            finally:
                os.close(fd)
        except OSError:
            return None
        content = raw.decode(errors="replace")
        if len(raw) > HEAD_LIMIT or not content.startswith("ref:"):
            return None
        return _branch_of(content[4:].strip())


def _branch_of(ref: str) -> str | None:
    name = ref.removeprefix("refs/heads/")
    # Git's ref names hold no whitespace or control characters; anything else is not a branch
    # to show. A reftable repository's HEAD names a placeholder branch, never checked out.
    if name == ref or not name or name == ".invalid":
        return None
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in name):
        return None
    return name


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(cwd), *args],
            capture_output=True,
            text=True,
            errors="replace",
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except FileNotFoundError:
        raise GitError("git is not installed (pipedeck needs the `git` command)") from None


def locate(path: Path) -> Location:
    """The repository containing `path` (searching parent directories), as `GitRepo.open`
    finds it, with the same errors."""
    found = _git(
        path,
        "rev-parse",
        "--path-format=absolute",
        "--git-common-dir",
        "--is-bare-repository",
        "--show-toplevel",
        "--git-dir",
    )
    lines = found.stdout.splitlines()
    if found.returncode == 0 and len(lines) == 4 and lines[1] == "false":
        return Location(
            root=Path(lines[2]), git_dir=Path(lines[0]).resolve(), head=Path(lines[3]) / "HEAD"
        )
    if len(lines) >= 2:
        # Inside a git directory, or a bare repository: there is no working tree to run.
        raise GitError(f"{path} is a bare repository; pipedeck needs a working tree")
    if "dubious ownership" in found.stderr:
        raise GitError(
            f"git refuses {path.resolve()}: it belongs to another user"
            " (see `git config --global safe.directory`)"
        )
    raise GitError(
        f"{path.resolve()} is not inside a git repository (run `git init`, or try `pipedeck demo`)"
    )


def user_email(root: Path) -> str | None:
    """`git config user.email` as this checkout sees it (repository, then global)."""
    found = _git(root, "config", "--get", "user.email")
    return found.stdout.strip() or None if found.returncode == 0 else None
