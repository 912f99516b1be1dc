"""A repository opened for pipedeck: git, state directory, store, pipeline files.

Opening one is also when crash recovery happens: any run left active by an engine that is no
longer alive is marked `interrupted` before anyone reads the history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pipedeck.definition import (
    DefinitionError,
    LoadResult,
    Pipeline,
    load_committed,
    load_pipelines,
)
from pipedeck.definition.errors import display_path
from pipedeck.engine.client import PIPELINES, Client
from pipedeck.engine.errors import ProjectError
from pipedeck.gitrepo import GitError, GitRepo
from pipedeck.store import COMMITTED, WORKING_TREE, RunRecord, Store


@dataclass
class Project:
    repo: GitRepo
    state_dir: Path
    store: Store
    recovered: list[RunRecord]

    @classmethod
    def open(cls, path: Path, state_dir: Path | None = None) -> Project:
        return cls.of(Client.open(path, state_dir))

    @classmethod
    def of(cls, client: Client) -> Project:
        """The project of an opened client, sharing its store."""
        return cls(
            repo=GitRepo.open(client.root),
            state_dir=client.state_dir,
            store=client.store,
            recovered=client.recovered,
        )

    @property
    def pipelines_dir(self) -> Path:
        return self.repo.root / PIPELINES

    def load(self) -> LoadResult:
        return load_pipelines(self.pipelines_dir)

    def pipeline(self, name: str) -> Pipeline:
        """The named pipeline of the working tree; a broken file or an unknown name is a
        `ProjectError`."""
        if not self.pipelines_dir.is_dir():
            raise ProjectError(
                f"no pipelines/ folder in {self.repo.root}"
                " (add pipelines/NAME.yml, or try `pipedeck demo`)"
            )
        return self._named(self.load(), name, str(self.pipelines_dir))

    def load_at(self, sha: str) -> LoadResult:
        """The pipelines as committed at `sha`: what a run of that commit runs."""
        try:
            files = self.repo.files_at(sha, PIPELINES)
        except GitError as exc:
            raise ProjectError(str(exc)) from None
        return load_committed(self.pipelines_dir, files, sha)

    def pipeline_at(self, name: str, sha: str) -> Pipeline:
        """The named pipeline as committed at `sha`."""
        return self._named(self.load_at(sha), name, f"{PIPELINES}/ of commit {sha[:7]}")

    def pipeline_for(self, name: str, rev: str) -> Pipeline:
        """What a run of `rev` asked for by a person runs: on HEAD, the working tree's file
        (an edit can be tried before it is committed); on any other commit, its own file,
        as GitHub Actions and GitLab do."""
        if rev == "HEAD":
            return self.pipeline(name)
        try:
            sha = self.repo.resolve(rev).sha
        except GitError as exc:
            raise ProjectError(str(exc)) from None
        return self.pipeline_at(name, sha)

    def origin_of(self, pipeline: Pipeline, sha: str) -> str:
        """`commit` when `pipeline` is its file as committed at `sha`, else `working tree`."""
        if pipeline.path is None or pipeline.source is None:
            return COMMITTED
        try:
            relative = pipeline.path.relative_to(self.repo.root).as_posix()
            committed = self.repo.file_at(sha, relative)
        except (ValueError, GitError):
            committed = None
        return COMMITTED if committed == pipeline.source else WORKING_TREE

    def _named(self, result: LoadResult, name: str, where: str) -> Pipeline:
        for pipeline in result.pipelines:
            if pipeline.name == name:
                return pipeline
        # A broken file may be the one that declares `name`: its errors are the answer.
        named = [p for p in result.problems if p.path.stem == name]
        if named or result.problems:
            shown = [replace(p, path=display_path(p.path)) for p in named or result.problems]
            raise ProjectError(str(DefinitionError(shown)))
        known = ", ".join(p.name for p in result.pipelines) or "none"
        raise ProjectError(f"no pipeline named {name!r} in {where} (pipelines: {known})")

    def close(self) -> None:
        self.repo.close()
        self.store.close()
