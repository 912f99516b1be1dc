"""Loading pipeline files: read, parse, validate, check the rules, locate every problem.

This is the one place where anything wrong with a file's content becomes a `Problem`;
callers get a `Pipeline` or a `DefinitionError` listing all problems of the file, never
a traceback. A directory load keeps going past broken files so one typo does not hide
every other pipeline.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipedeck.definition import messages, rules
from pipedeck.definition.errors import DefinitionError, Finding, Problem, render_path
from pipedeck.definition.model import Pipeline
from pipedeck.definition.references import SUFFIXES
from pipedeck.definition.yamlsource import SourceError, SourceMap, parse


@dataclass
class LoadResult:
    """Every pipeline of a directory that loaded, and every problem of those that did not."""

    pipelines: list[Pipeline] = field(default_factory=list)
    """Sorted by file name; of two files declaring the same name, only the first."""
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Loaded:
    pipeline: Pipeline | None
    problems: list[Problem]
    source_map: SourceMap | None = None


LOADER_FIELDS = ("path", "sha256", "source")
"""Fields of `Pipeline` the loader sets; a file that writes them is wrong."""


def load_pipeline(path: Path) -> Pipeline:
    """The pipeline in `path`, with `path` set on it; raises DefinitionError otherwise."""
    return load_file(path, None)


def load_file(path: Path, root: Path | None) -> Pipeline:
    """The pipeline in `path`, read once (its `source` is exactly the bytes parsed), refused
    unread when it is a symlink out of `root` or not a regular file."""
    loaded = _load(path, root.resolve() if root is not None else None)
    if loaded is None:
        message = f"cannot read file: {os.strerror(errno.EISDIR)}"
        raise DefinitionError([Problem(path, 1, 1, "", message)])
    if loaded.pipeline is None:
        raise DefinitionError(loaded.problems)
    return loaded.pipeline


def load_source(path: Path, raw: bytes) -> Pipeline:
    """The pipeline `raw` says, as if read from `path` (the bytes a run kept)."""
    loaded = _parse(path, raw)
    if loaded.pipeline is None:
        raise DefinitionError(loaded.problems)
    return loaded.pipeline


def load_pipelines(directory: Path) -> LoadResult:
    """Every `*.yml` / `*.yaml` file directly in `directory` (hidden files skipped).

    A directory that is missing or unreadable is one problem; an empty one is no pipelines.
    So is the directory itself being a symlink out of the repository (the directory's
    parent): a clone can bring one, and its files are never read. A file that is a symlink
    out of the repository, a FIFO or a device is a problem of its own, and is never read.
    """
    root = directory.parent.resolve()
    if directory.is_symlink():
        real = directory.resolve()
        if real != root and root not in real.parents:
            message = f"is a symlink to {os.readlink(directory)}, outside the repository; refused"
            return LoadResult(problems=[Problem(directory, 1, 1, "", message)])
    try:
        files = sorted(
            (p for p in directory.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
    except OSError as exc:
        message = f"cannot read the pipelines directory: {exc.strerror or exc}"
        return LoadResult(problems=[Problem(directory, 1, 1, "", message)])
    return _collect((path, _load(path, root)) for path in files)


def load_committed(
    directory: Path, files: list[tuple[str, bool, bytes]], commit: str
) -> LoadResult:
    """The pipelines of `files` (name, is a symlink, content), read from `directory` of
    `commit`: what a run of that commit runs, whatever the working tree holds now."""
    loaded: list[tuple[Path, _Loaded | None]] = []
    for name, is_link, content in sorted(files):
        if Path(name).suffix not in SUFFIXES or name.startswith("."):
            continue
        path = directory / name
        if is_link:
            message = f"is a symlink in commit {commit[:7]}; a pipeline file is run only as a file"
            loaded.append((path, _Loaded(None, [Problem(path, 1, 1, "", message)])))
        else:
            loaded.append((path, _parse(path, content)))
    return _collect(loaded)


def _collect(loaded: Iterable[tuple[Path, _Loaded | None]]) -> LoadResult:
    result = LoadResult()
    first_file: dict[str, Path] = {}
    for path, one in loaded:
        if one is None:
            continue
        result.problems.extend(one.problems)
        pipeline = one.pipeline
        if pipeline is None or one.source_map is None:
            continue
        if pipeline.name in first_file:
            line, column = one.source_map.value(("name",))
            message = (
                f"pipeline name {pipeline.name!r} is already used by {first_file[pipeline.name]}"
            )
            result.problems.append(Problem(path, line, column, "name", message))
            continue
        first_file[pipeline.name] = path
        result.pipelines.append(pipeline)
    return result


def _load(path: Path, root: Path | None = None) -> _Loaded | None:
    """Read and parse `path`; None for a directory that merely has a pipeline's name."""
    raw = _read(path, root)
    return raw if not isinstance(raw, bytes) else _parse(path, raw)


