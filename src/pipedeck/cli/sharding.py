"""`shard`: this shard's share of the test files, balanced by earlier runs' timings.

Run inside an action with `parallel: N` it knows which shard it is (`PIPEDECK_SHARD`,
`PIPEDECK_SHARDS`), which action, and where the history is (`PIPEDECK_STATE_DIR`), so
`pytest $(pipedeck shard --glob 'tests/**/test_*.py')` is all a shard needs.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import click

from pipedeck.cli.context import Options, fail, say
from pipedeck.store.layout import DB_NAME

MAX_SHARDS = 64
"""As `parallel:` allows."""


def _shard_number(given: int | None, variable: str) -> int | None:
    if given is not None:
        return given
    value = os.environ.get(variable, "")
    if not (value.isascii() and value.isdigit()):
        return None
    if int(value) > MAX_SHARDS:
        fail(f"${variable} is {value}; an action has at most {MAX_SHARDS} shards")
    return int(value)


def _files(patterns: tuple[str, ...], files: tuple[str, ...]) -> list[str]:
    found = list(files)
    for pattern in patterns:
        if Path(pattern).is_absolute():
            fail(f"--glob {pattern!r}: give a pattern relative to the working directory")
        if not pattern.strip() or pattern.strip("./") == "":
            fail(f"--glob {pattern!r}: give a pattern that names files, e.g. 'tests/**/test_*.py'")
        try:
            matched = list(Path().glob(pattern))
        except (ValueError, IndexError, AttributeError, NotImplementedError):
            fail(f"--glob {pattern!r}: not a pattern that names files")
        found += sorted(p.as_posix() for p in matched if p.is_file())
    # A name the shell would split, or a terminal obey, cannot be handed on as a word.
    plain = [f for f in found if f.isprintable() and not any(c.isspace() for c in f)]
    for name in sorted(set(found) - set(plain)):
        say(f"pipedeck: left out {name!r}: the shell would split or garble its name", True)
    return plain


def _history(opts: Options) -> tuple[str, dict[str, float]]:
    """Seconds per test class from the last run of this action that left reports, and
    what that was; nothing outside a pipeline's action."""
    state = opts.state_dir or Path(os.environ.get("PIPEDECK_STATE_DIR", ""))
    run_key = os.environ.get("PIPEDECK_RUN")
    stage, action = os.environ.get("PIPEDECK_STAGE"), os.environ.get("PIPEDECK_ACTION")
    if not (run_key and stage and action and state.name and (state / DB_NAME).exists()):
        return "no run to learn from (outside a pipeline's action)", {}
    from pipedeck.store import Store, StoreError

    try:
        store = Store(state)
    except (StoreError, sqlite3.DatabaseError) as exc:
        # Every shard still gets its share: an empty answer would make each run everything.
        return f"the history cannot be read ({exc}); split by size", {}
    try:
        run = store.find_run(run_key)
        records = [
            a.action
            for s in store.detail(run).stages
            if s.stage.name == stage
            for a in s.actions
            if a.action.name == action
        ]
        group = records[0].group if records else action
        source, times = store.timings.by_classname(run.pipeline, stage, group, run.id)
        if source is None:
            return f"no earlier run of {stage}/{group} left test reports", {}
        return f"timings of {store.run_by_id(source).key}", times
    except StoreError as exc:
        return f"no history: {exc}", {}
    finally:
        store.close()


@click.command()
@click.argument("files", nargs=-1)
@click.option("--glob", "patterns", multiple=True, metavar="PATTERN", help="Files to split.")
@click.option("--shard", "index", type=click.IntRange(min=1), help="Default: $PIPEDECK_SHARD.")
@click.option(
    "--shards",
    "total",
    type=click.IntRange(min=1, max=MAX_SHARDS),
    help="Default: $PIPEDECK_SHARDS.",
)
@click.option("--explain", is_flag=True, help="Say every shard's files and load on stderr.")
@click.pass_obj
def shard(
    opts: Options,
    files: tuple[str, ...],
    patterns: tuple[str, ...],
    index: int | None,
    total: int | None,
    explain: bool,
) -> None:
    """Print this shard's share of FILES (or of the files --glob matches), one per line.

    Balanced by how long each file's tests took in the last run of this action that left
    test reports: files never seen count as the mean; with no history, files split by size.
    The same inputs always give the same split.
    """
    from pipedeck.engine import split_files

    shard_index = _shard_number(index, "PIPEDECK_SHARD")
    shards = _shard_number(total, "PIPEDECK_SHARDS")
    if shard_index is None or shards is None:
        fail("pipedeck shard runs in an action with `parallel: N`, or give --shard and --shards")
    if not 1 <= shard_index <= shards:
        fail(f"shard {shard_index} of {shards} does not exist")
    if not files and not patterns:
        fail("give the test files, or --glob PATTERN")
    names = _files(patterns, files)
    said, times = _history(opts)
    sizes = {name: _size(name) for name in names}
    split = split_files(names, shards, times, sizes)
    mine = split.shards[shard_index - 1]
    if explain or not mine:
        unit = "bytes" if split.by == "size" else "s"
        say(f"pipedeck: {len(names)} files in {shards} shards by {split.by} ({said})", True)
        for number, (part, load) in enumerate(zip(split.shards, split.loads, strict=True), 1):
            marker = "→" if number == shard_index else " "
            files_said = "1 file" if len(part) == 1 else f"{len(part)} files"
            say(f"pipedeck: {marker} shard {number}: {files_said}, {load:,.1f} {unit}", True)
    if not mine:
        say(f"pipedeck: shard {shard_index} of {shards} has no files to run", True)
    sys.stdout.write("".join(f"{name}\n" for name in mine))


def _size(name: str) -> int:
    try:
        return Path(name).stat().st_size
    except OSError:
        return 0
