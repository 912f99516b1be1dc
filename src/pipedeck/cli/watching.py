"""`watch`, `retry`, `transition`: the engine that watches, and steering the runs it owns."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys

import click

from pipedeck.cli import handoff
from pipedeck.cli.context import Options, fail, say
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.cli.running import run_in_foreground, say_left_waiting
from pipedeck.engine import Engine, EngineError, RequestError, requests
from pipedeck.engine.liveness import RepoLock, lock_holder
from pipedeck.engine.project import ProjectError
from pipedeck.engine.service import EngineService
from pipedeck.store import Status


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.option("--poll", is_flag=True, help="Poll the refs instead of using file events.")
@click.pass_obj
def watch(opts: Options, as_json: bool, poll: bool) -> None:
    """Run pipelines as commits land, without the console (Ctrl-C stops).

    Prints each run starting and ending (action logs stay on disk: `pipedeck logs -f`).
    """
    project = opts.project()
    lock = RepoLock.acquire(project.state_dir, "watch")
    if lock is None:
        holder = lock_holder(project.state_dir) or "another process"
        fail(f"another engine already runs pipelines for this repository ({holder})")
    try:
        asyncio.run(_watch(Engine(project), as_json, poll))
    finally:
        lock.release()


async def _watch(engine: Engine, as_json: bool, poll: bool) -> None:
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
        say_left_waiting(await engine.close())


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--all", "all_actions", is_flag=True, help="Re-run every action of the stage.")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.pass_obj
def retry(opts: Options, run_ref: str, all_actions: bool, as_json: bool) -> None:
    """Re-run the failed actions of RUN's failed stage, then the stages after it.

    The run keeps its number and the artifacts already produced; every attempt's log is
    kept. Exit 0 if the run then succeeds.
    """
    run = opts.find_run(run_ref)
    project = opts.project()
    lock = handoff.engine_or_hand_over(
        project,
        "retry",
        lambda: requests.request_retry(project.store, run, all_actions),
        as_json,
    )
    try:
        result = asyncio.run(
            run_in_foreground(project, None, "", {}, as_json, retry=(run, all_actions))
        )
    except (ProjectError, EngineError) as exc:
        fail(str(exc))
    finally:
        lock.release()
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)


@click.group()
def transition() -> None:
    """Hold runs before a stage (disable) or let them go on (enable)."""


def _stage_of(opts: Options, pipeline: str, stage: str) -> None:
    try:
        definition = opts.project().pipeline(pipeline)
    except ProjectError as exc:
        fail(str(exc))
    names = [s.name for s in definition.stages]
    if stage not in names:
        fail(f"{pipeline} has no stage {stage!r} (stages: {', '.join(names)})")
    if stage == names[0]:
        fail(f"{stage} is the first stage of {pipeline}; there is no transition into it")


@transition.command()
@click.argument("pipeline")
@click.argument("stage")
@click.option("--reason", required=True, help="Why (shown where runs wait).")
@click.pass_obj
def disable(opts: Options, pipeline: str, stage: str, reason: str) -> None:
    """Stop runs of PIPELINE before STAGE until the transition is enabled."""
    _stage_of(opts, pipeline, stage)
    try:
        requests.disable_transition(opts.project().store, pipeline, stage, reason)
    except RequestError as exc:
        fail(str(exc))
    say(f"{pipeline}: transition into {stage} disabled ({reason})")


@transition.command()
@click.argument("pipeline")
@click.argument("stage")
@click.pass_obj
def enable(opts: Options, pipeline: str, stage: str) -> None:
    """Let runs of PIPELINE into STAGE again; the newest waiting run goes on."""
    _stage_of(opts, pipeline, stage)
    if not requests.enable_transition(opts.project().store, pipeline, stage):
        say(f"{pipeline}: transition into {stage} was not disabled")
        return
    say(f"{pipeline}: transition into {stage} enabled")


@transition.command(name="list")
@click.argument("pipeline", required=False)
@click.pass_obj
def list_transitions(opts: Options, pipeline: str | None) -> None:
    """Disabled transitions (of PIPELINE, or of every pipeline)."""
    disabled = opts.project().store.transitions.listed(pipeline)
    for t in disabled:
        say(
            f"{t.pipeline}: into {t.stage} disabled by {t.disabled_by} at {t.disabled_at}:"
            f" {t.reason}"
        )
    if not disabled:
        say("no disabled transitions")


COMMANDS = [watch, retry, transition]
