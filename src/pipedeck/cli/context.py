"""What every command needs: the global options, the project, and one way to fail."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from pipedeck.gitrepo import GitError, locate, user_email
from pipedeck.visible import visible

if TYPE_CHECKING:
    from pipedeck.engine import Client, Project
    from pipedeck.store import RunRecord, Store


@dataclass
class Options:
    repo: Path
    state_dir: Path | None
    _client: Client | None = field(default=None, repr=False)
    _project: Project | None = field(default=None, repr=False)

    def client(self) -> Client:
        """The repository opened to read and steer its runs: all most commands need."""
        if self._client is None:
            from pipedeck.engine import Client

            try:
                self._client = Client.open(self.repo, self.state_dir)
            except (OSError, sqlite3.DatabaseError) as exc:
                where = self.state_dir or "the state directory"
                fail(f"cannot open run history in {where}: {exc}")
            for run in self._client.recovered:
                say(f"pipedeck: {run.key} was left running; marked interrupted", err=True)
        return self._client

    def project(self) -> Project:
        """The repository opened to load its pipeline files and run them."""
        if self._project is None:
            # Loads the pipeline model and GitPython: only commands that need them get here.
            from pipedeck.engine import Project

            self._project = Project.of(self.client())
        return self._project

    def close(self) -> None:
        """End what the command opened (the store, git's reader processes)."""
        if self._project is not None:
            self._project.repo.close()
        if self._client is not None:
            self._client.close()

    def repo_root(self) -> Path:
        """The repository around `--repo`, or `--repo` itself when it is not in one."""
        try:
            return locate(self.repo).root
        except GitError:
            return self.repo

    def user_email(self) -> str | None:
        """The deciding checkout's git `user.email`, recorded with a decision."""
        return user_email(self.client().root)

    def find_run(self, ref: str) -> RunRecord:
        return self.client().store.find_run(ref)


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


def say_left_waiting(runs: list[RunRecord], store: Store) -> None:
    """Runs an engine leaves waiting when it stops, and how to carry them on."""
    for run in runs:
        say(f"pipedeck: {left_waiting(store, run)}", err=True)


def left_waiting(store: Store, run: RunRecord) -> str:
    """What a run an engine left waits for, and what carries it on."""
    then = "the next console or `pipedeck watch` takes it up"
    if store.waiting_approvals(run.id):
        return f"{run.key} stays waiting for an approval; {then} (or `pipedeck approve {run.key}`)"
    if hold := store.hold_of(run.id):
        return f"{run.key} stays held: its deploy {hold}; {then}, and holds it again"
    return f"{run.key} stays waiting for {run.waiting_for or 'its turn'}; {then}"
