"""The `pipedeck` command line: every command is a thin client of the engine and the store.

A command's module is imported only when that command runs (or `--help` lists them all),
and each module imports at its top only what reading the store needs: `pipedeck approve`
from a second shell costs about what starting Python costs.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click

from pipedeck import __version__
from pipedeck.cli.context import Options, fail

COMMANDS = {
    "approve": "deciding",
    "cache": "caching",
    "cancel": "deciding",
    "demo": "demo",
    "deployments": "delivery",
    "environment": "delivery",
    "environments": "delivery",
    "logs": "history",
    "prune": "pruning",
    "reject": "deciding",
    "retry": "watching",
    "rollback": "delivery",
    "run": "running",
    "runs": "history",
    "schema": "definitions",
    "shard": "sharding",
    "show": "history",
    "tests": "testing",
    "transition": "transitions",
    "trust": "trust",
    "validate": "definitions",
    "watch": "watching",
}
"""Every command, and the module (of `pipedeck.cli`) that defines it under that name."""


class Commands(click.Group):
    """Loads a command's module when it is asked for, and says every failure the engine
    phrases for a user in one way: `pipedeck: <message>` on stderr, exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        command = getattr(
            importlib.import_module(f"{__name__}.{module}"), cmd_name.replace("-", "_")
        )
        assert isinstance(command, click.Command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Looked up only when something failed: `--version` loads nothing of the engine.
            from pipedeck.engine import USER_ERRORS

            if isinstance(exc, USER_ERRORS):
                fail(str(exc))
            raise


@click.group(cls=Commands, invoke_without_command=True)
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
    ctx.call_on_close(ctx.obj.close)
    if ctx.invoked_subcommand is None:
        from pipedeck.cli.console import open_console

        open_console(ctx.obj)
