"""Which ref updates start which pipelines.

The semantics are GitHub Actions' `on: push` (which CodePipeline's git triggers mirror), so a
pipeline file means what its author expects from there:

- `trigger: manual` never starts on a push; a deleted branch or tag never starts anything.
- No trigger: pushes to the repository's checked-out branch, the branch being worked on.
- `branches` and `tags` select independently: with only `tags`, branch pushes do not run, and
  with only `branches`, tags do not. A trigger with neither (only `paths`) means the
  checked-out branch, as if no trigger had been given.
- `paths` narrows branch pushes to those that change a matching file; tags ignore it.

Changed paths cost a git diff, so they are asked for only when a `paths` filter decides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

from pipedeck.definition.model import Filter, Pipeline
from pipedeck.gitrepo import GitRepo
from pipedeck.gitrepo.refwatch import DEPLOY_TAG_PREFIX, RefUpdate


@lru_cache(maxsize=1024)
def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """The anchored regex of a branch, tag or path glob.

    `*` matches within one path segment, `**` across segments (`**/` also matches no folder
    at all, so `**/*.md` matches `README.md`), `?` one character but `/`, `[abc]` and
    `[!abc]` one character of (or not of) a class; everything else stands for itself.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                out.append("(?:.*/)?")
                i += 1
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and (cls := _class(pattern, i)) is not None:
            out.append(cls[0])
            i = cls[1]
            continue
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile(r"\A(?:" + "".join(out) + r")\Z", re.DOTALL)


def _class(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex of the class opened at `start` and the index after it; None if it is not a
    class (never closed, or a range like `[z-a]`), and so the `[` stands for itself."""
    i = start + 1
    negate = pattern.startswith("!", i)
    if negate:
        i += 1
    # A `]` first in the class is a member, as in fnmatch.
    end = pattern.find("]", i + 1 if pattern.startswith("]", i) else i)
    if end < 0:
        return None
    # Every member escaped but the range dash: no glob can smuggle in regex syntax.
    members = "".join(c if c == "-" else re.escape(c) for c in pattern[i:end])
    regex = f"[{'^' if negate else ''}{members}]"
    try:
        re.compile(regex)
    except re.error:
        return None
    # A class stands for one character of a name, never a folder separator.
    return f"(?!/){regex}", end + 1


def glob_match(pattern: str, text: str) -> bool:
    return glob_to_regex(pattern).match(text) is not None


def _passes(spec: Filter, name: str) -> bool:
    included = not spec.include or any(glob_match(p, name) for p in spec.include)
    return included and not any(glob_match(p, name) for p in spec.exclude)


def filter_accepts(spec: Filter | None, names: Iterable[str]) -> bool:
    """Whether some name passes: it matches an include glob (none means all) and no exclude.

    No filter accepts anything. With a filter and no names at all (a push that changed no
    file), nothing passes, so a `paths` filter is never satisfied by an empty change.
    """
    if spec is None:
        return True
    return any(_passes(spec, name) for name in names)


def decide(
    pipeline: Pipeline,
    update: RefUpdate,
    *,
    current_branch: str | None,
    changed_paths: Callable[[], list[str]],
) -> str | None:
    """Why `update` starts a run of `pipeline` ("push to main", "tag v1.2"), or None."""
    trigger = pipeline.trigger
    if trigger == "manual" or update.deleted:
        return None
    if update.kind == "tag":
        # The engine's own deploy records: a deploy must never start a run by being recorded.
        if update.name.startswith(DEPLOY_TAG_PREFIX):
            return None
        # Tags run only where asked for by name, and never depend on paths.
        if trigger is None or trigger.tags is None:
            return None
        return f"tag {update.name}" if filter_accepts(trigger.tags, [update.name]) else None
    if update.kind != "branch":
        return None
    if trigger is None or (trigger.branches is None and trigger.tags is None):
        if update.name != current_branch:
            return None
    elif trigger.branches is None or not filter_accepts(trigger.branches, [update.name]):
        return None
    if (
        trigger is not None
        and trigger.paths is not None
        and not filter_accepts(trigger.paths, changed_paths())
    ):
        return None
    return f"new branch {update.name}" if update.created else f"push to {update.name}"


def changed_paths_for(repo: GitRepo, base: str | None, new: str) -> list[str]:
    """Files changed from `base` (the last run's commit, or the ref's old value) to `new`.

    Without a usable base, a new branch with no run yet, or a base rebased away and pruned,
    the change is `new`'s own: against its first parent, or every file of a root commit.
    """
    if base is not None and not repo.has_commit(base):
        base = None
    if base is None:
        base = repo.first_parent(new)
    return repo.changed_paths(base, new)
