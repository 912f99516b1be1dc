"""What a bad pipeline file turns into: located problems, never a traceback.

`Problem` is the public shape (file, line, column, path inside the file, message).
`Finding` is the internal one the checks produce before anyone knows line numbers: a path
into the parsed data plus whether the key or the value is to blame. The loader turns
findings into problems with the file's source map in one place.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

DataPath = tuple[str | int, ...]
"""A path into the parsed file: mapping keys and list indices, e.g. ("stages", 1, "name")."""

Position = tuple[int, int]
"""1-based (line, column)."""

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one pipeline file, located as editors and terminals expect."""

    path: Path
    """The file, as the caller named it (relative stays relative)."""
    line: int
    column: int
    location: str
    """Where inside the file, e.g. `stages[1].actions[0].timeout`; "" for the whole file."""
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        if self.location:
            return f"{where}: {self.location}: {self.message}"
        return f"{where}: {self.message}"


class DefinitionError(Exception):
    """A pipeline file could not be loaded; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)


@dataclass(frozen=True)
class Finding:
    """A problem before it has a line number."""

    path: DataPath
    message: str
    at: Literal["key", "value"] = "value"
    """Blame the key (`unknown key`, `only for approval actions`) or the value at `path`."""
    position: Position | None = None
    """Set when the parser knows better than the path, e.g. a second, duplicate key."""


def render_path(path: DataPath) -> str:
    """`("stages", 1, "actions", 0, "timeout")` -> `stages[1].actions[0].timeout`.

    Keys that are not plain names (variables may hold dots or spaces) are quoted so the
    rendered path stays unambiguous.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def display_path(path: Path) -> Path:
    """A file as the user would type it: relative to the current directory when shorter."""
    try:
        rel = Path(os.path.relpath(path))
    except ValueError:
        return path
    return rel if len(str(rel)) < len(str(path)) else path
