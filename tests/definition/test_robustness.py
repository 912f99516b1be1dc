"""No input makes the loader crash: every failure is a located problem."""

from __future__ import annotations

import random
from pathlib import Path

from pipedeck.definition import DefinitionError, Pipeline, load_pipeline

from .conftest import EXAMPLE

_NOISE = [*":-[]{}&*!|>'\"#%@`,?~\t \n", "<<: ", "- ", "  ", "\x00", "é", "on", "1.10"]


def _mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines(keepends=True)
    for _ in range(rng.randint(1, 4)):
        choice = rng.randrange(4)
        if choice == 0 and text:
            at = rng.randrange(len(text))
            text = text[:at] + text[at + 1 :]
        elif choice == 1:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(_NOISE) + text[at:]
        elif choice == 2 and lines:
            at = rng.randrange(len(lines))
            lines.insert(at, lines[at])
            text = "".join(lines)
        elif lines:
            a, b = rng.randrange(len(lines)), rng.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            text = "".join(lines)
    return text


def test_mutated_files_load_or_fail_with_located_problems(tmp_path: Path) -> None:
    rng = random.Random(20240601)
    path = tmp_path / "fuzz.yml"
    outcomes = {"loaded": 0, "rejected": 0}
    for _ in range(400):
        path.write_text(_mutate(EXAMPLE, rng), encoding="utf-8")
        try:
            assert isinstance(load_pipeline(path), Pipeline)
            outcomes["loaded"] += 1
        except DefinitionError as error:
            outcomes["rejected"] += 1
            for problem in error.problems:
                assert problem.line >= 1 and problem.column >= 1, problem
                assert problem.message, problem
    assert outcomes["loaded"] and outcomes["rejected"], outcomes


def test_random_bytes_never_crash(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "noise.yml"
    for _ in range(200):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 80))))
        try:
            load_pipeline(path)
        except DefinitionError as error:
            assert error.problems
