"""`trust`: review a pipeline file's commands and allow it to run by itself on commits.

The user is shown every command a file runs, then trusts exactly that content (its digest as
shown): a file edited between the review and the answer stays untrusted.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from pipedeck.cli.context import Options, fail, say
from pipedeck.definition.errors import DefinitionError, display_path
from pipedeck.definition.references import SUFFIXES
from pipedeck.engine import TrustError, TrustState, TrustStore, reviewed_commands

_STATES = {"new": "new (never trusted)", "changed": "changed since it was trusted"}


def _repo_files(opts: Options) -> list[Path]:
    directory = opts.repo_root() / "pipelines"
    if not directory.is_dir():
        fail(f"no pipelines/ folder in {opts.repo_root().resolve()}")
    # Not only regular files: a FIFO or a symlink out of the repository is refused, by name.
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in SUFFIXES and not p.is_dir() and not p.name.startswith(".")
    )


def _show(shown: Path, state: TrustState, rows: list[tuple[str, str, str]]) -> None:
    say(f"{shown}: {_STATES[state.state]}; it runs:")
    name_width = max(len(name) for name, _, _ in rows)
    kind_width = max(len(kind) for _, kind, _ in rows)
    indent = " " * (2 + name_width + 2 + kind_width + 2)
    for name, kind, what in rows:
        first, *rest = what.splitlines() or [""]
        say(f"  {name:<{name_width}}  {kind:<{kind_width}}  {first}")
        for line in rest:
            say(f"{indent}{line}")


def _review(store: TrustStore, file: Path, root: Path, yes: bool) -> bool:
    """Show `file` and trust it if the user agrees; True when it ends trusted."""
    # Reading a file to review it is the one step that needs the pipeline model.
    from pipedeck.definition.loader import load_file

    shown = display_path(file)
    try:
        # One read: what is shown is what is recorded (a file swapped between two reads
        # would show one content and trust another).
        pipeline = load_file(file, root)
    except DefinitionError as exc:
        # What cannot be read cannot be reviewed, so it cannot be trusted.
        for problem in exc.problems:
            say(str(replace(problem, path=display_path(problem.path))), err=True)
        say(f"pipedeck: {shown} not trusted: fix the problems above first", err=True)
        return False
    try:
        state = store.check(file, digest=pipeline.sha256)
    except TrustError as exc:
        say(f"pipedeck: {exc}", err=True)
        return False
    if state.trusted:
        say(f"{shown}: already trusted")
        return True
    _show(shown, state, reviewed_commands(pipeline))
    if not (yes or click.confirm(f"Trust {shown}?", default=False)):
        say(f"{shown}: not trusted")
        return False
    try:
        store.trust_digest(file, state.digest)
    except (TrustError, OSError) as exc:
        say(f"pipedeck: {exc}", err=True)
        return False
    say(f"{shown}: trusted")
    return True


@click.command()
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--list", "list_only", is_flag=True, help="Show whether each file is trusted.")
@click.option("--yes", "-y", is_flag=True, help="Trust without asking (still shows commands).")
@click.option("--revoke", is_flag=True, help="Stop trusting FILEs.")
@click.pass_obj
def trust(opts: Options, files: tuple[Path, ...], list_only: bool, yes: bool, revoke: bool) -> None:
    """Review pipeline FILEs (default: every file in pipelines/) and trust them to run on commits.

    A pipeline runs by itself when a commit arrives only while the file is trusted; any change
    to the file takes that away until it is reviewed again. Trust is kept in your state
    directory ($PIPEDECK_TRUST_FILE, or $XDG_STATE_HOME/pipedeck/trust.json), never in the
    repository.
    """
    if sum((list_only, revoke, yes)) > 1:
        fail("--list, --revoke and --yes do not go together")
    targets = list(files) or _repo_files(opts)
    if not targets:
        say("pipedeck: no pipeline files to trust", err=True)
        return
    store = TrustStore()
    try:
        if list_only:
            _list(store, targets)
        elif revoke:
            for file in targets:
                done = store.revoke(file)
                say(f"{display_path(file)}: {'revoked' if done else 'was not trusted'}")
        else:
            root = opts.repo_root()
            ok = [_review(store, file, root, yes) for file in targets]
            sys.exit(0 if all(ok) else 1)
    except TrustError as exc:
        fail(str(exc))


def _list(store: TrustStore, targets: list[Path]) -> None:
    for file in targets:
        state: str
        try:
            state = store.check(file).state
        except OSError as exc:
            state = f"unreadable ({exc.strerror or exc})"
        say(f"{state:<8}  {display_path(file)}")
