"""The engine's API: start runs, wait for them, approve, reject, cancel.

Clients (the CLI, the console) call these methods and listen on `bus`; they never touch a
process or a run row themselves. Requests that may also come from another process (decisions,
cancels) go through the store, so one code path serves both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from pipedeck.definition.model import Pipeline
from pipedeck.engine import requests
from pipedeck.engine.bus import EventBus
from pipedeck.engine.context import RunContext, Settings
from pipedeck.engine.events import RunFinished
from pipedeck.engine.executor import RunExecutor
from pipedeck.engine.liveness import EngineLease
from pipedeck.engine.recovery import kill_run_processes, run_token
from pipedeck.engine.variables import Variables
from pipedeck.gitrepo import GitError
from pipedeck.store import ApprovalRecord, PlannedAction, PlannedStage, RunRecord, Status

if TYPE_CHECKING:
    from pipedeck.engine.project import Project


log = logging.getLogger(__name__)


class EngineError(Exception):
    """A request the engine refuses, phrased for the user."""


class Engine:
    def __init__(self, project: Project, settings: Settings | None = None) -> None:
        self.project = project
        self.settings = settings or Settings()
        self.bus = EventBus()
        self._lease = EngineLease(project.state_dir)
        self._runs: dict[int, RunContext] = {}
        self._tasks: dict[int, asyncio.Task[RunRecord]] = {}

    @property
    def engine_id(self) -> str:
        return self._lease.engine_id

    async def start(
        self,
        pipeline: Pipeline,
        rev: str = "HEAD",
        variables: dict[str, str] | None = None,
        trigger: str = "manual",
    ) -> RunRecord:
        """Record a new run of `pipeline` for `rev` and start it; returns at once."""
        repo, store = self.project.repo, self.project.store
        unknown = sorted(set(variables or {}) - set(pipeline.variables))
        if unknown:
            declared = ", ".join(pipeline.variables) or "none"
            raise EngineError(
                f"{pipeline.name} declares no variable {', '.join(unknown)} (declared: {declared})"
            )
        try:
            commit = repo.resolve(rev)
        except GitError as exc:
            raise EngineError(str(exc)) from None
        # A run of a branch is of that branch; of HEAD, of what is checked out; of a bare
        # SHA or tag, of no branch (we cannot know which one the user meant).
        if repo.is_branch(rev):
            branch: str | None = rev
        elif rev == "HEAD":
            branch = repo.current_branch()
        else:
            branch = None
        values = {**pipeline.variables, **(variables or {})}
        run = store.create_run(
            pipeline.name,
            [
                PlannedStage(
                    s.name, [PlannedAction(a.name, a.kind.value, a.run_order) for a in s.actions]
                )
                for s in pipeline.stages
            ],
            commit=commit.sha,
            commit_subject=commit.subject,
            branch=branch,
            variables=values,
            trigger=trigger,
            engine_id=self.engine_id,
        )
        names = Variables()
        names.set_namespace("variables", values)
        names.set_namespace(
            "pipeline",
            {
                "name": pipeline.name,
                "run": run.key,
                "number": str(run.number),
                "commit": commit.sha,
                "commit_short": commit.short,
                "branch": branch or "",
            },
        )
        ctx = RunContext(
            run=run,
            pipeline=pipeline,
            commit=commit,
            repo=repo,
            store=store,
            bus=self.bus,
            settings=self.settings,
            variables=names,
            token=run_token(store, run),
        )
        self._runs[run.id] = ctx
        task = asyncio.create_task(self._execute(ctx))
        self._tasks[run.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run.id, None))
        return run

    async def _execute(self, ctx: RunContext) -> RunRecord:
        """Run to the end; whatever goes wrong, the run ends with a final status."""
        try:
            await RunExecutor(ctx).execute()
        except asyncio.CancelledError:
            self._settle(ctx, Status.CANCELLED, "the engine stopped")
            raise
        except Exception as exc:
            log.exception("run %s failed inside the engine", ctx.run.key)
            self._settle(ctx, Status.FAILED, f"internal error: {exc!r}")
        finally:
            self._runs.pop(ctx.run.id, None)
        return self.project.store.run_by_id(ctx.run.id)

    def _settle(self, ctx: RunContext, status: Status, reason: str) -> None:
        ctx.cancel.set()
        self.project.store.close_run(ctx.run.id, status, reason)
        ctx.publish(RunFinished(**ctx.event_fields(), status=status, error=reason))

    async def wait(self, run: RunRecord) -> RunRecord:
        task = self._tasks.get(run.id)
        if task is None:
            return self.project.store.run_by_id(run.id)
        return await task

    async def run(
        self, pipeline: Pipeline, rev: str = "HEAD", variables: dict[str, str] | None = None
    ) -> RunRecord:
        """Start a run and wait for its end."""
        return await self.wait(await self.start(pipeline, rev, variables))

    def approve(
        self,
        run: RunRecord,
        comment: str | None = None,
        by: str | None = None,
        action: str | None = None,
    ) -> ApprovalRecord:
        record = requests.approve(self.project.store, run, comment, by, action)
        self._wake(run)
        return record

    def reject(
        self, run: RunRecord, comment: str, by: str | None = None, action: str | None = None
    ) -> ApprovalRecord:
        record = requests.reject(self.project.store, run, comment, by, action)
        self._wake(run)
        return record

    def cancel(self, run: RunRecord) -> None:
        requests.cancel(self.project.store, run)
        if (ctx := self._runs.get(run.id)) is not None:
            ctx.cancel.set()
        self._wake(run)

    def abandon(self, run: RunRecord) -> None:
        """Kill the run's processes without grace and record it cancelled (a forced quit)."""
        kill_run_processes(run_token(self.project.store, run))
        self.project.store.close_run(run.id, Status.CANCELLED, "stopped at once")
        self._lease.release()

    def _wake(self, run: RunRecord) -> None:
        """A request for a run of ours: act now rather than at the next poll."""
        if (ctx := self._runs.get(run.id)) is not None:
            ctx.decision_arrived.set()

    async def close(self) -> None:
        """Cancel what is still running, wait for it to stop, and release the lease."""
        for ctx in list(self._runs.values()):
            ctx.cancel.set()
            ctx.decision_arrived.set()
        for task in list(self._tasks.values()):
            with contextlib.suppress(Exception):
                await task
        self._lease.release()
