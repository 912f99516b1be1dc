"""A deploy's way out: its environment's rules before it starts, the ledger and tags after.

Before a deploy action's command runs, its environment is asked, in this order:
- `branches`: a run of another branch is refused, with the reason;
- `approval: required` (or as switched by `pipedeck environment set`): an approval earlier
  in the run counts when someone allowed to decide gave it; otherwise the deploy itself
  waits for a person, as an approval does (the same dialog, `pipedeck approve`);
- `wait_timer`: it holds that long;
- `window`: it holds until the deploy window is open.
While it holds or waits nothing runs, so the run is idle: an engine that stops leaves it for
the next one, which asks again from the start (a decision already made stays made).

Every deploy that starts is a ledger entry; one that succeeds moves the tag `pipedeck/<env>`
to its commit and leaves the immutable `pipedeck/<env>@<n>`. (`pipedeck/<env>/<n>` cannot
exist beside `pipedeck/<env>`: git keeps refs as paths.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import timedelta

from pipedeck.definition.model import Approval, Environment
from pipedeck.definition.windows import describe_opening, window_open, window_opens
from pipedeck.engine.actions import Outcome
from pipedeck.engine.actions.approval import ask, decided, gate_of
from pipedeck.engine.actions.base import write_log
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.manifest import artifact_digest
from pipedeck.engine.triggers import filter_accepts
from pipedeck.gitrepo import GitError
from pipedeck.gitrepo.refwatch import DEPLOY_TAG_PREFIX
from pipedeck.store import Status
from pipedeck.store.db import format_time, parse_time
from pipedeck.store.ledger import DeployStart


def release_tag(environment: str, sequence: int | None = None) -> str:
    """`pipedeck/production`, or the immutable `pipedeck/production@3`."""
    tag = f"{DEPLOY_TAG_PREFIX}{environment}"
    return tag if sequence is None else f"{tag}@{sequence}"


def approval_rule(ctx: RunContext, environment: str) -> Approval:
    """The file's rule, unless a person switched it (`pipedeck environment set`)."""
    setting = ctx.store.ledger.setting(environment)
    if setting is not None:
        return Approval(setting.approval)
    return ctx.pipeline.environment(environment).approval


async def admit(ctx: RunContext, job: ActionJob) -> tuple[Outcome | None, str | None]:
    """Ask the deploy's environment; returns (an outcome that ends the deploy here, or None
    to go on; who approved it, if someone did)."""
    environment = ctx.pipeline.environment_of(job.stage, job.action)
    rules = ctx.pipeline.environment(environment)
    branch = ctx.run.branch
    if rules.branches is not None and (
        branch is None or not filter_accepts(rules.branches, [branch])
    ):
        allowed = ", ".join(rules.branches.include) or "any branch"
        if rules.branches.exclude:
            allowed += f" (not {', '.join(rules.branches.exclude)})"
        of = f"of {branch}" if branch else "of no branch (a bare commit or a tag)"
        why = f"{environment} takes deploys only from {allowed}; this run is {of}"
        write_log(ctx, job, f"pipedeck: {why}\n")
        return Outcome(Status.FAILED, error=why), None
    approved_by = None
    if approval_rule(ctx, environment) is Approval.REQUIRED:
        approved_by = _approved_earlier(ctx, job, environment)
        if approved_by is None:
            timeout = job.action.timeout or ctx.settings.approval_timeout
            message = f"Deploy {ctx.commit.short} ({ctx.commit.subject}) to {environment}?"
            if ctx.run.kind == "rollback" and ctx.run.rollback_of is not None:
                back_to = ctx.store.run_by_id(ctx.run.rollback_of).key
                message = (
                    f"Roll {environment} back to {ctx.commit.short} ({ctx.commit.subject}),"
                    f" the release of {back_to}?"
                )
            write_log(ctx, job, f"pipedeck: {environment} requires approval before a deploy\n")
            gate = gate_of(ctx, environment)
            record = await ask(ctx, job, message, timeout, gate, template=False)
            outcome = decided(record, timeout)
            if outcome.status is not Status.SUCCEEDED:
                return outcome, None
            assert record is not None
            approved_by = record.decided_by
        else:
            write_log(ctx, job, f"pipedeck: approved for {environment} by {approved_by}\n")
    held = await _hold(ctx, job, rules)
    return held, approved_by


