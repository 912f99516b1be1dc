"""What every command needs: the global options, the project, and one way to fail."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

from pipedeck.engine.project import Project, ProjectError
from pipedeck.gitrepo import GitError, GitRepo
from pipedeck.store import RunRecord, StoreError
from pipedeck.visible import visible


@dataclass
class Options:
    repo: Path
    state_dir: Path | None
    _project: Project | None = field(default=None, repr=False)

    def project(self) -> Project:
        if self._project is None:
            try:
                self._project = Project.open(self.repo, self.state_dir)
            except (GitError, StoreError) as exc:
                fail(str(exc))
            except (OSError, sqlite3.DatabaseError) as exc:
                where = self.state_dir or "the state directory"
                fail(f"cannot open run history in {where}: {exc}")
            for run in self._project.recovered:
                say(f"pipedeck: {run.key} was left running; marked interrupted", err=True)
        return self._project

    def repo_root(self) -> Path:
        """The repository around `--repo`, or `--repo` itself when it is not in one."""
        try:
            return GitRepo.open(self.repo).root
        except GitError:
            return self.repo

    def user_email(self) -> str | None:
        """The deciding checkout's git `user.email`, recorded with a decision."""
        return self.project().repo.user_email()

    def find_run(self, ref: str) -> RunRecord:
        try:
            return self.project().store.find_run(ref)
        except StoreError as exc:
            fail(str(exc))


_LOCATED = re.compile(r"^\S+:\d+:\d+: ")


def say(message: str = "", err: bool = False) -> None:
    """A line of the command line's own. It may quote the repository (a file name, a commit
    subject, a command under review), so its control characters are shown, never obeyed."""
    click.echo(visible(message, lines=True), err=err)


def fail(message: str, code: int = 1) -> NoReturn:
    # Located errors stay bare `FILE:LINE:COL: …` lines so editors and terminals can jump to them.
    say(message if _LOCATED.match(message) else f"pipedeck: {message}", err=True)
    sys.exit(code)


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2))


CLIENT_ERRORS = (ProjectError, StoreError, GitError)
