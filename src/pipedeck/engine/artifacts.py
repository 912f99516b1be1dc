"""Artifacts and workspaces: sealed named directories, and checked copies to work in.

An action fills an output in a staging directory (`$PIPEDECK_OUTPUT_<NAME>`, or files
collected from its workspace by `paths:`); once the action succeeded the output is sealed
(`manifest.seal`): checked, frozen, recorded. A consumer's workspace is a writable copy of its
first input artifact, like CodeBuild's primary source, and every other input is a read-only
copy of its own; both are made from the manifest and verified byte for byte as they are made.
Files an output collects by glob must stay inside the workspace: absolute patterns, `..`, and
symlinks that point outside are refused with an `ArtifactError` the action reports as its
failure.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from pipedeck.engine.manifest import (
    ArtifactError,
    changed,
    discard,
    hand_out,
    remove_tree,
    seal,
    walk,
)

__all__ = [
    "ArtifactError",
    "changed",
    "collect",
    "discard",
    "env_suffix",
    "hand_out",
    "inside",
    "remove_tree",
    "seal",
]

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def env_suffix(name: str) -> str:
    """`wheel-files` -> `WHEEL_FILES`: how artifact names appear in variable names."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def collect(workspace: Path, patterns: list[str], dest: Path) -> list[Path]:
    """Copy the workspace files matching `patterns` into `dest`, keeping relative paths."""
    top = workspace.resolve()
    matched: list[Path] = []
    for pattern in patterns:
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise ArtifactError(f"output path {pattern!r} must be relative to the workspace")
        hits = sorted(workspace.glob(pattern))
        if not hits:
            raise ArtifactError(f"output path {pattern!r} matched no file in the workspace")
        for hit in hits:
            if not inside(hit.resolve(), top):
                raise ArtifactError(
                    f"{hit.relative_to(workspace)} resolves outside the workspace; refused"
                )
            matched.append(hit)
    dest.mkdir(parents=True, exist_ok=True)
    for hit in matched:
        rel = hit.relative_to(workspace)
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        # A matched link is collected as what it points to (inside the workspace, checked).
        source = hit.resolve()
        if source.is_dir():
            _copy_tree(source, target, rel)
        else:
            _copy_file(source, target, str(rel))
    return matched


def _copy_tree(src: Path, dst: Path, rel: Path) -> None:
    """Copy a directory as it is: links stay links (sealing checks where they point)."""
    dst.mkdir(exist_ok=True)
    for path, info in walk(src):
        if stat.S_ISLNK(info.st_mode):
            os.symlink(os.readlink(src / path), dst / path)
        elif stat.S_ISDIR(info.st_mode):
            (dst / path).mkdir()
        else:
            _copy_file(src / path, dst / path, str(rel / path))


def _copy_file(src: Path, dst: Path, rel: str) -> None:
    """Copy a regular file; a FIFO, a socket or a device is refused, never read."""
    fd = os.open(src, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ArtifactError(
                f"{rel} is not a regular file; an artifact holds only files, directories "
                "and symlinks inside it"
            )
        with os.fdopen(os.dup(fd), "rb") as fin, open(dst, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
        os.chmod(dst, stat.S_IMODE(info.st_mode))
    finally:
        os.close(fd)


def inside(path: Path, top: Path) -> bool:
    return path == top or top in path.parents
