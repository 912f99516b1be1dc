"""One action written, several run: `parallel: N` shards and `matrix:` combinations.

A stage expands such an action into its copies when it is validated (`Stage._expand`), so the
store records, the engine runs and the console shows the copies themselves. Each copy keeps
what it is a copy of (`Expansion`): the name written in the file, its place among the shards
or its combination, and how people see it. The rules here follow GitHub Actions' matrix:
the product of the keys' values in the order written, `exclude` entries remove every
combination they match, `include` entries extend the combinations they do not contradict
or else add one of their own.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

MAX_SHARDS = 64
MAX_COMBINATIONS = 256
"""GitHub's bound too: past it a typo (a long list crossed with another) floods the machine."""
MAX_NAME = 100
"""As `model.MAX_NAME`: a copy's name becomes a directory name."""
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_RESERVED = ("include", "exclude")

Cell = tuple[tuple[str, str], ...]
"""One combination: (key, value) pairs, keys in the order the matrix declares them."""


@dataclass(frozen=True)
class Matrix:
    axes: tuple[tuple[str, tuple[str, ...]], ...]
    include: tuple[Cell, ...] = ()
    exclude: tuple[Cell, ...] = ()

    def cells(self) -> list[Cell]:
        """Every combination that runs, in order."""
        keys = [key for key, _ in self.axes]
        product = [
            tuple(zip(keys, values, strict=True))
            for values in itertools.product(*(values for _, values in self.axes))
        ]
        if not self.axes:
            product = []
        product = [c for c in product if not any(_matches(c, e) for e in self.exclude)]
        cells = [dict(c) for c in product]
        added: list[dict[str, str]] = []
        for entry in self.include:
            extended = False
            for cell in cells:
                # An entry may not change a value the keys gave; values include added may.
                if all(cell.get(k, v) == v for k, v in entry if k in keys):
                    cell.update({k: v for k, v in entry if k not in keys})
                    extended = True
            if not extended:
                added.append(dict(entry))
        return [tuple(c.items()) for c in [*cells, *added]]


@dataclass(frozen=True)
class Expansion:
    group: str
    """The action's name as written in the file."""
    label: str
    """`unit 2/3`, `test (python=3.12, db=sqlite)`."""
    shard: int | None = None
    """1-based."""
    shards: int | None = None
    cell: Cell | None = None

    @property
    def values(self) -> dict[str, str]:
        return dict(self.cell or ())


def _matches(cell: Cell, entry: Cell) -> bool:
    given = dict(cell)
    return all(given.get(k) == v for k, v in entry)


def _text(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise ValueError(f"{where}: a matrix value is text or a number, not {type(value).__name__}")


def _entries(value: Any, what: str, allowed: set[str] | None) -> tuple[Cell, ...]:
    if not isinstance(value, list):
        raise ValueError(f"matrix {what} is a list of mappings, e.g. [{{python: '3.13'}}]")
    entries: list[Cell] = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict) or not entry:
            raise ValueError(f"matrix {what}[{index}] is a mapping of matrix keys to values")
        for key in entry:
            _check_key(key)
            if allowed is not None and key not in allowed:
                known = ", ".join(sorted(allowed))
                raise ValueError(
                    f"matrix {what}[{index}] names {key!r}, not a matrix key ({known})"
                )
        entries.append(tuple((k, _text(v, f"{what}[{index}].{k}")) for k, v in entry.items()))
    return tuple(entries)


def _check_key(key: Any) -> None:
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError(
            f"matrix key {key!r} must be letters, digits and _ (it names #{{matrix.KEY}}"
            " and $PIPEDECK_MATRIX_KEY)"
        )


def parse_matrix(value: Any) -> Any:
    """The file's mapping as a `Matrix`, or a ValueError saying what is wrong with it."""
    if isinstance(value, Matrix):
        return value
    if not isinstance(value, dict):
        raise ValueError("a matrix maps keys to lists of values, e.g. {python: ['3.12', '3.13']}")
    axes: list[tuple[str, tuple[str, ...]]] = []
    for key, values in value.items():
        if key in _RESERVED:
            continue
        _check_key(key)
        if not isinstance(values, list) or not values:
            raise ValueError(f"matrix key {key!r} needs a list of one or more values")
        texts = tuple(_text(v, key) for v in values)
        if len(set(texts)) != len(texts):
            raise ValueError(f"matrix key {key!r} lists a value twice")
        axes.append((key, texts))
    keys = {k for k, _ in axes}
    matrix = Matrix(
        axes=tuple(axes),
        include=_entries(value["include"], "include", None) if "include" in value else (),
        exclude=_entries(value["exclude"], "exclude", keys) if "exclude" in value else (),
    )
    every = keys | {k for entry in matrix.include for k, _ in entry}
    if len({k.upper() for k in every}) != len(every):
        raise ValueError("matrix keys differ only in case; each names $PIPEDECK_MATRIX_<KEY>")
    if not axes and not matrix.include:
        raise ValueError("a matrix needs a key with values, e.g. {python: ['3.12', '3.13']}")
    count = len(matrix.cells()) if _product_size(axes) <= MAX_COMBINATIONS * 4 else -1
    if count < 0 or count > MAX_COMBINATIONS:
        raise ValueError(f"the matrix makes more than {MAX_COMBINATIONS} combinations")
    if count == 0:
        raise ValueError("the matrix makes no combination: exclude removes every one")
    return matrix


def _product_size(axes: list[tuple[str, tuple[str, ...]]]) -> int:
    size = 1
    for _, values in axes:
        size *= len(values)
    return size


def expand(name: str, parallel: int | None, matrix: Matrix | None) -> list[tuple[str, Expansion]]:
    """The copies of action `name`: each one's own name (a file name) and what it is."""
    if parallel:
        return [
            (
                _fit(f"{name}.{k}", name, f".{k}"),
                Expansion(name, f"{name} {k}/{parallel}", k, parallel),
            )
            for k in range(1, parallel + 1)
        ]
    assert matrix is not None
    copies: list[tuple[str, Expansion]] = []
    taken: set[str] = set()
    for index, cell in enumerate(matrix.cells(), start=1):
        words = "-".join(_UNSAFE.sub("_", v) for _, v in cell)
        wanted = _fit(f"{name}-{words}", name, f"-{index}")
        copy, extra = wanted, 1
        while copy in taken:  # values that differ only in characters a file name cannot hold
            copy = _fit(
                f"{wanted}-{index}" + (f".{extra}" if extra > 1 else ""), name, f"-{index}.{extra}"
            )
            extra += 1
        taken.add(copy)
        shown = ", ".join(f"{k}={_short(v)}" for k, v in cell)
        copies.append((copy, Expansion(name, f"{name} ({shown})", cell=cell)))
    return copies


def _short(value: str) -> str:
    """A value as a label shows it: a very long one would crowd every line it is on."""
    return value if len(value) <= 40 else value[:39] + "…"


def _fit(wanted: str, base: str, suffix: str) -> str:
    if len(wanted) <= MAX_NAME:
        return wanted
    return base[: MAX_NAME - len(suffix)] + suffix


MATRIX_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Keys to lists of values; `include`/`exclude` as in GitHub Actions.",
    "properties": {
        "include": {"type": "array", "items": {"type": "object"}},
        "exclude": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": {
        "type": "array",
        "minItems": 1,
        "items": {"type": ["string", "number", "boolean"]},
    },
}
