"""Build caches: directories an action saves under a key and a later action gets back.

Rebuilding a virtualenv or `node_modules` on every run costs minutes, so an action may declare
`cache: {key, paths, restore_keys}` with GitHub's actions/cache semantics: before it starts,
the newest cache whose key matches (exactly, else by each restore key as a prefix) is copied
into its workspace; after it succeeds, its `paths` are saved under `key` unless a cache with
that key exists already. Caches are immutable: the first save of a key wins.

On disk, under the state directory::

    caches/<sha256 of the key>/meta.json   the key, times, size, saved paths
    caches/<sha256 of the key>/tree/       the saved paths, relative to the workspace
    caches/.tmp-<random>/                  an entry being written or removed

Why it is built this way:

- A key is text from a pipeline file, so it is never a path: the directory is named by its
  hash and the key lives in `meta.json`; an entry whose key does not hash to its name is
  ignored, as is one whose metadata cannot be read.
- An entry is written in a temporary directory and renamed into place. Renaming a directory
  onto a non-empty one fails, so of two saves of one key exactly one lands, and a crash leaves
  only a temporary directory, never half an entry.
- A temporary directory is flocked for as long as it is in use; `clear` removes only those
  whose lock it can take (their writer died). A restore holds a shared lock on its entry, so a
  `pipedeck cache clear` from another shell skips that entry instead of emptying it under the
  restore.
- Saved and restored trees are copies, never hard links: the workspace belongs to code from
  the repository, and writing a restored file must not change the cache. Symlinks are copied
  as symlinks and never followed (a virtualenv's `bin/python` points to an absolute path);
  FIFOs, sockets and devices are skipped and never opened (opening a FIFO blocks).
- Every copy walks both trees through directory descriptors opened with `O_NOFOLLOW`, and
  creates each entry relative to its parent's descriptor. A symlink already in the workspace
  (the repository may commit `a -> /etc`) is replaced where the cache has a directory, never
  written through, so a restore cannot write outside the workspace.
- The paths an action names must stay inside its workspace: absolute paths, `..`, and paths
  that lead out through a symlink are refused with a `CacheError`.
- Only `meta.json` is fsynced. An entry survives the process being killed at any point; after
  a power loss one of its files might be short, and `pipedeck cache clear` is the remedy: a
  cache only saves time.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from pipedeck.engine.artifacts import inside, remove_tree
from pipedeck.engine.cache_copy import (
    CLOEXEC,
    CREATE_FLAGS,
    DIR_FLAGS,
    KEPT_MODE,
    READ_FLAGS,
    Copier,
    make_dir,
    names,
)
from pipedeck.store.db import format_time, parse_time

__all__ = [
    "CACHES_DIR",
    "MAX_KEY",
    "CacheEntry",
    "CacheError",
    "Caches",
    "Saved",
]

CACHES_DIR = "caches"
"""Under the state directory."""
MAX_KEY = 512
"""actions/cache's limit too."""

VERSION = 1
_META = "meta.json"
_TREE = "tree"
_TEMP = ".tmp-"
_META_LIMIT = 1 << 20
_ENTRY_NAME = re.compile(r"[0-9a-f]{64}")
_GLOB = re.compile(r"[*?[]")


class CacheError(Exception):
    """A cache request refused, phrased for the user: a bad key, a path outside the
    workspace, an entry that is damaged or gone."""


@dataclass(frozen=True)
class CacheEntry:
    key: str
    created_at: str
    """ISO 8601 UTC, as the store writes times."""
    used_at: str
    """When it was last restored or saved."""
    size: int
    """Bytes of the regular files saved."""
    files: int
    """How many regular files were saved (links and directories not counted)."""
    paths: tuple[str, ...]
    """The workspace-relative paths saved (`.` for the whole workspace)."""
    directory: Path

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "created_at": self.created_at,
            "used_at": self.used_at,
            "size": self.size,
            "files": self.files,
            "paths": list(self.paths),
            "directory": str(self.directory),
        }


@dataclass(frozen=True)
class Saved:
    """What `Caches.save` did, for the action's log."""

    entry: CacheEntry | None
    """The new entry; None when the key was taken or nothing matched."""
    taken: bool = False
    """A cache with this key exists (saved earlier, or by a concurrent save that won)."""
    missing: tuple[str, ...] = ()
    """The paths (patterns) that matched nothing, in the order given."""
    skipped: tuple[str, ...] = ()
    """Entries left out, each with why: `x/fifo (a FIFO)`."""


