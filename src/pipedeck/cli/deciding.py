"""`approve`, `reject`, `cancel`: answering a run from any shell.

Recording a decision reads and writes the store only; when no engine runs the repository the
run is carried on here, and only then is the engine loaded (`foreground`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click

from pipedeck import engine
from pipedeck.cli.context import Options, fail, say
from pipedeck.engine import RepoLock, RequestError, engine_alive, lock_holder
from pipedeck.store import ApprovalRecord, RunRecord, Status, Store


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("action", metavar="[STAGE/ACTION]", required=False)
@click.option("--comment", default=None, help="Why (recorded with the decision).")
@click.pass_obj
def approve(opts: Options, run_ref: str, action: str | None, comment: str | None) -> None:
    """Approve the approval RUN is waiting on (name it when several wait).

    With no console or `pipedeck watch` running, the rest of the run is carried on here,
    printed as `pipedeck run` prints it; the exit code is the run's.
    """
    run = opts.find_run(run_ref)
    _decide(
        opts,
        run,
        lambda store, email: engine.approve(store, run, comment, action=action, email=email),
    )


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("action", metavar="[STAGE/ACTION]", required=False)
@click.option("--comment", required=True, help="The reason (required).")
@click.pass_obj
def reject(opts: Options, run_ref: str, action: str | None, comment: str) -> None:
    """Reject the approval RUN is waiting on; the run fails.

    With no console or `pipedeck watch` running, the run is ended here (exit code 1).
    """
    run = opts.find_run(run_ref)
    _decide(
        opts,
        run,
        lambda store, email: engine.reject(store, run, comment, action=action, email=email),
    )


def _decide(
    opts: Options, run: RunRecord, decide: Callable[[Store, str | None], ApprovalRecord]
) -> None:
    """Record a decision; with no engine running, be the engine that carries the run on."""
    client = opts.client()
    store = client.store
    # Taken before deciding, so no engine can start between the decision and the take-up.
    lock = RepoLock.acquire(client.state_dir, "approve")
    try:
        refused: str | None = None
        try:
            record = decide(store, opts.user_email())
        except RequestError as exc:
            refused = str(exc)
        else:
            say(f"{run.key}: {record.result} by {record.decided_by}")
        current = store.run_by_id(run.id)
        left_idle = (
            lock is not None
            and current.status.active
            and store.idle(current.id)
            and not engine_alive(store.state_dir, current.engine_id)
        )
        # Nobody runs it: carry it on here once decided — or, refused because its approval
        # expired while nobody watched, so that it ends `timed_out`. Any other refusal (a
        # wrong name, a decision from inside a run) changes nothing, so nothing is carried.
        if not left_idle or (refused is not None and not store.expired(current.id)):
            if refused:
                fail(refused)
            return
        result = _carry_on(opts, current)
    finally:
        if lock is not None:
            lock.release()
    if refused:
        fail(refused)
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--wait",
    "let_finish",
    is_flag=True,
    help="Let running actions finish; stop before the next group.",
)
@click.option("--detach", is_flag=True, help="Return once the request is recorded.")
@click.pass_obj
def cancel(opts: Options, run_ref: str, let_finish: bool, detach: bool) -> None:
    """Stop RUN at once: running actions are ended, the rest skipped.

    With --wait, running actions finish first (a waiting approval does not hold it up).
    """
    run = opts.find_run(run_ref)
    client = opts.client()
    store = client.store
    engine.cancel(store, run, wait=let_finish)
    how = "once its running actions finish" if let_finish else "now"
    say(f"{run.key}: cancel requested ({how})")
    lock = RepoLock.acquire(client.state_dir, "cancel")
    if lock is not None:
        # No engine runs: a run left waiting has nothing to stop, so it ends here.
        try:
            current = store.run_by_id(run.id)
            if current.status.active and not engine_alive(store.state_dir, current.engine_id):
                store.close_run(run.id, Status.CANCELLED, "cancelled")
                say(f"{run.key}: {Status.CANCELLED.look.words}")
                return
        finally:
            lock.release()
    if detach:
        return
    while True:
        current = store.run_by_id(run.id)
        if not current.status.active:
            say(f"{run.key}: {current.status.look.words}")
            return
        # A run left waiting is taken up by the repository's engine within a second or so.
        running = engine_alive(store.state_dir, current.engine_id)
        if not running and lock_holder(client.state_dir) is None:
            fail(f"{run.key} has no engine running it; `pipedeck show {run.key}` for its state")
        time.sleep(0.1)


def _carry_on(opts: Options, run: RunRecord) -> RunRecord:
    """Be the engine for the rest of `run`: the one path of these commands that runs actions."""
    import asyncio

    from pipedeck.cli.foreground import run_in_foreground

    return asyncio.run(run_in_foreground(opts.project(), None, "", {}, False, take_up=run))
