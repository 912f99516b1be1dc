"""`cache list`, `cache clear`: the build caches actions saved, and the space they take."""

from __future__ import annotations

import click

from pipedeck.cli.context import Options, print_json, say
from pipedeck.visible import visible

_KEY_WIDTH = 40


@click.group()
def cache() -> None:
    """Build caches: paths an action saves under a key and later actions restore.

    An action's `cache: {key, paths, restore_keys}` works as GitHub's actions/cache does.
    """


@cache.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON array, newest first.")
@click.pass_obj
def list_caches(opts: Options, as_json: bool) -> None:
    """List the caches, newest first, and the space they take.

    A key longer than the column is cut short with `…`; `--json` has every key whole.
    """
    from pipedeck import engine

    entries = engine.Caches(opts.client().store.state_dir).entries()
    if as_json:
        print_json([entry.to_dict() for entry in entries])
        return
    if not entries:
        say("no caches")
        return
    # A key is text from a pipeline file: one line each, whatever it holds.
    keys = [_shortened(visible(entry.key)) for entry in entries]
    width = min(max(len(key) for key in keys), _KEY_WIDTH)
    say(f"{'KEY':<{width}}  {'SIZE':>9}  {'FILES':>6}  {'CREATED':<19}  LAST USED")
    for key, entry in zip(keys, entries, strict=True):
        say(
            f"{key:<{width}}  {engine.human_size(entry.size):>9}  {entry.files:>6}  "
            f"{_moment(entry.created_at)}  {_moment(entry.used_at)}"
        )
    total = sum(entry.size for entry in entries)
    say(f"{_caches(len(entries))}, {engine.human_size(total)}")


@cache.command("clear")
@click.argument("prefix", metavar="[KEY_PREFIX]", required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def clear(opts: Options, prefix: str | None, as_json: bool) -> None:
    """Remove every cache, or those whose key starts with KEY_PREFIX.

    A cache an engine is restoring at this moment is kept.
    """
    from pipedeck import engine

    removed = engine.Caches(opts.client().store.state_dir).clear(prefix)
    freed = sum(entry.size for entry in removed)
    if as_json:
        print_json({"removed": [entry.to_dict() for entry in removed], "freed": freed})
        return
    for entry in removed:
        say(f"removed {visible(entry.key)}  {engine.human_size(entry.size)}")
    which = "" if prefix is None else f" whose key starts with {visible(prefix)}"
    if not removed:
        say(f"no caches{which}")
        return
    say(f"freed {engine.human_size(freed)} ({_caches(len(removed))})")


def _caches(count: int) -> str:
    return f"{count} cache{'s' * (count != 1)}"


def _shortened(key: str) -> str:
    return key if len(key) <= _KEY_WIDTH else key[: _KEY_WIDTH - 1] + "…"


def _moment(text: str) -> str:
    return text[:19].replace("T", " ")
