"""`run`: a pipeline in the foreground, or handed to the engine that owns the repository."""

from __future__ import annotations

import sys

import click

from pipedeck.cli.context import Options, fail
from pipedeck.definition.references import RESERVED_PREFIX
from pipedeck.store import Status


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


@click.command()
@click.argument("pipeline", metavar="PIPELINE|RUN")
@click.option("--commit", "rev", default="HEAD", show_default=True, help="Revision to run.")
@click.option("--var", "var", multiple=True, metavar="NAME=VALUE", help="Override a variable.")
@click.option("--json", "as_json", is_flag=True, help="Print events as JSON Lines.")
@click.pass_obj
def run(opts: Options, pipeline: str, rev: str, var: tuple[str, ...], as_json: bool) -> None:
    """Run PIPELINE in the foreground; exit 0 if it succeeded, 1 otherwise.

    Given a RUN (PIPELINE/N), run its commit again, on its branch, with its variables and
    the pipeline file as committed in it. When a console or `pipedeck watch` already runs
    pipelines for the repository, the run is handed to it and followed from here.
    """
    # Running a pipeline is the one thing that needs the whole engine.
    import asyncio

    from pipedeck import engine
    from pipedeck.cli import handoff
    from pipedeck.cli.foreground import run_in_foreground

    variables = parse_vars(var)
    project = opts.project()
    branch = None
    if "/" in pipeline:
        if rev != "HEAD":
            fail(f"{pipeline} names a run, and so its commit: leave out --commit")
        again = opts.find_run(pipeline)
        pipeline, rev, branch = again.pipeline, again.commit, again.branch
        variables = {**again.variables, **variables}
    lock = handoff.engine_or_hand_over(
        project,
        "run",
        lambda: engine.request_start(project, pipeline, rev, variables, branch=branch),
        as_json,
    )
    try:
        definition = project.pipeline_for(pipeline, rev)
        result = asyncio.run(
            run_in_foreground(
                project,
                None,
                rev,
                variables,
                as_json,
                begin=lambda eng: eng.start(definition, rev, variables, branch=branch),
            )
        )
    finally:
        lock.release()
    sys.exit(0 if result.status is Status.SUCCEEDED else 1)
