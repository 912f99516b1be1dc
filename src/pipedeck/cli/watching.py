"""`watch` and `retry`: being the engine that watches, or re-running a failed stage."""

from __future__ import annotations

import sys

import click

from pipedeck.cli.context import Options, fail
from pipedeck.engine import RepoLock, lock_holder
from pipedeck.store import Status


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.option("--poll", is_flag=True, help="Poll the refs instead of using file events.")
@click.pass_obj
def watch(opts: Options, as_json: bool, poll: bool) -> None:
    """Run pipelines as commits land, without the console (Ctrl-C stops).

    Prints each run starting and ending (action logs stay on disk: `pipedeck logs -f`).
    """
    import asyncio

    from pipedeck.cli.foreground import watch_in_foreground
    from pipedeck.engine import Engine

    project = opts.project()
    lock = RepoLock.acquire(project.state_dir, "watch")
    if lock is None:
        holder = lock_holder(project.state_dir) or "another process"
        fail(f"another engine already runs pipelines for this repository ({holder})")
    try:
        asyncio.run(watch_in_foreground(Engine(project), as_json, poll))
    finally:
        lock.release()


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
    import asyncio

    from pipedeck import engine
    from pipedeck.cli import handoff
    from pipedeck.cli.foreground import run_in_foreground

    run = opts.find_run(run_ref)
    project = opts.project()
    lock = handoff.engine_or_hand_over(
        project,
        "retry",
        lambda: engine.request_retry(project.store, run, all_actions),
        as_json,
    )
    try:
        result = asyncio.run(
            run_in_foreground(project, None, "", {}, as_json, retry=(run, all_actions))
        )
    finally:
        lock.release()
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)
