"""Being the engine for a run in the foreground: `pipedeck run`, and `approve` or `reject`
carrying on a run nobody else runs. Imported only by the commands that do run pipelines."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from pipedeck.cli.context import say_left_waiting
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.definition import Pipeline
from pipedeck.engine import Engine, EngineError, EngineService, Event, Project, RunEvent, RunsPruned
from pipedeck.store import RunRecord


async def run_in_foreground(
    project: Project,
    pipeline: Pipeline | None,
    rev: str,
    variables: dict[str, str],
    as_json: bool,
    on_event: Callable[[Engine, Event], None] | None = None,
    retry: tuple[RunRecord, bool] | None = None,
    take_up: RunRecord | None = None,
    begin: Callable[[Engine], Awaitable[RunRecord]] | None = None,
) -> RunRecord:
    """Be the engine for one run (or one retry, a rollback `begin` starts, or a run taken
    up again after its engine stopped); Ctrl-C cancels it (its logs stay).

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
        # Its own run's events, and what retention did after it (or could not do).
        lambda e: (
            printer(e)
            if (isinstance(e, RunEvent) and e.run_id in mine) or isinstance(e, RunsPruned)
            else None
        )
    )
    if on_event is not None:
        engine.bus.subscribe(lambda event: on_event(engine, event))
    # Only its own run: runs another engine left waiting are for a console or `watch`.
    service = asyncio.create_task(EngineService(engine, watch=False, take_up=False).serve())
    loop = asyncio.get_running_loop()
    try:
        if begin is not None:
            run = await begin(engine)
        elif retry is not None:
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
        say_left_waiting(await engine.close(), engine.project.store)


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


async def watch_in_foreground(engine: Engine, as_json: bool, poll: bool) -> None:
    engine.bus.subscribe(JsonPrinter() if as_json else HumanPrinter(), logs=False)
    serving = asyncio.create_task(EngineService(engine, force_polling=poll).serve())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, serving.cancel)
    try:
        with contextlib.suppress(asyncio.CancelledError):
            await serving
    finally:
        if engine.working():
            print("pipedeck: stopping; cancelling the runs at work", file=sys.stderr)
        say_left_waiting(await engine.close(), engine.project.store)
