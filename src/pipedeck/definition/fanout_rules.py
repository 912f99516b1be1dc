"""Rules for actions that run as copies (`parallel`, `matrix`) and for `cache`.

Checked on the file's data, like the rest of `rules.py`, so each problem is located where it
is written. What the matrix itself may hold is `fanout.parse_matrix`'s to say (validation).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pipedeck.definition.errors import Finding
from pipedeck.definition.fanout import MAX_SHARDS, expand, parse_matrix
from pipedeck.definition.model import ActionKind

if TYPE_CHECKING:
    from pipedeck.definition.rules import _Action

_COPIES = ("parallel", "matrix")

HASH = re.compile(r"#\{\s*hash:\s*([^}]*?)\s*\}")
"""`#{hash:uv.lock}` in a cache key: the files' contents, in a word (`engine.actions.caching`)."""


def hash_pattern_problem(pattern: str) -> str | None:
    """What is wrong with the files `#{hash:PATTERN}` names, if anything."""
    parts = pattern.replace("\\", "/").split("/")
    if pattern.startswith(("/", "~")) or ".." in parts:
        return f"#{{hash:{pattern}}}: give files relative to the workspace"
    if not pattern.strip() or all(p in ("", ".") for p in parts) or pattern.endswith("/"):
        return (
            f"#{{hash:{pattern}}}: name files (`uv.lock`, `**/requirements*.txt`), not a directory"
        )
    return None


_SCRIPT_KINDS = frozenset({ActionKind.BUILD, ActionKind.TEST, ActionKind.INVOKE})


def check(actions: list[_Action]) -> Iterator[Finding]:
    for action in actions:
        yield from _copies(action)
        yield from _cache(action)
    yield from _clashes(actions)


def copied(raw: dict[str, Any]) -> bool:
    """Whether the action runs as copies."""
    return any(raw.get(key) is not None for key in _COPIES)


def matrix_reference_problem(user: _Action | None, name: str) -> str | None:
    """What is wrong with `#{matrix.NAME}` written in `user` (None: the pipeline's env)."""
    keys = matrix_keys(user.raw) if user is not None else None
    if keys is None:
        return "only an action with a `matrix` has #{matrix.*}"
    if name not in keys:
        return f"the matrix has no key {name!r} (keys: {', '.join(sorted(keys))})"
    return None


def matrix_keys(raw: dict[str, Any]) -> set[str] | None:
    """Every key a combination of the action's matrix has, None without a (valid) matrix."""
    try:
        matrix = parse_matrix(raw.get("matrix")) if raw.get("matrix") is not None else None
    except ValueError:
        return set()  # validation says what is wrong; do not add a second complaint
    if matrix is None:
        return None
    return {key for cell in matrix.cells() for key, _ in cell}


def _copies(action: _Action) -> Iterator[Finding]:
    raw, path, kind = action.raw, action.path, action.kind
    given = [key for key in _COPIES if raw.get(key) is not None]
    if len(given) == 2:
        yield Finding(
            (*path, "parallel"),
            "an action takes `parallel` or `matrix`, not both",
            "key",
        )
    if "fail_fast" in raw and not given:
        message = "'fail_fast' is for actions with `parallel` or `matrix`"
        yield Finding((*path, "fail_fast"), message, "key")
    if not given or kind is None:
        return
    where: tuple[Any, ...] = (*path, given[0])
    if kind not in _SCRIPT_KINDS:
        why = (
            "a deploy runs once for its environment"
            if kind is ActionKind.DEPLOY
            else f"{'an' if kind is ActionKind.APPROVAL else 'a'} {kind} action runs no command"
        )
        yield Finding(where, f"'{given[0]}' is for build, test and invoke actions: {why}", "key")
    if raw.get("outputs"):
        yield Finding(
            (*path, "outputs"),
            f"an action with '{given[0]}' runs as several copies, and they cannot all produce"
            " one artifact; collect the files in a later action, or use `reports`",
            "key",
        )


def _cache(action: _Action) -> Iterator[Finding]:
    cache = action.raw.get("cache")
    if cache is None:
        return
    path = (*action.path, "cache")
    if action.kind is not None and action.kind not in (*_SCRIPT_KINDS, ActionKind.DEPLOY):
        message = f"'cache' is for actions that run a command (this is a {action.kind} action)"
        yield Finding(path, message, "key")
    if not isinstance(cache, dict):
        return
    key = cache.get("key")
    for match in HASH.finditer(key if isinstance(key, str) else ""):
        if problem := hash_pattern_problem(match.group(1)):
            yield Finding((*path, "key"), problem)
    paths = cache.get("paths")
    for index, item in enumerate(paths if isinstance(paths, list) else []):
        if isinstance(item, str) and (
            item.startswith(("/", "~")) or ".." in item.replace("\\", "/").split("/")
        ):
            message = f"cache path {item!r} must be relative to the workspace"
            yield Finding((*path, "paths", index), message)


def _clashes(actions: list[_Action]) -> Iterator[Finding]:
    """A copy's name must not be another action's name in the same stage."""
    names: dict[int, set[str]] = {}
    for action in actions:
        name = action.raw.get("name")
        if isinstance(name, str) and not copied(action.raw):
            names.setdefault(action.stage_index, set()).add(name)
    for action in actions:
        name, raw = action.raw.get("name"), action.raw
        if not isinstance(name, str) or not copied(raw):
            continue
        parallel = raw.get("parallel")
        try:
            matrix = parse_matrix(raw["matrix"]) if raw.get("matrix") is not None else None
        except ValueError:
            continue
        # The loader hands numbers over as the text written.
        parallel = int(str(parallel)) if str(parallel).isdigit() else None
        if parallel is not None and not 2 <= parallel <= MAX_SHARDS:
            continue  # validation says it is out of range; never make that many names
        if parallel is None and matrix is None:
            continue
        own = names.setdefault(action.stage_index, set())
        for copy, _ in expand(name, parallel, None if parallel else matrix):
            if copy in own:
                key = "parallel" if parallel else "matrix"
                yield Finding(
                    (*action.path, key),
                    f"a copy of {name!r} would be named {copy!r}, which another action of"
                    " this stage is named",
                )
            own.add(copy)
