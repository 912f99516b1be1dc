"""The top line: repository, branch, HEAD, and how this console relates to the engine.

Reading HEAD asks git (a process, the first time), so it happens in a thread, never in the
first frame; the widget keeps its own repository handle, used by one thread at a time — git
objects are not to be shared across threads, and the engine's handle is the engine's.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from textual import work
from textual.content import Content
from textual.widgets import Static

from pipedeck.gitrepo import GitError, GitRepo
from pipedeck.tui.text import line, markup


class Header(Static):
    def __init__(self, root: Path, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.root = root
        self._repo: GitRepo | None = None
        self._lock = threading.Lock()
        self._closed = False

    def show(self, role: Content) -> None:
        """Read HEAD again (in a thread) and show it with `role`."""
        self._read(role)

    @work(exclusive=True, group="header")
    async def _read(self, role: Content) -> None:
        self.update(await asyncio.to_thread(self._text, role))

    def _text(self, role: Content) -> Content:
        with self._lock:
            if self._closed:
                return Content()
            if self._repo is None:
                self._repo = GitRepo.open(self.root)
            return describe(self._repo, role)

    def on_unmount(self) -> None:
        with self._lock:  # waits for a read in progress, at most one git call
            self._closed = True
            if self._repo is not None:
                self._repo.close()
                self._repo = None


def describe(repo: GitRepo, role: Content) -> Content:
    try:
        head = repo.resolve("HEAD")
        commit = markup("HEAD [cyan]$short[/] $subject", short=head.short, subject=head.subject)
    except GitError:  # an empty repository has no HEAD yet
        commit = markup("[dim]no commits yet[/]")
    where = markup(
        "[b]pipedeck[/b] · $repo · [magenta]$branch[/] · ",
        repo=repo.root.name,
        branch=repo.current_branch() or "detached",
    )
    return line(where, commit, markup(" · "), role)