def check_key(key: str, what: str = "cache key") -> None:
    if not isinstance(key, str) or not key:
        raise CacheError(f"a {what} must not be empty")
    if len(key) > MAX_KEY:
        raise CacheError(f"a {what} has at most {MAX_KEY} characters; this one has {len(key)}")


def _entry_name(key: str) -> str:
    # `surrogatepass`: a key is whatever the YAML held, and hashing it must not fail.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Caches:
    """The build caches of one state directory."""

    def __init__(self, state_dir: Path, clock: Callable[[], datetime] = _utc_now) -> None:
        self.root = state_dir / CACHES_DIR
        self._clock = clock

    def find(self, key: str, restore_keys: Sequence[str] = ()) -> CacheEntry | None:
        """The entry to restore: the one with `key`; else, for each restore key in order,
        the newest entry whose key starts with it; else None."""
        check_key(key)
        for prefix in restore_keys:
            check_key(prefix, "restore key")
        exact = _read(self.root / _entry_name(key))
        if exact is not None or not restore_keys:
            return exact
        entries = self.entries()
        for prefix in restore_keys:
            for entry in entries:
                if entry.key.startswith(prefix):
                    return entry
        return None

    def entries(self) -> list[CacheEntry]:
        """Every complete entry, newest first; damaged ones are left out."""
        try:
            paths = list(self.root.iterdir())
        except FileNotFoundError:
            return []
        found = [
            entry
            for path in paths
            if _ENTRY_NAME.fullmatch(path.name) and (entry := _read(path)) is not None
        ]
        found.sort(key=lambda e: (parse_time(e.created_at), e.key), reverse=True)
        return found

    def restore(self, entry: CacheEntry, workspace: Path) -> CacheEntry:
        """Copy the entry's saved paths into `workspace`, merged into what is there (the
        cache wins where both have a path), and return it with `used_at` updated.

        Raises CacheError when the entry is gone or damaged; OSError (a full disk) as it is.
        The workspace may be partly restored then.
        """
        directory = self.root / _entry_name(entry.key)
        workspace.mkdir(parents=True, exist_ok=True)
        with _held(directory, fcntl.LOCK_SH) as entry_fd:
            if entry_fd is None:
                raise CacheError(f"cache {entry.key!r} was removed before it could be restored")
            current = _read(directory)
            if current is None:
                raise CacheError(f"cache {entry.key!r} is damaged; `pipedeck cache clear` it")
            try:
                tree = os.open(_TREE, DIR_FLAGS, dir_fd=entry_fd)
            except OSError:
                raise CacheError(
                    f"cache {entry.key!r} is damaged; `pipedeck cache clear` it"
                ) from None
            try:
                target = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | CLOEXEC)
                try:
                    copier = Copier()
                    for name in names(tree):
                        copier.copy(tree, target, name, name, workspace / name, 1)
                finally:
                    os.close(target)
            finally:
                os.close(tree)
            used = replace(current, used_at=format_time(self._clock()))
            _write_meta(entry_fd, used)
            return used

    def save(self, key: str, paths: Sequence[str], workspace: Path) -> Saved:
        """Save the workspace's `paths` under `key`, unless a cache with that key exists.

        A path is relative to the workspace and may be a file, a directory or a glob
        (`**` included); one that matches nothing is reported in `Saved.missing`, and when
        none matches nothing is saved. A path that leads outside the workspace fails the
        whole save with a CacheError.
        """
        check_key(key)
        if not paths:
            raise CacheError("a cache needs at least one path to save")
        chosen, missing = _select(workspace, paths)
        final = self.root / _entry_name(key)
        if os.path.lexists(final):
            if _read(final) is not None:
                return Saved(None, taken=True, missing=missing)
            self._discard(final)  # damaged: it must not hold its key for ever
        if not chosen:
            return Saved(None, missing=missing)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._temporary() as (temp, temp_fd):
            os.mkdir(_TREE, 0o700, dir_fd=temp_fd)
            tree = os.open(_TREE, DIR_FLAGS, dir_fd=temp_fd)
            try:
                copier = _copy_selected(workspace, chosen, tree, temp / _TREE)
            finally:
                os.close(tree)
            stamp = format_time(self._clock())
            entry = CacheEntry(
                key=key,
                created_at=stamp,
                used_at=stamp,
                size=copier.size,
                files=copier.files,
                paths=tuple("/".join(parts) or "." for parts in chosen),
                directory=final,
            )
            _write_meta(temp_fd, entry)
            try:
                temp.rename(final)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    return Saved(None, taken=True, missing=missing)
                raise
            return Saved(entry, missing=missing, skipped=tuple(copier.skipped))

    def remove(self, entry: CacheEntry) -> bool:
        """Remove the entry; False when it is gone already or being restored right now."""
        return self._discard(self.root / _entry_name(entry.key))

    def clear(self, prefix: str | None = None) -> list[CacheEntry]:
        """Remove every entry, or those whose key starts with `prefix`, and return them.

        Entries being restored are kept. What crashed saves left behind goes too, and on a
        full clear damaged entries as well.
        """
        removed = [
            entry
            for entry in self.entries()
            if (prefix is None or entry.key.startswith(prefix)) and self.remove(entry)
        ]
        self._sweep(damaged=prefix is None)
        return removed

    def stale(self, unused_for: float, now: datetime) -> list[CacheEntry]:
        """The entries not restored or saved for `unused_for` seconds before `now` (aware)."""
        limit = now - timedelta(seconds=unused_for)
        return [e for e in self.entries() if parse_time(e.used_at) <= limit]

    @contextlib.contextmanager
    def _temporary(self) -> Iterator[tuple[Path, int]]:
        """A new locked temporary directory, removed at the end unless renamed away."""
        for _ in range(3):
            path = self.root / f"{_TEMP}{secrets.token_hex(8)}"
            path.mkdir(mode=0o700)
            fd = os.open(path, DIR_FLAGS)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # A sweep may have taken it in the instant before the lock: then it is gone.
            if _same(path, fd):
                break
            os.close(fd)
        else:
            raise CacheError(f"cannot make a temporary directory in {self.root}")
        try:
            yield path, fd
        finally:
            try:
                if _same(path, fd):
                    remove_tree(path)
            finally:
                os.close(fd)

    def _discard(self, directory: Path) -> bool:
        """Move an entry out of its name under an exclusive lock, then delete it."""
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISDIR(os.lstat(directory).st_mode):
                directory.unlink()  # not something a save makes: nothing to lock
                return True
        with _held(directory, fcntl.LOCK_EX) as fd:
            if fd is None:
                return False
            trash = self.root / f"{_TEMP}{secrets.token_hex(8)}"
            directory.rename(trash)
            remove_tree(trash)
            return True

    def _sweep(self, damaged: bool) -> None:
        try:
            paths = list(self.root.iterdir())
        except FileNotFoundError:
            return
        for path in paths:
            if path.name.startswith(_TEMP):
                with _held(path, fcntl.LOCK_EX) as fd:
                    if fd is not None:
                        remove_tree(path)
            elif damaged and _ENTRY_NAME.fullmatch(path.name) and _read(path) is None:
                self._discard(path)


