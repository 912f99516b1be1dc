"""`run`, `approve`, `reject`, `cancel`: starting runs and answering them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable

import click

from pipedeck.cli.context import Options, fail
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.definition.model import Pipeline
from pipedeck.engine import Engine, EngineError, RequestError, requests
from pipedeck.engine.events import Event
from pipedeck.engine.project import Project, ProjectError
from pipedeck.store import RunRecord, Status


def parse_vars(pairs: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            fail(f"--var {pair!r}: write it as NAME=VALUE")
        values[name] = value
    return values


async def run_in_foreground(
    project: Project,
    pipeline: Pipeline,
    rev: str,
    variables: dict[str, str],
    as_json: bool,
    on_event: Callable[[Engine, Event], None] | None = None,
) -> RunRecord:
    """Be the engine for one run; Ctrl-C cancels it (its processes end, its logs stay)."""
    engine = Engine(project)
    engine.bus.subscribe(JsonPrinter() if as_json else HumanPrinter())
    if on_event is not None:
        engine.bus.subscribe(lambda event: on_event(engine, event))
    try:
        run = await engine.start(pipeline, rev, variables)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, _cancel_once, engine, run)
        return await engine.wait(run)
    finally:
        await engine.close()


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
    """Run PIPELINE in the foreground; exit 0 if it succeeded, 1 otherwise."""
    project = opts.project()
    variables = parse_vars(var)
    try:
        definition = project.pipeline(pipeline)
        result = asyncio.run(run_in_foreground(project, definition, rev, variables, as_json))
    except (ProjectError, EngineError) as exc:
        fail(str(exc))
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("action", metavar="[STAGE/ACTION]", required=False)
@click.option("--comment", default=None, help="Why (recorded with the decision).")
@click.pass_obj
def approve(opts: Options, run_ref: str, action: str | None, comment: str | None) -> None:
    """Approve the approval RUN is waiting on (name it when several wait)."""
    run = opts.find_run(run_ref)
    try:
        record = requests.approve(opts.project().store, run, comment, action=action)
    except RequestError as exc:
        fail(str(exc))
    click.echo(f"{run.key}: approved by {record.decided_by}")


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.argument("action", metavar="[STAGE/ACTION]", required=False)
@click.option("--comment", required=True, help="The reason (required).")
@click.pass_obj
def reject(opts: Options, run_ref: str, action: str | None, comment: str) -> None:
    """Reject the approval RUN is waiting on; the run fails."""
    run = opts.find_run(run_ref)
    try:
        record = requests.reject(opts.project().store, run, comment, action=action)
    except RequestError as exc:
        fail(str(exc))
    click.echo(f"{run.key}: rejected by {record.decided_by}")


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--no-wait", is_flag=True, help="Return once the request is recorded.")
@click.pass_obj
def cancel(opts: Options, run_ref: str, no_wait: bool) -> None:
    """Cancel RUN: running actions are stopped, the rest skipped."""
    run = opts.find_run(run_ref)
    store = opts.project().store
    try:
        requests.cancel(store, run)
    except RequestError as exc:
        fail(str(exc))
    click.echo(f"{run.key}: cancel requested")
    if no_wait:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = store.run_by_id(run.id)
        if not current.status.active:
            click.echo(f"{run.key}: {current.status}")
            return
        time.sleep(0.1)
    fail(f"{run.key} is still stopping after 60s; see `pipedeck show {run.key}`")


COMMANDS = [run, approve, reject, cancel]
