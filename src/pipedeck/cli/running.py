"""`run`, `approve`, `reject`, `cancel`: starting runs and answering them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable

import click

from pipedeck.cli import handoff
from pipedeck.cli.context import Options, fail, say
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.definition.model import Pipeline
from pipedeck.definition.rules import RESERVED_PREFIX
from pipedeck.engine import Engine, EngineError, RequestError, requests
from pipedeck.engine.events import Event, RunEvent
from pipedeck.engine.liveness import RepoLock, engine_alive, lock_holder
from pipedeck.engine.project import Project, ProjectError
from pipedeck.engine.service import EngineService
from pipedeck.store import ApprovalRecord, RunRecord, Status, Store
from pipedeck.store.control import Request


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"--var {pair!r}: write it as NAME=VALUE")
        if name.startswith(RESERVED_PREFIX):
            fail(f"--var {name!r}: {RESERVED_PREFIX}* names are pipedeck's and cannot be set")
        values[name] = value
    return values


async def run_in_foreground(
    project: Project,
    pipeline: Pipeline | None,
    rev: str,
    variables: dict[str, str],
    as_json: bool,
    on_event: Callable[[Engine, Event], None] | None = None,
    retry: tuple[RunRecord, bool] | None = None,
    take_up: RunRecord | None = None,
) -> RunRecord:
    """Be the engine for one run (or one retry, or a run taken up again after its engine
    stopped); Ctrl-C cancels it (its logs stay).

    While it runs, it also carries out what other clients ask of the repository (a
    `pipedeck run` in another shell is handed here; that shell prints it, not this one).
    Once its own run ends it takes no more, and waits for the ones it took to end or to
    wait for a person (those are left waiting for the next engine) — a Ctrl-C then cancels
    them.
    """
    engine = Engine(project)
    printer = JsonPrinter() if as_json else HumanPrinter()
    mine: set[int] = set()
    engine.bus.subscribe(
        lambda e: printer(e) if isinstance(e, RunEvent) and e.run_id in mine else None
    )
    if on_event is not None:
        engine.bus.subscribe(lambda event: on_event(engine, event))
    # Only its own run: runs another engine left waiting are for a console or `watch`.
    service = asyncio.create_task(EngineService(engine, watch=False, take_up=False).serve())
    loop = asyncio.get_running_loop()
    try:
        if retry is not None:
            run = await engine.retry(*retry)
        elif take_up is not None:
            taken = await engine.take_up(take_up)
            if taken is None:
                raise EngineError(f"another engine took {take_up.key} up first")
            run = taken
        else:
            assert pipeline is not None
            run = await engine.start(pipeline, rev, variables)
        mine.add(run.id)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, _cancel_once, engine, run)
        result = await engine.wait(run)
        service.cancel()
        if engine.working():
            print(
                "pipedeck: waiting for the runs taken for other shells (Ctrl-C cancels them)",
                file=sys.stderr,
            )
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(engine.close()))
            await engine.wait_working()
        return result
    finally:
        service.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await service
        say_left_waiting(await engine.close())


def say_left_waiting(runs: list[RunRecord]) -> None:
    """Runs an engine leaves waiting when it stops, and how to carry them on."""
    for run in runs:
        what = "an approval" if run.status is Status.WAITING else run.waiting_for
        say(
            f"pipedeck: {run.key} stays waiting for {what};"
            " the next console or `pipedeck watch` takes it up"
            + (f" (or `pipedeck approve {run.key}`)" if run.status is Status.WAITING else ""),
            err=True,
        )


def _cancel_once(engine: Engine, run: RunRecord) -> None:
    """First Ctrl-C: cancel gracefully. Second: end the run's processes now and leave."""
    current = engine.project.store.run_by_id(run.id)
    if not current.status.active:
        return
    if not current.cancel_requested:
        print("\npipedeck: cancelling… (again to stop at once)", file=sys.stderr)
        engine.cancel(current)
        return
    print("\npipedeck: stopping at once", file=sys.stderr)
    engine.abandon(current)
    os._exit(130)


@click.command()
@click.argument("pipeline")
@click.option("--commit", "rev", default="HEAD", show_default=True, help="Revision to run.")
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE", help="Override a variable.")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.pass_obj
def run(opts: Options, pipeline: str, rev: str, var: tuple[str, ...], as_json: bool) -> None:
    """Run PIPELINE in the foreground; exit 0 if it succeeded, 1 otherwise.

    When a console or `pipedeck watch` already runs pipelines for the repository, the run
    is handed to it and followed from here.
    """
    project = opts.project()
    variables = parse_vars(var)

    def submit() -> Request:
        try:
            return requests.request_start(project, pipeline, rev, variables)
        except RequestError as exc:
            fail(str(exc))

    lock = handoff.engine_or_hand_over(project, "run", submit, as_json)
    try:
        definition = project.pipeline_for(pipeline, rev)
        result = asyncio.run(run_in_foreground(project, definition, rev, variables, as_json))
    except (ProjectError, EngineError) as exc:
        fail(str(exc))
    finally:
        lock.release()
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)


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
        lambda store, email: requests.approve(store, run, comment, action=action, email=email),
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
        lambda store, email: requests.reject(store, run, comment, action=action, email=email),
    )


def _decide(
    opts: Options, run: RunRecord, decide: Callable[[Store, str | None], ApprovalRecord]
) -> None:
    """Record a decision; with no engine running, be the engine that carries the run on."""
    project = opts.project()
    store = project.store
    # Taken before deciding, so no engine can start between the decision and the take-up.
    lock = RepoLock.acquire(project.state_dir, "approve")
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
        try:
            result = asyncio.run(run_in_foreground(project, None, "", {}, False, take_up=current))
        except EngineError as exc:
            fail(str(exc))
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
    project = opts.project()
    store = project.store
    try:
        requests.cancel(store, run, wait=let_finish)
    except RequestError as exc:
        fail(str(exc))
    how = "once its running actions finish" if let_finish else "now"
    say(f"{run.key}: cancel requested ({how})")
    lock = RepoLock.acquire(project.state_dir, "cancel")
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
        if not running and lock_holder(project.state_dir) is None:
            fail(f"{run.key} has no engine running it; `pipedeck show {run.key}` for its state")
        time.sleep(0.1)


COMMANDS = [run, approve, reject, cancel]
