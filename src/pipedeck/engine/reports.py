"""Test reports: the JUnit XML files an action declares, kept with the run and read.

After a script action ends, failed or not, each `reports:` pattern is matched inside its
workspace. A match is kept only when it is a regular file inside the workspace (a symlink,
a FIFO or a device is not read: an action may leave anything there) and not too big; it is
copied into the run's `reports/<stage>/<action>/` and parsed from that copy with
junitparser. Whatever is wrong with a report — no file matched, not XML, not JUnit — is a
problem recorded on the action and written to its log; it never fails the action or the run.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from junitparser import Error, Failure, JUnitXml, Skipped, TestSuite

MAX_REPORT_BYTES = 50 * 1024 * 1024
"""A bigger file is not read: no real report is, and parsing one would stall the engine."""
MAX_MESSAGE = 4000
"""Characters of a failure's message and text kept per test case."""

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
OUTCOMES = (FAILED, ERROR, SKIPPED, PASSED)
"""In the order they are told: what needs looking at first."""


@dataclass(frozen=True, slots=True)
class Case:
    report: str
    """The report file it came from, relative to the workspace."""
    suite: str
    classname: str
    name: str
    duration: float | None
    outcome: str
    message: str | None


@dataclass
class Collected:
    cases: list[Case] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    """(report or pattern, what is wrong with it)."""
    kept: list[Path] = field(default_factory=list)


def collect(workspace: Path, patterns: list[str], keep: Path) -> Collected:
    """Find, keep and read the reports `patterns` name in `workspace` (in a thread: files)."""
    found = Collected()
    top = workspace.resolve()
    seen: set[Path] = set()
    for pattern in patterns:
        matches = sorted(top.glob(pattern)) if top.is_dir() else []
        if not matches:
            found.problems.append((pattern, "no file matches it"))
        for path in matches:
            rel = path.relative_to(top).as_posix()
            if path in seen:
                continue
            seen.add(path)
            problem = _unreadable(top, path)
            if problem is not None:
                found.problems.append((rel, problem))
                continue
            copy = keep / f"{len(found.kept) + 1}-{path.name}"
            keep.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
            os.chmod(copy, 0o600)
            found.kept.append(copy)
            try:
                found.cases.extend(_cases(rel, copy))
            except Exception as exc:  # outside bytes: whatever they break is a problem of theirs
                found.problems.append((rel, f"not JUnit XML ({exc})"))
    return found


def _unreadable(top: Path, path: Path) -> str | None:
    """Why `path` is not read as a report, or None."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if stat.S_ISLNK(info.st_mode):
        return "is a symlink, not read"
    if not stat.S_ISREG(info.st_mode):
        return "is not a regular file, not read"
    if not path.resolve().is_relative_to(top):
        return "is outside the workspace, not read"
    if info.st_size > MAX_REPORT_BYTES:
        return f"is larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB, not read"
    return None


def _parse(path: Path) -> Any:
    # The standard library's parser: it resolves no external entity, whatever is installed.
    return ElementTree.parse(path)


def _cases(rel: str, path: Path) -> list[Case]:
    xml = JUnitXml.fromfile(str(path), parse_func=_parse)
    suites = [xml] if isinstance(xml, TestSuite) else list(xml)
    cases = []
    for suite in suites:
        for case in suite:
            outcome, message = _outcome(case.result)
            cases.append(
                Case(
                    report=rel,
                    suite=str(suite.name or ""),
                    classname=str(case.classname or ""),
                    name=str(case.name or ""),
                    duration=case.time,
                    outcome=outcome,
                    message=message,
                )
            )
    return cases


def _outcome(results: Sequence[object]) -> tuple[str, str | None]:
    for kind, outcome in ((Error, ERROR), (Failure, FAILED), (Skipped, SKIPPED)):
        for result in results:
            if isinstance(result, kind):
                said = " ".join(p for p in (result.message, result.text) if p)
                return outcome, said[:MAX_MESSAGE] or None
    return PASSED, None
