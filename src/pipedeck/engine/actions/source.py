"""`source`: export the run's commit — the committed tree, never the working tree."""

from __future__ import annotations

import asyncio

from pipedeck.engine.actions.base import ActionFailure, Outcome, write_log
from pipedeck.engine.artifacts import ArtifactError, remove_tree, seal
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.store import Status


def _export_sealed(ctx: RunContext, sha: str, name: str) -> None:
    staging = ctx.layout.staging(name)
    remove_tree(staging)
    ctx.repo.export(sha, staging)
    seal(staging, ctx.layout.artifact(name))


def set_source_variables(ctx: RunContext, action: str, artifacts: list[str]) -> None:
    """`#{action.commit}`, `#{artifact.commit}`…: all derived from the run's commit, so a
    retry sets them again the same way instead of storing them."""
    commit = ctx.commit
    values = {
        "commit": commit.sha,
        "commit_short": commit.short,
        "branch": ctx.run.branch or "",
        "subject": commit.subject,
        "author": commit.author,
    }
    for namespace in (action, *artifacts):
        ctx.variables.set_namespace(namespace, values)


async def run_source(ctx: RunContext, job: ActionJob) -> Outcome:
    commit = ctx.commit
    produced: list[str] = []
    for output in job.action.outputs:
        write_log(ctx, job, f"Exporting {commit.short} {commit.subject!r} into '{output.name}'\n")
        # Export is I/O bound; keep the event loop free for the other actions' logs.
        try:
            await asyncio.to_thread(_export_sealed, ctx, commit.sha, output.name)
        except ArtifactError as exc:
            raise ActionFailure(str(exc)) from None
        produced.append(output.name)
    set_source_variables(ctx, job.action.name, produced)
    write_log(ctx, job, f"Exported {commit.sha} by {commit.author}\n")
    return Outcome(Status.SUCCEEDED, artifacts=tuple(produced))
