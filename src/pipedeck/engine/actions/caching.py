"""An action's `cache:`: restored into its workspace before the command, saved after success.

A cache only ever saves time: whatever goes wrong with one (a key that names no file, a
disk that is full, an entry another shell is clearing) is said in the action's log, and the
action goes on as if it had no cache.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pipedeck.definition.fanout_rules import HASH, hash_pattern_problem
from pipedeck.definition.model import Cache
from pipedeck.engine.actions.base import write_log
from pipedeck.engine.artifacts import inside
from pipedeck.engine.caches import CacheError, Caches
from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.retention import human_size
from pipedeck.engine.variables import VariableError


class KeyProblem(Exception):
    """A key that cannot be worked out; said in the log, and no cache is used."""


def hash_files(workspace: Path, pattern: str) -> str:
    """The first 16 hex digits of the SHA-256 of the regular files `pattern` matches in
    the workspace (names and contents, in name order); like actions' `hashFiles`."""
    if problem := hash_pattern_problem(pattern):
        raise KeyProblem(problem)
    root = workspace.resolve()
    try:
        found = list(workspace.glob(pattern))
    except (ValueError, IndexError, AttributeError, NotImplementedError):
        # pathlib's glob refuses some patterns by raising whatever its parser hits.
        raise KeyProblem(f"#{{hash:{pattern}}}: not a pattern that names files") from None
    matched = sorted(p for p in found if p.is_file() and not p.is_symlink())
    matched = [p for p in matched if inside(p.resolve(), root)]
    if not matched:
        raise KeyProblem(f"#{{hash:{pattern}}}: no file in the workspace matches")
    digest = hashlib.sha256()
    for path in matched:
        digest.update(path.relative_to(workspace).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _key(ctx: RunContext, job: ActionJob, text: str, work: Path) -> str:
    resolved = HASH.sub(lambda m: hash_files(work, m.group(1)), text)
    try:
        return ctx.variables_of(job.action).resolve(resolved)
    except VariableError as exc:
        raise KeyProblem(str(exc)) from None


def restore(ctx: RunContext, job: ActionJob, cache: Cache, work: Path) -> str | None:
    """Restore the best match into `work`; returns the key to save under after success
    (None: no cache this time)."""
    try:
        key = _key(ctx, job, cache.key, work)
        fallbacks = [_key(ctx, job, k, work) for k in cache.restore_keys]
        caches = Caches(ctx.store.state_dir)
        entry = caches.find(key, fallbacks)
        if entry is None:
            write_log(ctx, job, f"pipedeck: no cache for {key!r} yet\n")
            return key
        caches.restore(entry, work)
    except (KeyProblem, CacheError, OSError) as exc:
        write_log(ctx, job, f"pipedeck: cache not used: {exc}\n")
        return None
    how = "restored" if entry.key == key else f"restored {entry.key!r} for"
    write_log(
        ctx,
        job,
        f"pipedeck: cache {how} {key!r} ({entry.files} files, {human_size(entry.size)})\n",
    )
    return key


def save(ctx: RunContext, job: ActionJob, cache: Cache, key: str, work: Path) -> None:
    try:
        saved = Caches(ctx.store.state_dir).save(key, cache.paths, work)
    except (CacheError, OSError) as exc:
        write_log(ctx, job, f"pipedeck: cache not saved: {exc}\n")
        return
    for pattern in saved.missing:
        write_log(ctx, job, f"pipedeck: cache path {pattern!r} matched nothing\n")
    for skipped in saved.skipped:
        write_log(ctx, job, f"pipedeck: cache left out {skipped}\n")
    if saved.taken:
        write_log(ctx, job, f"pipedeck: cache {key!r} exists already; kept as it is\n")
    elif saved.entry is not None:
        entry = saved.entry
        said = f"{entry.files} files, {human_size(entry.size)}"
        write_log(ctx, job, f"pipedeck: cache saved as {key!r} ({said})\n")
