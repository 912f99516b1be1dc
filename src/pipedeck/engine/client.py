"""A repository opened to read and steer its runs, without loading what running them needs.

What `pipedeck runs`, `show`, `logs`, `approve`, `cancel` open: where the repository and its
git directory are (one `git` call), the store, and crash recovery. `Project` builds on it
when a command does load pipeline files or run them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipedeck.engine.recovery import recover
from pipedeck.gitrepo.location import Location, locate
from pipedeck.store import RunRecord, Store, default_state_dir

PIPELINES = "pipelines"
"""The folder of a repository that holds its pipeline files."""


@dataclass
class Client:
    location: Location
    state_dir: Path
    store: Store
    recovered: list[RunRecord]
    """Runs a dead engine left active, marked `interrupted` as this client opened them."""

    @classmethod
    def open(cls, path: Path, state_dir: Path | None = None) -> Client:
        """Open the repository containing `path`; any run left active by an engine that is
        no longer alive is marked `interrupted` before anyone reads the history."""
        where = locate(path)
        state = state_dir or default_state_dir(where.git_dir)
        store = Store(state)
        return cls(
            location=where,
            state_dir=state,
            store=store,
            recovered=recover(store),
        )

    @property
    def root(self) -> Path:
        return self.location.root

    @property
    def git_dir(self) -> Path:
        return self.location.git_dir

    @property
    def pipelines_dir(self) -> Path:
        return self.location.root / PIPELINES

    def close(self) -> None:
        self.store.close()
