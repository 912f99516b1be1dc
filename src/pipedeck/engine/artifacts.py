"""Artifacts and workspaces: immutable named directories, and fresh copies to work in.

An artifact is frozen (write bits removed) once its producing action succeeded. A workspace is
a writable copy of the action's first input artifact, like CodeBuild's primary source. Files
an output collects by glob must stay inside the workspace: absolute patterns, `..`, and
symlinks that point outside are refused with an `ArtifactError` the action reports as its
failure.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

_WRITE_BITS = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH


class ArtifactError(Exception):
    """An output that cannot be collected as declared."""


def env_suffix(name: str) -> str:
    """`wheel-files` -> `WHEEL_FILES`: how artifact names appear in variable names."""
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def copy_tree(src: Path, dst: Path) -> None:
    """Copy `src` into `dst` (created), writable, keeping exec bits and symlinks as links."""
    dst.mkdir(parents=True, exist_ok=True)
    for root, dirs, files in os.walk(src):
        rel = Path(root).relative_to(src)
        target = dst / rel
        for d in list(dirs):
            source = Path(root, d)
            if source.is_symlink():
                dirs.remove(d)
                os.symlink(os.readlink(source), target / d)
            else:
                (target / d).mkdir(exist_ok=True)
        for f in files:
            source = Path(root, f)
            if source.is_symlink():
                os.symlink(os.readlink(source), target / f)
                continue
            shutil.copyfile(source, target / f)
            os.chmod(target / f, (source.stat().st_mode & 0o777) | stat.S_IWUSR)


def freeze(path: Path) -> None:
    """Remove write bits everywhere below `path` (and on it): the artifact is final."""
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files + dirs:
            p = Path(root, name)
            if p.is_symlink():
                continue
            if p.is_file() and p.stat().st_nlink > 1:
                _unshare(p)
            p.chmod(p.stat().st_mode & ~_WRITE_BITS)
    path.chmod(path.stat().st_mode & ~_WRITE_BITS)


def _unshare(path: Path) -> None:
    """Replace a hard link by a private copy, so freezing it cannot touch files elsewhere."""
    tmp = path.with_name(path.name + ".pipedeck-copy")
    shutil.copy2(path, tmp)
    tmp.replace(path)


def thaw(path: Path) -> None:
    """Give write bits back so a frozen tree can be removed (retention, tests)."""
    if not path.exists():
        return
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    for root, dirs, files in os.walk(path):
        for name in files + dirs:
            p = Path(root, name)
            if not p.is_symlink():
                p.chmod(p.stat().st_mode | stat.S_IWUSR)


def remove_tree(tree: Path) -> None:
    """Delete a tree an earlier attempt left, frozen or not."""
    if tree.exists():
        thaw(tree)
        shutil.rmtree(tree)


def check_contained(tree: Path) -> None:
    """Refuse symlinks inside `tree` that resolve outside it."""
    top = tree.resolve()
    for root, dirs, files in os.walk(tree):
        for name in dirs + files:
            p = Path(root, name)
            if p.is_symlink() and not inside(p.resolve(), top):
                link = p.relative_to(tree)
                raise ArtifactError(
                    f"{link} is a symlink to {os.readlink(p)}, outside the artifact; refused"
                )


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
        if hit.is_dir():
            copy_tree(hit, target)
            check_contained(target)
        else:
            shutil.copy2(hit.resolve(), target)
    return matched


def inside(path: Path, top: Path) -> bool:
    return path == top or top in path.parents
