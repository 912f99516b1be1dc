"""The `pipedeck` command line: every command is a thin client of the engine and the store."""

from __future__ import annotations

from pathlib import Path

import click

from pipedeck import __version__
from pipedeck.cli.context import Options


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="pipedeck")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(),
    show_default="current directory",
    help="The git repository to work on.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where run history lives (default: <git-dir>/pipedeck).",
)
@click.pass_context
def main(ctx: click.Context, repo: Path, state_dir: Path | None) -> None:
    """pipedeck: run CodePipeline-style pipelines on your own machine.

    Without a command, opens the console on the repository.
    """
    ctx.obj = Options(repo=repo, state_dir=state_dir)
    if ctx.invoked_subcommand is None:
        from pipedeck.cli.console import open_console

        open_console(ctx.obj)


def _register() -> None:
    from pipedeck.cli import definitions, demo, history, running, trust, watching

    for module in (definitions, running, watching, history, demo, trust):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
