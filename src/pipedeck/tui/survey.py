"""What the console reads from files and git, done on a thread of its own.

The engine shares the event loop with the screen, so a pipeline file parsed there, a trust
digest or a `git` call for new commits would hold up both. That reading happens here, on one
worker thread, one job at a time in the order asked. The thread has its own store connection
and repository handle: an SQLite connection belongs to the thread that opened it, and the
engine's git handle is the engine's.

The first jobs are also where the modules that loading pipeline files and running them need
(pydantic, PyYAML, GitPython, the engine) are imported, so the console's first frame, drawn
from the store alone, never waits for them.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from pipedeck.gitrepo.location import GitError
from pipedeck.store import Store, StoreError

if TYPE_CHECKING:
    from pipedeck.definition import LoadResult, Pipeline
    from pipedeck.engine import Client, EnvironmentView, Project
    from pipedeck.gitrepo import Commit, GitRepo
    from pipedeck.store.results import CaseResult, ReportProblem
    from pipedeck.tui.approval_info import ApprovalInfo

T = TypeVar("T")
CLOSE_PATIENCE = 2.0
"""Seconds a closing console waits for the survey's job in progress."""
Stamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class Head:
    branch: str | None
    commit: Commit | None
    """None in a repository with no commits yet."""


def _stamp(entry: Path) -> tuple[str, int, int]:
    """What tells that a pipeline file changed; a dangling symlink is stamped by the link."""
    for look in (entry.stat, entry.lstat):
        try:
            info = look()
        except OSError:
            continue
        return entry.name, info.st_mtime_ns, info.st_size
    return entry.name, 0, 0


class Survey:
    def __init__(self, root: Path, pipelines_dir: Path, state_dir: Path) -> None:
        self.root = root
        self.pipelines_dir = pipelines_dir
        self.state_dir = state_dir
        self._thread = _Worker()
        self._store: Store | None = None
        self._repo: GitRepo | None = None
        self._stamp: Stamp | None = None
        self._closed = False

    async def _on_thread(self, job: Callable[[], T]) -> T:
        return await asyncio.wrap_future(self._thread.submit(job))

    async def project(self, client: Client) -> Project:
        """The project the engine runs, built (and its modules imported) off the loop."""

        def build() -> Project:
            from pipedeck.engine import Engine, EngineService, Project

            del Engine, EngineService  # imported for the loop, which starts them next
            return Project.of(client)

        return await self._on_thread(build)

    async def pipelines(self) -> LoadResult | None:
        """The pipeline files, loaded again when any of them changed since the last look;
        None when none did."""
        return await self._on_thread(self._pipelines)

    def _pipelines(self) -> LoadResult | None:
        from pipedeck.definition import load_pipelines

        directory = self.pipelines_dir
        try:
            stamp = tuple(sorted(_stamp(entry) for entry in directory.iterdir()))
        except OSError:
            stamp = ()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        return load_pipelines(directory)

    async def notes(self, pipelines: list[Pipeline]) -> dict[str, tuple[str, ...]]:
        """What each pipeline says under its name: not trusted, commits not yet run."""
        return await self._on_thread(lambda: self._notes(pipelines))

    def _notes(self, pipelines: list[Pipeline]) -> dict[str, tuple[str, ...]]:
        from pipedeck.engine import TrustError, TrustStore, pending_commits

        trust = TrustStore()
        repo, store = self._repository(), self._history()
        notes: dict[str, tuple[str, ...]] = {}
        for p in pipelines:
            said = []
            if p.path is not None:
                try:
                    # The digest of the bytes loaded: the file is not read again (it may be
                    # a FIFO by now, and a read of one would hold this thread for ever).
                    trusted = trust.check(p.path, digest=p.sha256).trusted
                except (TrustError, OSError):
                    trusted = False
                if not trusted:
                    said.append("⚠ not trusted (T)")
            pending = pending_commits(repo, store, p) if repo and store else None
            if pending is not None:
                plural = "s" if pending.count > 1 else ""
                said.append(f"{pending.count} new commit{plural} (s)")
            if said:
                notes[p.name] = tuple(said)
        return notes

    async def approval(self, run_id: int) -> ApprovalInfo | None:
        """What the approval dialog shows for the run's first waiting approval, if any."""

        def job() -> ApprovalInfo | None:
            from pipedeck.tui.approval_info import waiting_approval

            store = self._history()
            if store is None:
                return None
            try:
                run = store.run_by_id(run_id)
            except StoreError:
                return None
            return waiting_approval(store, self._repository(), run)

        return await self._on_thread(job)

    async def tests(self, run_id: int) -> tuple[list[CaseResult], list[ReportProblem]]:
        """The run's test cases (each marked flaky or not) and its reports' problems: the
        flakiness looks through the branch's earlier runs."""

        def job() -> tuple[list[CaseResult], list[ReportProblem]]:
            store = self._history()
            if store is None:
                return [], []
            return store.results.cases(run_id), store.results.problems(run_id)

        return await self._on_thread(job)

    async def environments(self, pipelines: list[Pipeline]) -> list[EnvironmentView]:
        """What every environment runs now (the ledger, and git for how far behind)."""

        def job() -> list[EnvironmentView]:
            from pipedeck.engine import environments

            store = self._history()
            if store is None:
                return []
            try:
                return environments(store, self._repository(), pipelines)
            except StoreError:  # the history changed under it (a run removed): none to show
                return []

        return await self._on_thread(job)

    async def head(self) -> Head:
        """The checked-out branch and commit, for the header."""

        def job() -> Head:
            repo = self._repository()
            if repo is None:
                return Head(None, None)
            try:
                commit: Commit | None = repo.resolve("HEAD")
            except GitError:  # no commits yet
                commit = None
            return Head(repo.current_branch(), commit)

        return await self._on_thread(job)

    async def close(self) -> None:
        """Close the thread's store and repository (on the thread), then the thread."""

        def job() -> None:
            self._closed = True
            if self._repo is not None:
                self._repo.close()
            if self._store is not None:
                self._store.close()
            self._repo = self._store = None

        try:
            # A job stuck on a read (a file swapped for a FIFO, a hung git) must not keep the
            # console from closing: it is left behind, on a daemon thread.
            await asyncio.wait_for(self._on_thread(job), CLOSE_PATIENCE)
        except TimeoutError:
            pass
        finally:
            self._thread.stop()

    # --- the thread's own handles ---------------------------------------------------------

    def _repository(self) -> GitRepo | None:
        """The thread's repository handle; None if the repository cannot be opened now."""
        if self._repo is None and not self._closed:
            from pipedeck.gitrepo import GitRepo

            try:
                self._repo = GitRepo.open(self.root)
            except GitError:
                return None
        return self._repo

    def _history(self) -> Store | None:
        if self._store is None and not self._closed:
            try:
                self._store = Store(self.state_dir)
            except StoreError:
                return None
        return self._store


class _Worker:
    """One daemon thread running jobs in the order given (a `ThreadPoolExecutor`'s threads
    are joined at exit, so one stuck job would keep the process from ending)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="pipedeck-survey", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[], T]) -> Future[T]:
        done: Future[T] = Future()
        self._jobs.put((job, done))  # type: ignore[arg-type]
        return done

    def stop(self) -> None:
        self._jobs.put(None)

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, done = item
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(job())
            except BaseException as exc:  # handed to the awaiting side, as an executor does
                done.set_exception(exc)
