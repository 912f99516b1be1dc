"""`approval`: pause the run until someone decides, or the approval times out.

The decision may come from this process (the console calls `Engine.approve`) or from any
other (`pipedeck approve` writes it to the store). Either way it lands in the store first, and
this waiter reads it from there; a timeout is recorded through the same conditional update,
so whichever comes first wins and the other is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipedeck.definition.model import ActionKind
from pipedeck.engine.actions.base import Outcome, write_log
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.events import ApprovalDecided, ApprovalRequested
from pipedeck.store import ApprovalRecord, Status, StoreError
from pipedeck.store.db import format_time, parse_time

SYSTEM_USER = "pipedeck"


@dataclass(frozen=True, slots=True)
class Gate:
    """Who may decide an approval: the rules of the environment it guards, if any."""

    environment: str | None = None
    approvers: tuple[str, ...] | None = None
    author_email: str | None = None


async def run_approval(ctx: RunContext, job: ActionJob) -> Outcome:
    action = job.action
    timeout = action.timeout or ctx.settings.approval_timeout
    default = f"Approve {job.stage.name}/{action.name}?"
    record = await ask(ctx, job, action.message or default, timeout, guarding(ctx, job))
    return decided(record, timeout)


def decided(record: ApprovalRecord | None, timeout: float) -> Outcome:
    """The outcome of an approval: None is a run stopped while it waited."""
    if record is None:
        return Outcome(Status.CANCELLED, error="cancelled")
    said = f": {record.comment}" if record.comment else ""
    if record.result == "approved":
        return Outcome(Status.SUCCEEDED)
    if record.result == "timed_out":
        return Outcome(Status.TIMED_OUT, error=f"no decision within {timeout:g}s")
    return Outcome(Status.REJECTED, error=f"rejected by {record.decided_by}{said}")


def guarding(ctx: RunContext, job: ActionJob) -> Gate:
    """An approval action guards the next deploy after it: that environment's rules say
    who may decide it."""
    pipeline = ctx.pipeline
    later = False
    for stage in pipeline.stages:
        for action in sorted(stage.actions, key=lambda a: a.run_order):
            if stage is job.stage and action is job.action:
                later = True
                continue
            after = later and (stage is not job.stage or action.run_order > job.action.run_order)
            if after and action.kind is ActionKind.DEPLOY:
                return gate_of(ctx, pipeline.environment_of(stage, action))
    return Gate()


def gate_of(ctx: RunContext, environment: str) -> Gate:
    rules = ctx.pipeline.environment(environment)
    return Gate(
        environment=environment,
        approvers=tuple(rules.approvers) or None,
        author_email=ctx.commit.email if rules.prevent_self_approval else None,
    )


async def ask(
    ctx: RunContext,
    job: ActionJob,
    message: str,
    timeout: float,
    gate: Gate,
    *,
    template: bool = True,
) -> ApprovalRecord | None:
    """Open an approval on the job's action (or find the one it has, when the run is taken
    up again) and wait for its decision; None if the run is stopped meanwhile.

    `template`: `message` is the pipeline file's, with `#{...}` references to resolve; a
    message made of commit text is not, and is kept as written."""
    action = job.action
    approval = ctx.store.approval(job.record.id) if job.record.status is Status.WAITING else None
    if approval is not None:
        # Taken up again after the engine that asked stopped: the same approval, the same
        # deadline, and any decision made meanwhile.
        message = approval.message
        expires_at = approval.expires_at or format_time(
            datetime.now(UTC) + timedelta(seconds=timeout)
        )
        write_log(ctx, job, "pipedeck: taken up again, still waiting for approval\n")
    else:
        message = ctx.variables.resolve(message) if template else message
        expires_at = format_time(datetime.now(UTC) + timedelta(seconds=timeout))
        ctx.store.open_approval(
            job.record.id,
            ctx.run.id,
            message,
            expires_at,
            environment=gate.environment,
            approvers=gate.approvers,
            author_email=gate.author_email,
        )
        ctx.store.set_action_status(job.record.id, Status.WAITING)
        write_log(ctx, job, f"Waiting for approval: {message}\n")
        if gate.approvers:
            write_log(ctx, job, f"pipedeck: only {', '.join(gate.approvers)} may decide\n")
    ctx.store.set_run_status(ctx.run.id, Status.WAITING)
    if approval is None or approval.result is None:  # decided meanwhile: nobody is asked
        ctx.publish(
            ApprovalRequested(
                **ctx.event_fields(),
                stage=job.stage.name,
                action=action.name,
                message=message,
                expires_at=expires_at,
            )
        )
    left = (parse_time(expires_at) - datetime.now(UTC)).total_seconds()
    record = await _wait_for_decision(ctx, job, left)
    if record is None:
        write_log(ctx, job, "pipedeck: cancelled while waiting for approval\n")
        return None
    assert record.result is not None
    ctx.store.set_action_status(job.record.id, Status.RUNNING)
    if not ctx.store.waiting_approvals(ctx.run.id):
        ctx.store.set_run_status(ctx.run.id, Status.RUNNING)
    ctx.publish(
        ApprovalDecided(
            **ctx.event_fields(),
            stage=job.stage.name,
            action=action.name,
            result=record.result,
            by=record.decided_by,
            comment=record.comment,
        )
    )
    said = f": {record.comment}" if record.comment else ""
    write_log(ctx, job, f"{record.result} by {record.decided_by} at {record.decided_at}{said}\n")
    return record


async def _wait_for_decision(ctx: RunContext, job: ActionJob, left: float) -> ApprovalRecord | None:
    """The decision, within `left` seconds (none left: it times out now); None if the run
    is stopped meanwhile."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + left
    while True:
        record = ctx.store.approval(job.record.id)
        if record.result is not None:
            return record
        # Even a cancel that lets running actions finish does not wait days for a person.
        if ctx.cancel.is_set() or ctx.stopping.is_set():
            return None
        remaining = deadline - loop.time()
        if remaining <= 0:
            try:
                run = ctx.store.run_by_id(ctx.run.id)
                return ctx.store.decide(
                    run, "timed_out", SYSTEM_USER, None, action_id=job.record.id
                )
            except StoreError:
                continue  # someone decided in the same instant; read their decision
        ctx.decision_arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                ctx.decision_arrived.wait(), min(ctx.settings.poll_interval, remaining)
            )
