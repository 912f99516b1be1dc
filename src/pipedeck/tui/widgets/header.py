"""The top line: repository, branch, HEAD, and how this console relates to the engine.

The first frame shows what costs no `git` call (the repository's name, the branch read from
HEAD's file); the commit is filled in from the survey's thread (`survey.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import Static

from pipedeck.tui.text import line, markup

if TYPE_CHECKING:
    from pipedeck.gitrepo import Commit


class Header(Static):
    def __init__(self, repo_name: str, branch: str | None, **kwargs: object) -> None:
        opening = markup("[dim]opening…[/]")
        super().__init__(describe(repo_name, branch, None, opening, reading=True), **kwargs)  # type: ignore[arg-type]
        self.repo_name = repo_name

    def show(self, branch: str | None, commit: Commit | None, role: Content) -> None:
        self.update(describe(self.repo_name, branch, commit, role))


def describe(
    repo_name: str, branch: str | None, commit: Commit | None, role: Content, reading: bool = False
) -> Content:
    if reading:
        head = markup("[dim]HEAD …[/]")
    elif commit is None:  # an empty repository has no HEAD yet
        head = markup("[dim]no commits yet[/]")
    else:
        head = markup("HEAD [cyan]$short[/] $subject", short=commit.short, subject=commit.subject)
    where = markup(
        "[b]pipedeck[/b] · $repo · [magenta]$branch[/] · ",
        repo=repo_name,
        branch=branch or "detached",
    )
    return line(where, head, markup(" · "), role)
