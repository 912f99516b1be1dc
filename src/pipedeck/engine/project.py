"""A repository opened for pipedeck: git, state directory, store, pipeline files.

Opening one is also when crash recovery happens: any run left active by an engine that is no
longer alive is marked `interrupted` before anyone reads the history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pipedeck.definition import DefinitionError, LoadResult, Pipeline, load_pipelines
from pipedeck.definition.errors import display_path
from pipedeck.engine.recovery import recover
from pipedeck.gitrepo import GitRepo
from pipedeck.store import RunRecord, Store, default_state_dir


class ProjectError(Exception):
    """Something about the repository or its pipelines the user must fix."""


@dataclass
class Project:
    repo: GitRepo
    state_dir: Path
    store: Store
    recovered: list[RunRecord]

    @classmethod
    def open(cls, path: Path, state_dir: Path | None = None) -> Project:
        repo = GitRepo.open(path)
        state = state_dir or default_state_dir(repo.git_dir)
        store = Store(state)
        return cls(repo=repo, state_dir=state, store=store, recovered=recover(store))

    @property
    def pipelines_dir(self) -> Path:
        return self.repo.root / "pipelines"

    def load(self) -> LoadResult:
        return load_pipelines(self.pipelines_dir)

    def pipeline(self, name: str) -> Pipeline:
        """The named pipeline; a broken file or an unknown name is a `ProjectError`."""
        if not self.pipelines_dir.is_dir():
            raise ProjectError(
                f"no pipelines/ folder in {self.repo.root}"
                " (add pipelines/NAME.yml, or try `pipedeck demo`)"
            )
        result = self.load()
        for pipeline in result.pipelines:
            if pipeline.name == name:
                return pipeline
        # A broken file may be the one that declares `name`: its errors are the answer.
        named = [p for p in result.problems if p.path.stem == name]
        if named or result.problems:
            shown = [replace(p, path=display_path(p.path)) for p in named or result.problems]
            raise ProjectError(str(DefinitionError(shown)))
        known = ", ".join(p.name for p in result.pipelines) or "none"
        raise ProjectError(
            f"no pipeline named {name!r} in {self.pipelines_dir} (pipelines: {known})"
        )

    def close(self) -> None:
        self.store.close()
