"""One module per action kind; `perform` picks the one an action needs."""

from __future__ import annotations

from pipedeck.definition.model import ActionKind
from pipedeck.engine.actions.approval import run_approval
from pipedeck.engine.actions.base import ActionFailure, Outcome
from pipedeck.engine.actions.script import run_script_action
from pipedeck.engine.actions.source import run_source
from pipedeck.engine.context import ActionJob, RunContext


async def perform(ctx: RunContext, job: ActionJob) -> Outcome:
    if job.action.kind is ActionKind.SOURCE:
        return await run_source(ctx, job)
    if job.action.kind is ActionKind.APPROVAL:
        return await run_approval(ctx, job)
    return await run_script_action(ctx, job)


__all__ = ["ActionFailure", "Outcome", "perform"]
