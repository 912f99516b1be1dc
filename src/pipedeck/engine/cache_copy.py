"""Copying trees between directory descriptors, for the build caches (`caches`).

Both trees are walked through descriptors opened with `O_NOFOLLOW`, and every entry is made
relative to its parent's descriptor: a symlink in either tree is copied as a symlink, never
followed, and a FIFO, socket or device is skipped unopened. So a restore cannot write outside
the workspace, whatever the workspace or the saved tree holds.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from pipedeck.engine.manifest import kind_of, remove_tree

MAX_DEPTH = 100
"""Deeper directories are skipped: each level holds two descriptors open."""
_CHUNK = 1 << 20
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | CLOEXEC
"""Never follow a link, never block on a FIFO: what is opened is checked with fstat."""
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | CLOEXEC
KEPT_MODE = 0o1777
"""Permission bits and sticky are kept; set-user-ID and set-group-ID are not: a cache is no
way to mint such files."""


def names(directory_fd: int) -> list[str]:
    with os.scandir(directory_fd) as entries:
        return sorted(entry.name for entry in entries)


def make_dir(parent: int, name: str) -> tuple[int, bool]:
    """A descriptor of the real directory `name` in `parent`, made if need be: whatever else
    has the name (a symlink, a file) is removed first, never followed."""
    try:
        info: os.stat_result | None = os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        info = None
    if info is not None and not stat.S_ISDIR(info.st_mode):
        os.unlink(name, dir_fd=parent)
        info = None
    if info is None:
        os.mkdir(name, 0o700, dir_fd=parent)
    return os.open(name, DIR_FLAGS, dir_fd=parent), info is None


def make_room(parent: int, name: str, path: Path) -> None:
    """Make room for `name` in `parent`: the cache's version replaces what is there."""
    try:
        info = os.lstat(name, dir_fd=parent)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        # `path` leads here through real directories only: each was opened with O_NOFOLLOW.
        remove_tree(path)
    else:
        os.unlink(name, dir_fd=parent)


@dataclass
class Copier:
    """Copies entries between two trees held by descriptors; counts what it copied."""

    size: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)

    def copy(self, src: int, dst: int, name: str, rel: str, path: Path, depth: int) -> None:
        """Copy `name` of directory `src` into directory `dst` (whose `name` is `path`)."""
        try:
            info = os.lstat(name, dir_fd=src)
        except FileNotFoundError:
            self.skipped.append(f"{rel} (gone while it was copied)")
            return
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            target = os.readlink(name, dir_fd=src)
            make_room(dst, name, path)
            os.symlink(target, name, dir_fd=dst)
        elif stat.S_ISREG(mode):
            self._copy_file(src, dst, name, rel, path)
        elif stat.S_ISDIR(mode):
            self._copy_dir(src, dst, name, rel, path, depth, mode)
        else:
            self.skipped.append(f"{rel} ({kind_of(mode)})")

    def _copy_dir(
        self, src: int, dst: int, name: str, rel: str, path: Path, depth: int, mode: int
    ) -> None:
        if depth > MAX_DEPTH:
            self.skipped.append(f"{rel} (nested deeper than {MAX_DEPTH} directories)")
            return
        try:
            inner = os.open(name, DIR_FLAGS, dir_fd=src)
            children = names(inner)
        except PermissionError:
            self.skipped.append(f"{rel} (cannot be read)")
            return
        except OSError:
            # Replaced by a link or a file since we looked: it is not the directory we saw.
            self.skipped.append(f"{rel} (changed while it was copied)")
            return
        try:
            made, created = make_dir(dst, name)
            try:
                for child in children:
                    self.copy(inner, made, child, f"{rel}/{child}", path / child, depth + 1)
                # Its mode last: one without write permission could not have been filled.
                if created:
                    os.fchmod(made, stat.S_IMODE(mode) & KEPT_MODE)
            finally:
                os.close(made)
        finally:
            os.close(inner)

    def _copy_file(self, src: int, dst: int, name: str, rel: str, path: Path) -> None:
        try:
            fin = os.open(name, READ_FLAGS, dir_fd=src)
        except PermissionError:
            self.skipped.append(f"{rel} (cannot be read)")
            return
        except OSError:
            self.skipped.append(f"{rel} (changed while it was copied)")
            return
        try:
            info = os.fstat(fin)
            if not stat.S_ISREG(info.st_mode):
                self.skipped.append(f"{rel} ({kind_of(info.st_mode)})")
                return
            # O_NONBLOCK only kept the open from blocking; reads of a file never do.
            os.set_blocking(fin, True)
            make_room(dst, name, path)
            out = os.open(name, CREATE_FLAGS, 0o600, dir_fd=dst)
            copied = 0
            try:
                while chunk := os.read(fin, _CHUNK):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(out, view) :]
                    copied += len(chunk)
                os.fchmod(out, stat.S_IMODE(info.st_mode) & KEPT_MODE)
            finally:
                os.close(out)
            self.size += copied
            self.files += 1
        finally:
            os.close(fin)
