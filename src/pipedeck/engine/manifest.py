"""Sealed artifacts: what an action made, recorded once, checked on every use.

When an action's output is collected it is *sealed*: every entry is checked (only regular
files, directories, and relative symlinks that resolve inside the artifact), hard links are
broken, write bits are removed, and a manifest records each entry's path, type, size, mode
and SHA-256. The manifest is written last, so an artifact without one was never finished (a
crash while collecting) and is never used.

A consumer never touches the sealed tree: it gets a copy, made from the manifest (not from
whatever is in the directory now) and hashed as it is copied, so a file changed since sealing
fails the copy with the file named, and nothing that was not sealed comes along. Read-only
bits mean nothing to root; the hashes are the guarantee. After each action, `changed()`
compares the sealed trees with what the manifest saw at sealing (inode, size, mode, times),
which names an action that wrote into another's artifact as it ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = 1
CHUNK = 1 << 20
_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
"""Never follow a link, never block on a FIFO: what is opened is checked with fstat."""


class ArtifactError(Exception):
    """An output that cannot be sealed, or a sealed artifact that is no longer what it was."""


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    """Relative, `/`-separated."""
    kind: str
    """`file`, `dir` or `link`."""
    size: int
    mode: int
    sha256: str = ""
    target: str = ""
    stamp: tuple[int, int, int] = (0, 0, 0)
    """(inode, mtime_ns, ctime_ns) at sealing: a cheap test that nobody wrote since."""


def manifest_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".manifest.json")


def kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _refuse(rel: str, what: str) -> ArtifactError:
    return ArtifactError(
        f"{rel} is {what}; an artifact holds only files, directories and symlinks inside it"
    )


def walk(top: Path) -> list[tuple[str, os.stat_result]]:
    """Every entry below `top` with its lstat, parents before children, in a stable order."""
    found: list[tuple[str, os.stat_result]] = []
    todo = [""]
    while todo:
        rel = todo.pop()
        with os.scandir(top / rel if rel else top) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                path = f"{rel}/{entry.name}" if rel else entry.name
                info = entry.stat(follow_symlinks=False)
                found.append((path, info))
                if stat.S_ISDIR(info.st_mode):
                    todo.append(path)
    return found


def _check_link(top: Path, rel: str) -> str:
    target = os.readlink(top / rel)
    real_top = os.path.realpath(top)
    resolved = os.path.realpath(top / rel)
    inside = resolved == real_top or resolved.startswith(real_top + os.sep)
    if target.startswith("/") or not inside:
        raise ArtifactError(f"{rel} is a symlink to {target}, outside the artifact; refused")
    return target


def _hash_and_freeze(path: Path, rel: str) -> str:
    """SHA-256 of a regular file, opened without following links; its write bits go."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise ArtifactError(f"{rel} cannot be read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _refuse(rel, kind_of(info.st_mode))
        with os.fdopen(os.dup(fd), "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~_WRITE_BITS)
        return digest
    finally:
        os.close(fd)


def _unshare(path: Path) -> None:
    """Replace a hard link by a private copy: sealing it must not touch the file elsewhere,
    and a link left outside must not be a way to change the artifact later."""
    tmp = path.with_name(path.name + ".pipedeck-copy")
    shutil.copy2(path, tmp, follow_symlinks=False)
    tmp.replace(path)


def seal(staging: Path, final: Path) -> list[Entry]:
    """Check and freeze `staging`, move it to `final`, and record its manifest there."""
    info = os.lstat(staging)
    if not stat.S_ISDIR(info.st_mode):
        what = "a symlink" if stat.S_ISLNK(info.st_mode) else kind_of(info.st_mode)
        raise ArtifactError(f"the output directory {final.name} was replaced by {what}; refused")
    hashes: dict[str, str] = {}
    targets: dict[str, str] = {}
    walked = walk(staging)
    for rel, st in walked:
        if stat.S_ISLNK(st.st_mode):
            targets[rel] = _check_link(staging, rel)
        elif stat.S_ISREG(st.st_mode):
            if st.st_nlink > 1:
                _unshare(staging / rel)
            hashes[rel] = _hash_and_freeze(staging / rel, rel)
        elif not stat.S_ISDIR(st.st_mode):
            raise _refuse(rel, kind_of(st.st_mode))
    # Directories last and deepest first, so freezing one does not stop work inside it.
    for rel, st in reversed(walked):
        if stat.S_ISDIR(st.st_mode):
            os.chmod(staging / rel, stat.S_IMODE(st.st_mode) & ~_WRITE_BITS)
    os.chmod(staging, stat.S_IMODE(info.st_mode) & ~_WRITE_BITS)
    discard(final)
    staging.rename(final)
    entries = []
    for rel, st in walk(final):
        kind = "link" if rel in targets else "file" if rel in hashes else "dir"
        entries.append(
            Entry(
                path=rel,
                kind=kind,
                size=st.st_size if kind == "file" else 0,
                mode=stat.S_IMODE(st.st_mode),
                sha256=hashes.get(rel, ""),
                target=targets.get(rel, ""),
                stamp=(st.st_ino, st.st_mtime_ns, st.st_ctime_ns),
            )
        )
    _write_manifest(final, entries)
    return entries


def _write_manifest(final: Path, entries: list[Entry]) -> None:
    path = manifest_path(final)
    tmp = path.with_name(path.name + ".partial")
    body = {"version": VERSION, "entries": [asdict(e) for e in entries]}
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(body, f, separators=(",", ":"))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def artifact_digest(artifact: Path) -> str:
    """One SHA-256 for a sealed artifact's whole content: that of its manifest, which holds
    every entry's path, type, mode and SHA-256."""
    try:
        return hashlib.sha256(manifest_path(artifact).read_bytes()).hexdigest()
    except OSError:
        return ""  # never sealed, or pruned: nothing to vouch for


def read_manifest(artifact: Path) -> list[Entry]:
    """The artifact's manifest; an artifact without one was never finished."""
    try:
        body = json.loads(manifest_path(artifact).read_text(encoding="utf-8"))
        entries = [Entry(**{**e, "stamp": tuple(e["stamp"])}) for e in body["entries"]]
    except FileNotFoundError:
        raise ArtifactError(f"artifact {artifact.name!r} was never finished") from None
    except (ValueError, KeyError, TypeError):
        raise ArtifactError(f"artifact {artifact.name!r} has a damaged manifest") from None
    if not artifact.is_dir() or artifact.is_symlink():
        raise ArtifactError(f"artifact {artifact.name!r} is missing")
    return entries


def discard(artifact: Path) -> None:
    """Remove an artifact, its manifest first: a tree left without one is never used."""
    manifest_path(artifact).unlink(missing_ok=True)
    partial = manifest_path(artifact)
    partial.with_name(partial.name + ".partial").unlink(missing_ok=True)
    remove_tree(artifact)


def remove_tree(tree: Path) -> None:
    """Delete a tree, frozen or not, without following a symlink that replaced it."""
    try:
        info = os.lstat(tree)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        tree.unlink()
        return
    os.chmod(tree, stat.S_IMODE(info.st_mode) | stat.S_IRWXU)
    for rel, st in walk(tree):
        if stat.S_ISDIR(st.st_mode):
            os.chmod(tree / rel, stat.S_IMODE(st.st_mode) | stat.S_IRWXU)
    shutil.rmtree(tree)


def hand_out(artifact: Path, dest: Path, *, writable: bool) -> None:
    """Copy the sealed `artifact` into `dest` as its manifest says, checking every byte."""
    entries = read_manifest(artifact)
    name = artifact.name
    dest.mkdir(parents=True, exist_ok=True)
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    for entry in entries:
        target = dest / entry.path
        if entry.kind == "dir":
            target.mkdir(mode=0o700)
        elif entry.kind == "link":
            if os.readlink(artifact / entry.path) != entry.target:
                raise _changed(name, entry.path, "its link target")
            os.symlink(entry.target, target)
        else:
            mode = entry.mode | stat.S_IWUSR if writable else entry.mode
            _copy_checked(artifact / entry.path, target, entry, name, view, mode)
    # Directories' modes last: a read-only directory could not have been filled.
    for entry in reversed(entries):
        if entry.kind == "dir":
            os.chmod(dest / entry.path, entry.mode | stat.S_IWUSR if writable else entry.mode)
    if not writable:
        os.chmod(dest, os.lstat(dest).st_mode & ~_WRITE_BITS)


def _copy_checked(
    src: Path, dst: Path, entry: Entry, name: str, view: memoryview, mode: int
) -> None:
    try:
        fd = os.open(src, _OPEN_FLAGS)
    except OSError:
        raise _changed(name, entry.path, "it is gone or no longer a file") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _changed(name, entry.path, "no longer a regular file")
        if info.st_size != entry.size:
            raise _changed(name, entry.path, "its size")
        digest = hashlib.sha256()
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            while n := os.readv(fd, [view]):
                digest.update(view[:n])
                done = 0
                while done < n:
                    done += os.write(out, view[done:n])
            os.fchmod(out, mode)
        finally:
            os.close(out)
    finally:
        os.close(fd)
    if digest.hexdigest() != entry.sha256:
        raise _changed(name, entry.path, "its contents")


def _changed(name: str, path: str, what: str) -> ArtifactError:
    return ArtifactError(f"artifact {name!r} was changed after it was made: {path} ({what})")


def changed(artifact: Path) -> str | None:
    """The path of a sealed artifact that differs from its manifest, or None.

    Compares what stat says (set of paths, types, inode, size, mode, times): writing a file,
    `chmod`, replacing, adding or removing an entry all show; no file is read. A file's change
    is named before its directory's (a `chmod u+w` on the way to writing it).
    """
    try:
        entries = {e.path: e for e in read_manifest(artifact)}
        walked = walk(artifact)
    except (ArtifactError, OSError):
        return "."
    differ: list[tuple[bool, str]] = []
    for rel, st in walked:
        entry = entries.pop(rel, None)
        if entry is None:
            differ.append((True, rel))
            continue
        kind = "link" if stat.S_ISLNK(st.st_mode) else "dir" if stat.S_ISDIR(st.st_mode) else "file"
        if kind != entry.kind or stat.S_IMODE(st.st_mode) != entry.mode:
            differ.append((kind != "dir", rel))
        elif kind == "file" and (
            (st.st_ino, st.st_mtime_ns, st.st_ctime_ns) != entry.stamp or st.st_size != entry.size
        ):
            differ.append((True, rel))
    differ.extend((True, rel) for rel in entries)
    if not differ:
        return None
    return min(differ, key=lambda d: not d[0])[1]
