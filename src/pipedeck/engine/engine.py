"""The engine's API: start runs, wait for them, approve, reject, cancel.

Clients (the CLI, the console) call these methods and listen on `bus`; they never touch a
process or a run row themselves. Requests that may also come from another process (decisions,
cancels) go through the store, so one code path serves both.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from pipedeck.definition import DefinitionError
from pipedeck.definition.loader import load_source
from pipedeck.definition.model import ActionKind, Pipeline
from pipedeck.engine import requests, retention, rollback
from pipedeck.engine.actions.source import set_source_variables
from pipedeck.engine.artifacts import discard
from pipedeck.engine.bus import EventBus
from pipedeck.engine.context import RunContext, Settings
from pipedeck.engine.errors import EngineError, ProjectError
from pipedeck.engine.events import RunFinished, RunsPruned
from pipedeck.engine.executor import RunExecutor
from pipedeck.engine.liveness import EngineLease, engine_alive
from pipedeck.engine.recovery import kill_run_processes, run_token
from pipedeck.engine.scheduler import StageGates
from pipedeck.engine.variables import Variables
from pipedeck.gitrepo import Commit, GitError
from pipedeck.store import (
    ApprovalRecord,
    PlannedAction,
    PlannedStage,
    RunDetail,
    RunRecord,
    Status,
    StoreError,
    space,
)
from pipedeck.store.retries import RetryError, RetryPlan

if TYPE_CHECKING:
    from pipedeck.engine.project import Project


log = logging.getLogger(__name__)


def plan(pipeline: Pipeline) -> list[PlannedStage]:
    """The stages and actions a new run of `pipeline` records, all queued."""
    return [
        PlannedStage(
            s.name,
            [
                PlannedAction(
                    a.name,
                    a.kind.value,
                    a.run_order,
                    pipeline.environment_of(s, a) if a.kind is ActionKind.DEPLOY else None,
                    a.group if a.expansion else None,
                    a.label if a.expansion else None,
                )
                for a in s.actions
            ],
        )
        for s in pipeline.stages
    ]


class Engine:
    def __init__(self, project: Project, settings: Settings | None = None) -> None:
        self.project = project
        self.settings = settings or Settings()
        self.bus = EventBus()
        self._lease = EngineLease(project.state_dir)
        self.gates = StageGates()
        self.spawning = asyncio.Lock()
        """Held while an action's process starts; see `RunContext.spawning`."""
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
        branch: str | None = None,
    ) -> RunRecord:
        """Record a new run of `pipeline` for `rev` and start it; returns at once.

        `branch` names the branch the run is of when the caller knows it (the watcher does);
        otherwise it is `rev` when that names a branch, or the checked-out one for HEAD.
        """
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
        if branch is None:
            branch = requests.branch_of(repo, rev)
        values = {**pipeline.variables, **(variables or {})}
        space.reserve(store.state_dir)  # freed when the disk fills, to record the end
        run = store.create_run(
            pipeline.name,
            plan(pipeline),
            commit=commit.sha,
            commit_subject=commit.subject,
            branch=branch,
            variables=values,
            trigger=trigger,
            engine_id=self.engine_id,
            definition=pipeline.source,
            definition_origin=self.project.origin_of(pipeline, commit.sha),
            definition_path=str(pipeline.path) if pipeline.path is not None else None,
        )
        self._launch(self._context(run, pipeline, commit), from_stage=0)
        return run

    async def retry(self, run: RunRecord, all_actions: bool = False) -> RunRecord:
        """Run a failed run again from its failed stage, keeping its number and artifacts.

        Only the failed actions of that stage run again (`all_actions`: all of them), then
        every later stage; each earlier attempt keeps its log.
        """
        store = self.project.store
        try:
            pipeline = self.project.pipeline(run.pipeline)
        except ProjectError as exc:
            raise EngineError(str(exc)) from None
        detail = store.detail(store.run_by_id(run.id))
        planned = [(s.stage.name, [a.action.name for a in s.actions]) for s in detail.stages]
        if planned != [(s.name, [a.name for a in s.actions]) for s in pipeline.stages]:
            raise EngineError(
                f"the stages or actions of {run.pipeline} changed since {run.key} ran;"
                " start a new run instead"
            )
        self._check_not_overtaken(detail)
        try:
            commit = self.project.repo.resolve(run.commit)
            plan = store.reset_for_retry(run, all_actions, self.engine_id)
        except (GitError, RetryError) as exc:
            raise EngineError(str(exc)) from None
        try:
            return await self._relaunch(run, pipeline, commit, plan)
        except BaseException as exc:
            # The run was reset to `queued`: it must not stay so with nothing running it.
            store.close_run(run.id, Status.FAILED, f"the retry could not start: {exc}")
            if isinstance(exc, OSError):
                raise EngineError(f"the retry of {run.key} could not start: {exc}") from None
            raise

    async def rollback(
        self,
        pipeline: Pipeline,
        stage: str,
        target: RunRecord | None = None,
        failed: RunRecord | None = None,
    ) -> RunRecord:
        """Start a run of kind `rollback` of `stage` with `target`'s commit, variables and
        artifacts (default target: see `rollback.default_target`); returns at once."""
        store = self.project.store
        if target is not None:
            target = store.run_by_id(target.id)
        chosen = rollback.plan(store, pipeline, stage, target, failed)
        aim = chosen.target
        try:
            commit = self.project.repo.resolve(aim.commit)
        except GitError as exc:
            raise EngineError(f"cannot roll back to {aim.key}: {exc}") from None
        space.reserve(store.state_dir)
        run = store.create_run(
            pipeline.name,
            plan(chosen.pipeline),
            commit=commit.sha,
            commit_subject=commit.subject,
            branch=aim.branch,
            variables=aim.variables,
            trigger=f"rollback to {aim.key}",
            engine_id=self.engine_id,
            definition=store.definition(aim.id) or pipeline.source,
            definition_origin=aim.definition_origin,
            definition_path=aim.definition_path,
            kind=rollback.ROLLBACK,
            rollback_of=aim.id,
        )
        ctx = self._context(run, chosen.pipeline, commit)
        self._seed(ctx, aim)
        self._launch(ctx, from_stage=0)
        return run

    async def _roll_back_on_failure(self, ctx: RunContext) -> None:
        """`on_failure: rollback`: a run that failed in such a stage rolls it back, once."""
        store = self.project.store
        run = store.run_by_id(ctx.run.id)
        if run.kind == rollback.ROLLBACK or run.status is not Status.FAILED:
            return
        failed = next(
            (s for s in store.detail(run).stages if s.stage.status is Status.FAILED), None
        )
        if failed is None:
            return
        rule = ctx.pipeline.stage(failed.stage.name).on_failure
        if rule is None or not rule.rollback:
            return
        try:
            back = await self.rollback(ctx.pipeline, failed.stage.name, failed=run)
        except EngineError as exc:
            note = f"{run.error}; not rolled back: {exc}"
        else:
            note = f"{run.error}; rolled back by {back.key}"
        store.set_run_status(run.id, Status.FAILED, error=note)

    async def _prune(self, pipeline: Pipeline) -> None:
        """Retention, after each run: the pipeline's runs beyond `retention.runs` lose
        their files (never a run a rollback may need; see `retention`)."""
        store = self.project.store
        try:
            plan = retention.plan_prune(store, lambda _: pipeline.retention.runs, pipeline.name)
            marked = retention.mark(store, plan)
            if not marked:
                return
            roots = {store.layout(p.run).root: p for p in marked}
            failed = await asyncio.to_thread(retention.remove, list(roots))
        except (OSError, StoreError) as exc:
            # Housekeeping: the run that just ended keeps its own status whatever happens.
            log.warning("retention of %s failed: %s", pipeline.name, exc)
            return
        self.bus.publish(
            RunsPruned(
                pipeline=pipeline.name,
                runs=[p.run.key for root, p in roots.items() if root not in failed],
                freed=sum(p.size for root, p in roots.items() if root not in failed),
                failed=[f"{roots[root].run.key}: {why}" for root, why in failed.items()],
            )
        )

    def _check_not_overtaken(self, detail: RunDetail) -> None:
        """CodePipeline retries only the newest run at a stage: retrying an older one would
        send an older commit after a newer one already went through."""
        stage = next(
            (s.stage for s in detail.stages if s.stage.status is not Status.SUCCEEDED), None
        )
        if stage is None:
            return
        store = self.project.store
        for newer in store.runs(detail.run.pipeline, limit=50):
            if newer.number <= detail.run.number:
                continue
            passed = any(
                s.stage.name == stage.name and s.stage.started_at
                for s in store.detail(newer).stages
            )
            if passed:
                raise EngineError(
                    f"{newer.key} already went through {stage.name};"
                    f" retrying {detail.run.key} would put an older commit after it"
                )

    async def _relaunch(
        self, run: RunRecord, pipeline: Pipeline, commit: Commit, plan: RetryPlan
    ) -> RunRecord:
        store = self.project.store
        for path in plan.stale_artifacts:
            await asyncio.to_thread(discard, path)
        run = store.run_by_id(run.id)
        self._launch(self._restored(run, pipeline, commit), from_stage=plan.stage_position)
        return run

    def _restored(self, run: RunRecord, pipeline: Pipeline, commit: Commit) -> RunContext:
        """A context for a run that already went part of the way (a retry, a take-up): what
        its earlier actions produced stays, artifacts and exported variables (a rollback's
        start from its target's)."""
        store = self.project.store
        if run.kind == rollback.ROLLBACK:
            names = [s.stage.name for s in store.detail(run).stages]
            pipeline = pipeline.model_copy(
                update={"stages": [s for s in pipeline.stages if s.name in names]}
            )
        ctx = self._context(run, pipeline, commit)
        if run.rollback_of is not None:
            self._seed(ctx, store.run_by_id(run.rollback_of))
        self._seed(ctx, run)
        return ctx

    def _seed(self, ctx: RunContext, run: RunRecord) -> None:
        """Give `ctx` what `run`'s actions produced: artifacts, and exported variables."""
        other = run.id != ctx.run.id
        layout = self.project.store.layout(run)
        for stage in self.project.store.detail(run).stages:
            for action in stage.actions:
                for name in action.artifacts:
                    ctx.artifacts[name] = layout.artifact(name)
                if action.action.status is not Status.SUCCEEDED:
                    continue
                if action.action.kind == ActionKind.SOURCE.value:
                    set_source_variables(ctx, action.action.name, action.artifacts)
                elif not other or action.action.output_variables:
                    ctx.variables.set_namespace(action.action.name, action.action.output_variables)

    # --- runs left idle by an engine that stopped ------------------------------------------

    def left_idle(self) -> list[RunRecord]:
        """Runs no living engine works on that wait for an approval or at a stage boundary,
        oldest first: the ones `take_up` carries on."""
        store = self.project.store
        return [
            run
            for run in store.active_runs()
            if run.id not in self._runs
            and not engine_alive(store.state_dir, run.engine_id)
            and store.idle(run.id)
        ]

    async def take_up_idle(self) -> list[RunRecord]:
        """Carry on every run left idle. Those inside a stage go first, so a run waiting at
        the stage's boundary finds it as it was (busy) and waits again."""
        idle = sorted(self.left_idle(), key=lambda r: (r.waiting_for is not None, r.id))
        taken = []
        for run in idle:
            if (record := await self.take_up(run)) is not None:
                taken.append(record)
        return taken

    async def take_up(self, run: RunRecord) -> RunRecord | None:
        """Carry on `run`, left waiting by an engine that stopped; None if another took it.

        It goes on with the pipeline file it started with, from the stage it waits in (or to
        enter): a decision made meanwhile finishes its approval at once, and an approval whose
        timeout passed while nobody watched ends `timed_out`.
        """
        store = self.project.store
        if not store.claim(run.id, self.engine_id, run.engine_id):
            return None
        run = store.run_by_id(run.id)
        if run.cancel_requested:  # nothing of it runs, so there is nothing to stop or wait for
            store.close_run(run.id, Status.CANCELLED, "cancelled")
            return store.run_by_id(run.id)
        try:
            pipeline = self._definition_of(run)
            commit = self.project.repo.resolve(run.commit)
        except (EngineError, GitError) as exc:
            store.close_run(run.id, Status.FAILED, f"could not be taken up again: {exc}")
            return store.run_by_id(run.id)
        detail = store.detail(run)
        from_stage = next(
            (i for i, s in enumerate(detail.stages) if s.stage.status is not Status.SUCCEEDED), 0
        )
        self._launch(self._restored(run, pipeline, commit), from_stage=from_stage)
        return run

    def _definition_of(self, run: RunRecord) -> Pipeline:
        pipeline = self._file_of(run)
        if run.kind != rollback.ROLLBACK:
            return pipeline
        # A rollback brings back an older file's stage, but obeys today's environment rules,
        # as it did when it started: an older file must not lift a gate added since.
        try:
            today = self.project.pipeline(run.pipeline)
        except ProjectError as exc:
            raise EngineError(
                f"a rollback obeys today's environment rules, and the file does not load: {exc}"
            ) from None
        return pipeline.model_copy(update={"environments": today.environments})

    def _file_of(self, run: RunRecord) -> Pipeline:
        source = self.project.store.definition(run.id)
        if source is None:  # a run recorded before runs kept their file
            try:
                return self.project.pipeline(run.pipeline)
            except ProjectError as exc:
                raise EngineError(str(exc)) from None
        if run.definition_path is not None:
            path = Path(run.definition_path)
        else:
            path = self.project.pipelines_dir / f"{run.pipeline}.yml"
        try:
            return load_source(path, source)
        except DefinitionError as exc:
            raise EngineError(f"the pipeline file it started with no longer loads: {exc}") from None

    def _context(self, run: RunRecord, pipeline: Pipeline, commit: Commit) -> RunContext:
        names = Variables()
        names.set_namespace("variables", run.variables)
        names.set_namespace(
            "pipeline",
            {
                "name": pipeline.name,
                "run": run.key,
                "number": str(run.number),
                "commit": commit.sha,
                "commit_short": commit.short,
                "branch": run.branch or "",
            },
        )
        store = self.project.store
        return RunContext(
            run=run,
            pipeline=pipeline,
            commit=commit,
            repo=self.project.repo,
            store=store,
            bus=self.bus,
            settings=self.settings,
            variables=names,
            token=run_token(store, run),
            spawning=self.spawning,
        )

    def _launch(self, ctx: RunContext, from_stage: int) -> None:
        run_id = ctx.run.id
        self._runs[run_id] = ctx
        task = asyncio.create_task(self._execute(ctx, from_stage))
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))

    async def _execute(self, ctx: RunContext, from_stage: int) -> RunRecord:
        """Run to the end; whatever goes wrong, the run ends with a final status."""
        try:
            await RunExecutor(ctx, self.gates, from_stage).execute()
            await self._roll_back_on_failure(ctx)
            await self._prune(ctx.pipeline)
        except asyncio.CancelledError:
            if ctx.parking:
                # Idle when the engine stopped: the run stays waiting for the next engine.
                self.project.store.release(ctx.run.id)
            else:
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

    async def wait_all(self) -> None:
        """Wait until no run of this engine is in progress (runs started meanwhile too)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def wait_working(self) -> None:
        """Wait until every run of this engine has ended or only waits (an approval, a stage
        boundary): what is left can be handed to the next engine by `close`."""
        while self.working():
            await asyncio.sleep(self.settings.poll_interval)

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

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
        email: str | None = None,
    ) -> ApprovalRecord:
        record = requests.approve(self.project.store, run, comment, by, action, email)
        self._wake(run)
        return record

    def reject(
        self,
        run: RunRecord,
        comment: str,
        by: str | None = None,
        action: str | None = None,
        email: str | None = None,
    ) -> ApprovalRecord:
        record = requests.reject(self.project.store, run, comment, by, action, email)
        self._wake(run)
        return record

    def cancel(self, run: RunRecord, wait: bool = False) -> None:
        """Stop the run: at once, or (`wait`) after its running actions finish."""
        requests.cancel(self.project.store, run, wait=wait)
        if (ctx := self._runs.get(run.id)) is not None:
            (ctx.stopping if wait else ctx.cancel).set()
            self.gates.wake(run.id)
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

    def working(self) -> list[RunRecord]:
        """This engine's runs that are doing something: an action runs, or is about to."""
        store = self.project.store
        return [store.run_by_id(i) for i in list(self._runs) if not store.idle(i)]

    async def close(self) -> list[RunRecord]:
        """Stop: runs that only wait are left waiting for the next engine (quitting never
        cancels an approval), the others are cancelled; returns the runs left waiting.

        Whether a run is idle is decided here, between two steps of the loop: a run is
        either suspended in its wait (and cancelling its task leaves it as it is) or at work.
        """
        left = []
        for ctx in list(self._runs.values()):
            task = self._tasks.get(ctx.run.id)
            if task is not None and self.project.store.idle(ctx.run.id):
                ctx.parking = True
                task.cancel()
                left.append(ctx.run)
            else:
                ctx.cancel.set()
                ctx.decision_arrived.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()))
        self._lease.release()
        return [self.project.store.run_by_id(run.id) for run in left]