@contextlib.contextmanager
def _held(path: Path, how: int) -> Iterator[int | None]:
    """A descriptor of the directory at `path` locked `how`, or None when it is gone or
    someone holds a lock that excludes ours."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, how | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        # Renamed away (removed) between our open and our lock: not the one named any more.
        yield fd if _same(path, fd) else None
    finally:
        os.close(fd)


def _same(path: Path, fd: int) -> bool:
    try:
        here = os.lstat(path)
    except FileNotFoundError:
        return False
    there = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _read(directory: Path) -> CacheEntry | None:
    """The entry in `directory`, or None when it is missing, unfinished or damaged."""
    try:
        fd = os.open(directory / _META, READ_FLAGS)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return None
            raw = f.read(_META_LIMIT + 1)
        if len(raw) > _META_LIMIT:
            return None
        body = json.loads(raw)
        key, created, used = body["key"], body["created_at"], body["used_at"]
        size, files, paths = body["size"], body["files"], body["paths"]
        if body["version"] != VERSION or not isinstance(key, str):
            return None
        check_key(key)
        if _entry_name(key) != directory.name:
            return None
        for moment in (created, used):
            if not isinstance(moment, str) or parse_time(moment).tzinfo is None:
                return None
        counts = (size, files)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            return None
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return None
        if not stat.S_ISDIR(os.lstat(directory / _TREE).st_mode):
            return None
    except (OSError, ValueError, KeyError, TypeError, CacheError):
        return None
    return CacheEntry(key, created, used, size, files, tuple(paths), directory)


def _write_meta(directory_fd: int, entry: CacheEntry) -> None:
    body = {
        "version": VERSION,
        "key": entry.key,
        "created_at": entry.created_at,
        "used_at": entry.used_at,
        "size": entry.size,
        "files": entry.files,
        "paths": list(entry.paths),
    }
    partial = f"{_META}.{secrets.token_hex(4)}.partial"
    fd = os.open(partial, CREATE_FLAGS, 0o600, dir_fd=directory_fd)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        # ASCII with escapes: a key with lone surrogates still writes and reads back as it was.
        json.dump(body, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    os.rename(partial, _META, src_dir_fd=directory_fd, dst_dir_fd=directory_fd)


def _select(
    workspace: Path, patterns: Sequence[str]
) -> tuple[list[tuple[str, ...]], tuple[str, ...]]:
    """The workspace paths to save, each as the parts of where it really is (its parent's
    symlinks resolved), none inside another; and the patterns that matched nothing."""
    top = Path(os.path.realpath(workspace))
    found: set[tuple[str, ...]] = set()
    missing: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern.strip() or "\0" in pattern:
            raise CacheError(f"cache path {pattern!r} is not a path")
        pure = PurePosixPath(pattern)
        if pure.is_absolute() or ".." in pure.parts:
            raise CacheError(
                f"cache path {pattern!r} must be relative to the workspace, without `..`"
            )
        if pure.parts and pure.parts[0].startswith("~"):
            raise CacheError(
                f"cache path {pattern!r}: `~` is not expanded; cache paths are relative "
                "to the workspace"
            )
        if _GLOB.search(pattern):
            hits = sorted(workspace.glob(str(pure)))
        else:
            # Not `glob`: it would not match a dangling symlink, and a link is saved as one.
            literal = workspace / pure
            hits = [literal] if os.path.lexists(literal) else []
        if not hits:
            missing.append(pattern)
        for hit in hits:
            found.add(_located(hit, workspace, top, pattern))
    chosen: list[tuple[str, ...]] = []
    for parts in sorted(found):
        if not any(parts[: len(kept)] == kept for kept in chosen):
            chosen.append(parts)
    return chosen, tuple(missing)


def _located(hit: Path, workspace: Path, top: Path, pattern: str) -> tuple[str, ...]:
    rel = hit.relative_to(workspace)
    if not rel.parts:
        return ()
    parent = Path(os.path.realpath(hit.parent))
    if not inside(parent, top):
        raise CacheError(
            f"cache path {pattern!r}: {rel} is outside the workspace (through a symlink); refused"
        )
    if hit.is_symlink() and not inside(Path(os.path.realpath(hit)), top):
        raise CacheError(
            f"cache path {pattern!r}: {rel} is a symlink to {os.readlink(hit)}, outside "
            "the workspace; refused"
        )
    return (*parent.relative_to(top).parts, hit.name)


def _copy_selected(
    workspace: Path, chosen: list[tuple[str, ...]], tree: int, tree_path: Path
) -> Copier:
    copier = Copier()
    modes: dict[tuple[str, ...], int] = {}
    root = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | CLOEXEC)
    try:
        for parts in chosen:
            if not parts:
                for name in names(root):
                    copier.copy(root, tree, name, name, tree_path / name, 1)
                continue
            *parents, name = parts
            src, dst = os.dup(root), os.dup(tree)
            try:
                # The parents are real directories (`_located` resolved them); the tree gets
                # them with their modes, so a restore makes them the same.
                for depth, part in enumerate(parents, 1):
                    modes[tuple(parents[:depth])] = os.lstat(part, dir_fd=src).st_mode
                    inner = os.open(part, DIR_FLAGS, dir_fd=src)
                    os.close(src)
                    src = inner
                    made, _ = make_dir(dst, part)
                    os.close(dst)
                    dst = made
                rel = "/".join(parts)
                copier.copy(src, dst, name, rel, tree_path.joinpath(*parts), len(parts))
            finally:
                os.close(src)
                os.close(dst)
    finally:
        os.close(root)
    # Parents' modes last and deepest first: one without write permission could not have
    # been filled. Each is a directory this save made (no link), so chmod by name is safe.
    for parent in sorted(modes, key=len, reverse=True):
        os.chmod("/".join(parent), stat.S_IMODE(modes[parent]) & KEPT_MODE, dir_fd=tree)
    return copier
