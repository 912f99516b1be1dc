"""One run, start to end: stages in order, run-order groups in order, a group's actions at once.

This is the one place that turns what happened to an action — an outcome, or an exception —
into statuses in the store and events on the bus. When an action fails, its siblings already
running in the same group are left to finish (as CodePipeline does): their logs and results
are worth having. After the failing group only actions that run on failure (`when:
on_failure` or `always`) start; the rest is recorded `skipped`, and the run keeps its first
failure whatever they do. A cancel or a newer run overtaking this one stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import Counter

from pipedeck.definition.model import ActionKind, RetryMode, Stage, When
from pipedeck.engine import delivery, reports
from pipedeck.engine.actions import ActionFailure, Outcome, perform
from pipedeck.engine.actions.base import log_path, write_log
from pipedeck.engine.artifacts import ArtifactError, discard
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.events import (
    ActionFinished,
    ActionStarted,
    RunFinished,
    RunStarted,
    StageFinished,
    StageStarted,
)
from pipedeck.engine.scheduler import StageGates, StoppedWhileWaiting, Superseded
from pipedeck.engine.variables import VariableError
from pipedeck.gitrepo import GitError
from pipedeck.store import ActionRecord, StageDetail, Status, space
from pipedeck.store.space import DISK_FULL, is_disk_full

log = logging.getLogger(__name__)

# When actions of one stage end differently, the stage (and run) takes the first of these.
_PRECEDENCE = (Status.CANCELLED, Status.TIMED_OUT, Status.FAILED, Status.REJECTED)


def _runs_after_failure(stage: Stage, records: dict[str, ActionRecord]) -> bool:
    """Whether a stage entered after a failure has anything to do: an action that runs on
    failure, not yet ended."""
    return any(
        a.when is not When.ON_SUCCESS and records[a.name].status.active for a in stage.actions
    )


def _stage_status(outcomes: list[Status]) -> Status:
    for status in _PRECEDENCE:
        if status in outcomes:
            # A rejection fails the stage; its action keeps the `rejected` status.
            return Status.FAILED if status is Status.REJECTED else status
    return Status.SUCCEEDED


class RunExecutor:
    def __init__(self, ctx: RunContext, gates: StageGates, from_stage: int = 0) -> None:
        self.ctx = ctx
        self.gates = gates
        """The engine's stage gates, which every run of it enters and leaves."""
        self.from_stage = from_stage
        """A retry starts at its failed stage; the stages before it already succeeded."""
        self._entries: dict[int, int] = {}
        """Ledger entries of deploys under way, by action id."""
        self._failed_first: dict[str, str] = {}
        """Fail-fast groups (by name) that a copy failed in, and which copy."""
        self._stopped: set[int] = set()
        """Actions a failing sibling stopped (`fail_fast`): they count as failed, not as a
        cancel of the run."""

    async def execute(self) -> Status:
        ctx = self.ctx
        store, run = ctx.store, ctx.run
        watcher = asyncio.create_task(self._watch_cancel())
        detail = store.detail(run)
        final = Status.SUCCEEDED
        error: str | None = None
        started = False
        stopped = False
        """Cancelled or superseded: nothing more runs, not even what runs on failure."""
        try:
            for index, (stage, stage_detail) in enumerate(
                zip(ctx.pipeline.stages, detail.stages, strict=True)
            ):
                if index < self.from_stage:
                    continue
                records = {a.action.name: a.action for a in stage_detail.actions}
                failing = final is not Status.SUCCEEDED
                if stopped or (failing and not _runs_after_failure(stage, records)):
                    self._skip(stage_detail.stage.id, list(records.values()))
                    continue
                self._stop_requested()
                try:
                    await self.gates.enter(ctx, stage.name)
                except (Superseded, StoppedWhileWaiting) as exc:
                    if not failing:  # a run that failed keeps its first failure
                        superseded = isinstance(exc, Superseded)
                        final = Status.SUPERSEDED if superseded else Status.CANCELLED
                        error = str(exc) if superseded else "cancelled"
                    stopped = True
                    self._skip(stage_detail.stage.id, list(records.values()))
                    continue
                if not started:
                    started = True
                    store.set_run_status(run.id, Status.RUNNING)
                    ctx.publish(
                        RunStarted(**ctx.event_fields(), commit=run.commit, branch=run.branch)
                    )
                try:
                    stage_status, stage_error = await self._run_stage(
                        stage, stage_detail, records, failing
                    )
                    stage_status, stage_error = await self._retry_stage(
                        stage, stage_detail, stage_status, stage_error, failing
                    )
                finally:
                    self.gates.leave(ctx, stage.name)
                error = error or stage_error
                stopped = stage_status is Status.CANCELLED
                if final is Status.SUCCEEDED and stage_status is not Status.SKIPPED:
                    final = stage_status
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if final is Status.CANCELLED:
            error = "cancelled"
        store.set_run_status(run.id, final, error=error)
        ctx.publish(RunFinished(**ctx.event_fields(), status=final, error=error))
        return final

    async def _run_stage(
        self,
        stage: Stage,
        stage_detail: StageDetail,
        records: dict[str, ActionRecord],
        failing: bool,
    ) -> tuple[Status, str | None]:
        """Run the stage's groups in order; `failing`: an earlier stage failed, so only
        what runs on failure runs. Returns the stage's status and its first failure."""
        ctx, store = self.ctx, self.ctx.store
        store.set_stage_status(stage_detail.stage.id, Status.RUNNING)
        ctx.publish(StageStarted(**ctx.event_fields(), stage=stage.name))
        outcomes: list[Status] = []
        error: str | None = None
        stopped = False
        passed_over = False
        """Work of the stage not done because something before it failed."""
        for group in stage.groups():
            jobs = [ActionJob(stage, a, stage_detail.stage, records[a.name]) for a in group]
            if stopped or self._stop_requested():
                stopped = True
                self._skip(None, [j.record for j in jobs if j.record.status is Status.QUEUED])
                continue
            failed_before = failing or _stage_status(outcomes) is not Status.SUCCEEDED
            unwanted = [j for j in jobs if not j.action.when.runs(failed_before)]
            self._skip(None, [j.record for j in unwanted if j.record.status is Status.QUEUED])
            passed_over |= failed_before and any(j.action.when is When.ON_SUCCESS for j in unwanted)
            jobs = [j for j in jobs if j.action.when.runs(failed_before)]
            # Only what has not ended runs: a retry set what it re-runs back to `queued`, and
            # a run taken up again goes on with what still waits. What ended keeps its
            # result, and it counts for the stage (a rejection stays a rejection).
            ended = [
                (j, Outcome(j.record.status, error=j.record.error))
                for j in jobs
                if not j.record.status.active
            ]
            jobs = self._with_halts([j for j in jobs if j.record.status.active])
            halts = {j.halt for j in jobs if j.halt is not None}
            forward = asyncio.create_task(self._forward_cancel(halts)) if halts else None
            try:
                # A TaskGroup, not gather: if one action's bookkeeping fails, its siblings
                # are cancelled (and their processes ended) instead of running on unowned.
                async with asyncio.TaskGroup() as group_tasks:
                    tasks = [group_tasks.create_task(self._run_action(j)) for j in jobs]
            finally:
                if forward is not None:
                    forward.cancel()
            results = [*ended, *zip(jobs, (t.result() for t in tasks), strict=True)]
            outcomes += [
                Status.FAILED if j.record.id in self._stopped else o.status for j, o in results
            ]
            if error is None:
                failures = [
                    f"{j.stage.name}/{j.action.name}: {o.error}"
                    for j, o in sorted(results, key=lambda r: r[0].record.id in self._stopped)
                    if o.status not in (Status.SUCCEEDED, Status.SKIPPED)
                ]
                error = failures[0] if failures else None
        stage_status = _stage_status(outcomes)
        if stage_status is Status.SUCCEEDED and stopped:
            stage_status = Status.CANCELLED  # stopped before the stage's last group ran
        elif stage_status is Status.SUCCEEDED and passed_over:
            stage_status = Status.SKIPPED  # what ran was cleanup; the stage's work did not
        store.set_stage_status(stage_detail.stage.id, stage_status)
        ctx.publish(StageFinished(**ctx.event_fields(), stage=stage.name, status=stage_status))
        return stage_status, error

    async def _retry_stage(
        self,
        stage: Stage,
        stage_detail: StageDetail,
        status: Status,
        error: str | None,
        failing: bool,
    ) -> tuple[Status, str | None]:
        """`on_failure: {retry: …, attempts: N}`: run a stage that failed again, at most N
        times, while nobody stops the run. Each attempt's log is kept."""
        rule = stage.on_failure
        if rule is None or rule.retry is None or failing:
            return status, error
        ctx, store = self.ctx, self.ctx.store
        for attempt in range(rule.attempts):
            if status is not Status.FAILED or self._stop_requested():
                break
            stale = store.reset_stage(stage_detail.stage.id, rule.retry is RetryMode.ALL_ACTIONS)
            for path in stale:
                await asyncio.to_thread(discard, path)
            for name in [n for n, p in ctx.artifacts.items() if p in stale]:
                del ctx.artifacts[name]
            log.info(
                "%s: %s failed; attempt %d of its retries", ctx.run.key, stage.name, attempt + 1
            )
            fresh = next(
                s
                for s in store.detail(store.run_by_id(ctx.run.id)).stages
                if s.stage.id == stage_detail.stage.id
            )
            records = {a.action.name: a.action for a in fresh.actions}
            status, error = await self._run_stage(stage, fresh, records, failing)
        return status, error

    def _with_halts(self, jobs: list[ActionJob]) -> list[ActionJob]:
        """Copies of one fail-fast group share an event that stops them all."""
        halts: dict[str, asyncio.Event] = {}
        for job in jobs:  # what an earlier attempt of the stage said is over
            self._failed_first.pop(job.action.group, None)
            self._stopped.discard(job.record.id)
        return [
            dataclasses.replace(j, halt=halts.setdefault(j.action.group, asyncio.Event()))
            if j.action.stops_siblings
            else j
            for j in jobs
        ]

    async def _forward_cancel(self, halts: set[asyncio.Event]) -> None:
        """A cancel of the run stops the copies that listen to their group's event."""
        await self.ctx.cancel.wait()
        for halt in halts:
            halt.set()

    def _fail_fast(self, job: ActionJob, outcome: Outcome) -> Outcome:
        """The first copy of a fail-fast group to fail stops the others; they say why."""
        if job.halt is None or self.ctx.cancel.is_set():
            return outcome
        group = job.action.group
        if outcome.status is Status.CANCELLED and group in self._failed_first:
            self._stopped.add(job.record.id)
            why = f"stopped: {self._failed_first[group]} failed (fail_fast)"
            write_log(self.ctx, job, f"pipedeck: {why}\n")
            return dataclasses.replace(outcome, error=why)
        if outcome.status in (Status.FAILED, Status.TIMED_OUT):
            self._failed_first.setdefault(group, job.action.label)
            job.halt.set()
        return outcome

    def _skip(self, stage_id: int | None, records: list[ActionRecord]) -> None:
        if stage_id is not None:
            self.ctx.store.set_stage_status(stage_id, Status.SKIPPED)
        for record in records:
            if record.status.active:  # what already ended keeps its result
                self.ctx.store.set_action_status(record.id, Status.SKIPPED)

    async def _run_action(self, job: ActionJob) -> Outcome:
        ctx = self.ctx
        store = ctx.store
        path = log_path(ctx, job)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        store.set_action_log(job.record.id, path)
        if job.record.status is not Status.WAITING:
            # An approval taken up again keeps waiting: deciding needs it `waiting`, and
            # another shell may decide at any moment.
            store.set_action_status(job.record.id, Status.RUNNING)
        ctx.publish(
            ActionStarted(
                **ctx.event_fields(),
                stage=job.stage.name,
                action=job.action.name,
                kind=job.action.kind.value,
                log_path=str(path),
            )
        )
        try:
            outcome = await self._perform(job)
        except (ActionFailure, ArtifactError, VariableError, GitError, OSError) as exc:
            why = str(exc)
            if is_disk_full(exc):
                space.release(store.state_dir)  # room to record this end, and the run's
                why = DISK_FULL
            write_log(ctx, job, f"pipedeck: {why}\n")
            outcome = Outcome(Status.FAILED, error=why)
        except Exception as exc:  # a bug of ours must still end the action, not the run loop
            log.exception("action %s/%s crashed", job.stage.name, job.action.name)
            write_log(ctx, job, f"pipedeck: internal error: {exc!r}\n")
            outcome = Outcome(Status.FAILED, error=f"internal error: {exc!r}")
        outcome = self._fail_fast(job, outcome)
        if job.action.reports:
            await self._read_reports(job)
        for name in outcome.artifacts:
            artifact = ctx.layout.artifact(name)
            ctx.artifacts[name] = artifact
            store.add_artifact(ctx.run.id, job.record.id, name, artifact)
        if self._entries.get(job.record.id) is not None:
            delivery.finish(ctx, job, self._entries.pop(job.record.id), outcome.status)
        store.set_action_status(
            job.record.id, outcome.status, exit_code=outcome.exit_code, error=outcome.error
        )
        ctx.publish(
            ActionFinished(
                **ctx.event_fields(),
                stage=job.stage.name,
                action=job.action.name,
                status=outcome.status,
                exit_code=outcome.exit_code,
                error=outcome.error,
                artifacts=outcome.artifacts,
            )
        )
        return outcome

    async def _read_reports(self, job: ActionJob) -> None:
        """Keep and read the action's test reports, whatever its outcome; a report that
        cannot be read is said in the log and recorded, and changes nothing else."""
        ctx, stage, action = self.ctx, job.stage.name, job.action.name
        attempt = job.record.attempt
        try:
            found = await asyncio.to_thread(
                reports.collect,
                ctx.layout.work(stage, action),
                job.action.reports,
                ctx.layout.reports(stage, action, attempt),
            )
        except OSError as exc:
            write_log(ctx, job, f"pipedeck: the test reports could not be kept: {exc}\n")
            return
        ctx.store.results.record(
            ctx.run.id,
            job.record.id,
            attempt,
            [
                (c.report, c.suite, c.classname, c.name, c.duration, c.outcome, c.message)
                for c in found.cases
            ],
            found.problems,
        )
        for report, problem in found.problems:
            write_log(ctx, job, f"pipedeck: report {report}: {problem}\n")
        counts = Counter(c.outcome for c in found.cases)
        said = ", ".join(f"{counts[o]} {o}" for o in reports.OUTCOMES if counts[o])
        write_log(
            ctx, job, f"pipedeck: {len(found.cases)} tests in the reports: {said or 'none'}\n"
        )

    async def _perform(self, job: ActionJob) -> Outcome:
        """The action itself; a deploy first asks its environment, and is entered in the
        ledger once it may start."""
        ctx = self.ctx
        if job.action.kind is ActionKind.DEPLOY:
            refusal, approved_by = await delivery.admit(ctx, job)
            if refusal is not None:
                return refusal
            self._entries[job.record.id] = delivery.begin(ctx, job, approved_by)
        return await perform(ctx, job)

    def _stop_requested(self) -> bool:
        """Look in the store now, not at the next poll: a cancel recorded while the previous
        group ran must stop the next one from starting."""
        ctx = self.ctx
        mode = ctx.store.cancel_requested(ctx.run.id)
        if mode is not None:
            (ctx.cancel if mode == "now" else ctx.stopping).set()
        return ctx.cancel.is_set() or ctx.stopping.is_set()

    async def _watch_cancel(self) -> None:
        """Another process asks for a cancel by writing to the store; notice it here."""
        ctx = self.ctx
        while not ctx.cancel.is_set():
            mode = ctx.store.cancel_requested(ctx.run.id)
            if mode is not None:
                (ctx.cancel if mode == "now" else ctx.stopping).set()
                ctx.decision_arrived.set()
                self.gates.wake(ctx.run.id)
            await asyncio.sleep(ctx.settings.poll_interval)