def _approved_earlier(ctx: RunContext, job: ActionJob, environment: str) -> str | None:
    """Who approved this run at an approval action before the deploy, if someone allowed
    to decide for `environment` did."""
    rules = ctx.pipeline.environment(environment)
    detail = ctx.store.detail(ctx.store.run_by_id(ctx.run.id))
    for stage_detail in detail.stages:
        for action in stage_detail.actions:
            if action.action.id == job.record.id:
                return None  # only what came before counts
            approval = action.approval
            if action.action.kind != "approval" or approval is None:
                continue
            if approval.result != "approved" or approval.decided_by is None:
                continue
            if rules.approvers and approval.decided_by not in rules.approvers:
                continue
            author = ctx.commit.email.strip().casefold()
            if rules.prevent_self_approval and (approval.decided_email or "").casefold() in (
                author,
                "",
            ):
                continue
            return approval.decided_by
    return None


async def _hold(ctx: RunContext, job: ActionJob, rules: Environment) -> Outcome | None:
    """Wait out the wait timer, then for the window; None when the deploy may start."""
    clock = ctx.settings.clock
    if rules.wait_timer:
        # An engine that takes the run up goes on with the deadline the first one set.
        kept = job.record.hold_until
        until = parse_time(kept) if kept else clock() + timedelta(seconds=rules.wait_timer)
        ctx.store.set_hold_until(job.record.id, format_time(until))
        local = until.astimezone().strftime("%H:%M:%S")
        note = f"waits {_span(rules.wait_timer)} (until {local})"
        if not await _wait(ctx, job, note, lambda: clock() >= until):
            return Outcome(Status.CANCELLED, error="cancelled")
    window = rules.window
    if window and not window_open(window, clock()):
        opening = window_opens(window, clock())
        if opening is None:
            return Outcome(Status.FAILED, error=f"the deploy window {window!r} never opens")
        note = f"waits for the deploy window (opens {describe_opening(opening, clock())})"
        if not await _wait(ctx, job, note, lambda: window_open(window, clock())):
            return Outcome(Status.CANCELLED, error="cancelled")
    return None


def _span(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


async def _wait(ctx: RunContext, job: ActionJob, note: str, ready: Callable[[], bool]) -> bool:
    """Hold the deploy, idle, until `ready()`; False if the run is stopped meanwhile."""
    store = ctx.store
    write_log(ctx, job, f"pipedeck: {note}\n")
    store.set_action_hold(job.record.id, note)
    store.set_action_status(job.record.id, Status.WAITING)
    store.set_run_status(ctx.run.id, Status.WAITING)
    # The note stays while the engine stops and parks the run (CancelledError): it says
    # why the run waits until the next engine takes it up and asks again.
    while not ready():
        if ctx.cancel.is_set() or ctx.stopping.is_set():
            write_log(ctx, job, "pipedeck: cancelled while holding the deploy\n")
            store.set_action_hold(job.record.id, None)
            return False
        ctx.decision_arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.decision_arrived.wait(), ctx.settings.poll_interval)
    store.set_action_hold(job.record.id, None)
    store.set_action_status(job.record.id, Status.RUNNING)
    if not store.waiting_approvals(ctx.run.id):
        store.set_run_status(ctx.run.id, Status.RUNNING)
    return True


def begin(ctx: RunContext, job: ActionJob, approved_by: str | None) -> int:
    """The ledger entry of a deploy about to run."""
    digests = {}
    for name in job.action.inputs:
        path = ctx.artifacts.get(name)
        if path is not None:
            digests[name] = artifact_digest(path)
    return ctx.store.ledger.begin(
        DeployStart(
            run_id=ctx.run.id,
            action_id=job.record.id,
            pipeline=ctx.run.pipeline,
            stage=job.stage.name,
            action=job.action.name,
            environment=ctx.pipeline.environment_of(job.stage, job.action),
            commit=ctx.commit.sha,
            commit_subject=ctx.commit.subject,
            artifacts=digests,
            approved_by=approved_by,
            rollback=ctx.run.kind == "rollback",
        )
    )


def finish(ctx: RunContext, job: ActionJob, entry: int, status: Status) -> None:
    """End the ledger entry; a success moves the environment's tag and leaves its own."""
    deployment = ctx.store.ledger.finish(entry, status)
    if status is not Status.SUCCEEDED:
        return
    environment = deployment.environment
    how = "Rolled back" if deployment.rollback else "Deployed"
    message = (
        f"{how} {environment} to {ctx.commit.short} by {ctx.run.key}"
        f" ({job.stage.name}/{job.action.name})"
        + (f", approved by {deployment.approved_by}" if deployment.approved_by else "")
    )
    try:
        ctx.repo.tag(release_tag(environment), ctx.commit.sha, message)
        ctx.repo.tag(
            release_tag(environment, deployment.sequence), ctx.commit.sha, message, force=False
        )
    except GitError as exc:
        write_log(ctx, job, f"pipedeck: could not tag the deployment: {exc}\n")
