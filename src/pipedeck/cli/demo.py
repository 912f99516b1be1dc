"""`demo`: make a sample application repository and run its pipeline."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipedeck.cli.console import open_console
from pipedeck.cli.context import Options, fail, say
from pipedeck.engine import RepoLock, RequestError, TrustError, TrustStore, digest_of, lock_holder
from pipedeck.store import Status

if TYPE_CHECKING:
    from pipedeck.engine import Engine, Event


def _auto_approve(engine: Engine, event: Event) -> None:
    from pipedeck.engine import ApprovalRequested

    if isinstance(event, ApprovalRequested):
        run = engine.project.store.run_by_id(event.run_id)
        try:
            engine.approve(run, "approved by pipedeck demo --approve")
        except RequestError as exc:
            say(f"pipedeck: {exc}", err=True)


def _trust_sample(root: Path) -> None:
    """Trust the sample's pipeline files, but only with the content the demo wrote: a file
    edited in a reused directory is left for the user to review."""
    from pipedeck.demo.sample import HISTORY

    store = TrustStore()
    final = {name: text for _, files in HISTORY for name, text in files.items()}
    for name, text in final.items():
        if not name.startswith("pipelines/"):
            continue
        try:
            store.trust_digest(root / name, digest_of(text.encode()))
        except (TrustError, OSError) as exc:
            say(f"pipedeck: {exc} (see `pipedeck trust`)", err=True)


@click.command()
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("pipedeck-demo")
)
@click.option(
    "--approve", "auto_approve", is_flag=True, help="Approve the production gate at once."
)
@click.option(
    "--headless",
    is_flag=True,
    help="Run without the console (the default when not in a terminal).",
)
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.pass_obj
def demo(opts: Options, directory: Path, auto_approve: bool, headless: bool, as_json: bool) -> None:
    """Create a sample app repository in DIRECTORY and run its pipeline in the console."""
    import asyncio

    from pipedeck.cli.foreground import run_in_foreground
    from pipedeck.demo import DEMO_PIPELINE, create_demo_repo
    from pipedeck.engine import Project

    try:
        repo = create_demo_repo(directory)
    except FileExistsError as exc:
        fail(str(exc))
    _trust_sample(repo.root)
    project = Project.open(repo.root, opts.state_dir)
    pipeline = project.pipeline(DEMO_PIPELINE)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if not (headless or auto_approve or as_json) and interactive:
        project.close()
        open_console(Options(repo=repo.root, state_dir=opts.state_dir), DEMO_PIPELINE)
    say(f"pipedeck: sample repository in {repo.root}", err=True)
    if not auto_approve:
        say(
            f"pipedeck: when production waits for approval, answer from another shell:\n"
            f"    uv run pipedeck --repo {directory} approve {DEMO_PIPELINE} --comment 'ship it'",
            err=True,
        )
    lock = RepoLock.acquire(project.state_dir, "run")
    if lock is None:
        holder = lock_holder(project.state_dir) or "another process"
        fail(f"another engine already runs pipelines in {repo.root} ({holder})")
    try:
        result = asyncio.run(
            run_in_foreground(
                project, pipeline, "HEAD", {}, as_json, _auto_approve if auto_approve else None
            )
        )
    finally:
        lock.release()
    if result.status is Status.SUCCEEDED:
        app = repo.root / "server" / "production" / "current" / "greeter.pyz"
        say(f"pipedeck: deployed; try: python3 {app} you", err=True)
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)