def _read(path: Path, root: Path | None) -> bytes | _Loaded | None:
    def problem(message: str) -> _Loaded:
        return _Loaded(None, [Problem(path, 1, 1, "", message)])

    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            target = os.readlink(path)
            real = path.resolve()
            if root is not None and real != root and root not in real.parents:
                # Never read: its content would be quoted back in any error, and its trust
                # would be borrowed from another repository.
                return problem(f"is a symlink to {target}, outside the repository; refused")
            info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            return None
        if not stat.S_ISREG(info.st_mode):
            return problem("is not a regular file (a FIFO, a socket or a device); refused")
        # O_NONBLOCK: a file swapped for a FIFO after the check still cannot hang the read.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return problem("is not a regular file (a FIFO, a socket or a device); refused")
            return f.read()
    except OSError as exc:
        return problem(f"cannot read file: {exc.strerror or exc}")


def _parse(path: Path, raw: bytes) -> _Loaded:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})"
        return _Loaded(None, [Problem(path, 1, 1, "", message)])
    try:
        parsed = parse(text)
    except SourceError as exc:
        return _Loaded(None, _located(path, [exc.finding], SourceMap()))
    source_map, data = parsed.source_map, parsed.data
    findings = list(parsed.findings)
    if data is None:
        findings.append(Finding((), "the file is empty; a pipeline needs 'name' and 'stages'"))
        return _Loaded(None, _located(path, findings, source_map))
    if not isinstance(data, dict):
        message = f"the top level must be a mapping with 'name' and 'stages', not {_kind(data)}"
        findings.append(Finding((), message))
        return _Loaded(None, _located(path, findings, source_map))
    pipeline = _validate(path, raw, data, findings)
    findings.extend(rules.check(data, lambda p: source_map.value(p)[0]))
    problems = _located(path, findings, source_map)
    return _Loaded(None if problems else pipeline, problems, source_map)


def _validate(
    path: Path, raw: bytes, data: dict[str, Any], findings: list[Finding]
) -> Pipeline | None:
    for key in LOADER_FIELDS:
        if key in data:
            # The model's record of where and what it was loaded from, not a file setting.
            allowed = messages.fields_at(())
            findings.append(Finding((key,), messages.unknown_key(key, allowed), "key"))
            data = {k: v for k, v in data.items() if k != key}
    try:
        loaded = {"path": path, "sha256": hashlib.sha256(raw).hexdigest(), "source": raw}
        return Pipeline.model_validate({**data, **loaded})
    except ValidationError as exc:
        findings.extend(messages.translate(exc, data))
        return None


def _located(path: Path, findings: list[Finding], source_map: SourceMap) -> list[Problem]:
    """Problems in file order, each reported once."""
    problems: dict[Problem, None] = {}
    for finding in findings:
        if finding.position is not None:
            line, column = finding.position
        elif finding.at == "key":
            line, column = source_map.key(finding.path)
        else:
            line, column = source_map.value(finding.path)
        location = render_path(finding.path)
        problems.setdefault(Problem(path, line, column, location, finding.message))
    return sorted(problems, key=lambda p: (p.line, p.column))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"the text {value!r}"
