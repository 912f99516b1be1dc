"""`validate` and `schema`: checking pipeline files without running anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from pipedeck.cli.context import Options, say
from pipedeck.definition.errors import display_path

if TYPE_CHECKING:
    from pipedeck.definition import Problem


@click.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.pass_obj
def validate(opts: Options, files: tuple[Path, ...]) -> None:
    """Check pipeline FILEs (default: every file in pipelines/); print FILE:LINE:COL errors."""
    from pipedeck.definition import DefinitionError, load_pipeline, load_pipelines

    problems: list[Problem] = []
    count = 0
    if files:
        for file in files:
            count += 1
            try:
                load_pipeline(file)
            except DefinitionError as exc:
                problems.extend(exc.problems)
    else:
        root = opts.repo_root()
        directory = display_path(root / "pipelines")
        if not directory.is_dir():
            say(f"pipedeck: no pipelines/ folder in {root.resolve()}", err=True)
            sys.exit(1)
        result = load_pipelines(directory)
        problems = result.problems
        count = len(result.pipelines) + len({p.path for p in problems})
    for problem in problems:
        say(str(problem))
    if problems:
        files_with = len({p.path for p in problems})
        say(f"{len(problems)} problem(s) in {files_with} file(s)", err=True)
        sys.exit(1)
    say(f"{count} pipeline file(s) valid", err=True)


@click.command()
def schema() -> None:
    """Print the JSON Schema (draft-07) of pipeline files, for editor completion."""
    from pipedeck.definition import pipeline_schema

    click.echo(json.dumps(pipeline_schema(), indent=2))
