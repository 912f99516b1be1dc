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
    from textual.app import App

    from pipedeck.gitrepo import Commit
    from pipedeck.tui.control import Control


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


def role(control: Control, app: App[None]) -> Content:
    """Whether this console runs the pipelines, and how it watches; or whose client it is."""
    if control.failure is not None:
        return markup("[red]cannot run pipelines[/]")
    if control.project is None:
        return markup("[dim]opening…[/]")
    if control.engine is None:
        # The role, not the pid: `pid role` is in every request's toast.
        holder = (control.holder or "").rpartition(" ")[2] or "another"
        return markup("[yellow]client of the $role engine[/]", role=holder)
    service = getattr(app, "service", None)
    watcher = service.watcher if service is not None else None
    if watcher is None:
        return markup("[dim]not watching[/]")
    if watcher.mode == "polling":
        return markup(
            "[yellow]polling for commits[/] [dim]($reason)[/]", reason=watcher.reason or ""
        )
    return markup("[green]watching for commits[/]")
