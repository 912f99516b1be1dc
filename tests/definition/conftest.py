"""Fixtures for the definition tests: real pipeline files written to a temporary folder."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pipedeck.definition import DefinitionError, load_pipeline

EXAMPLE = """\
name: release
trigger: {branches: [main], paths: ["src/**", "pyproject.toml"]}
execution_mode: superseded
variables: {APP: demo}
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: wheel
        kind: build
        inputs: [source]
        run: python -m build --wheel --outdir "$PIPEDECK_OUTPUT_WHEEL"
        outputs: [wheel]
        timeout: 10m
  - name: Test
    actions:
      - {name: unit, kind: test, inputs: [source], run: pytest -q}
      - {name: lint, kind: test, inputs: [source], run: ruff check .}
  - name: Approve
    actions:
      - {name: ship-it, kind: approval, message: "Deploy to production?", timeout: 7d}
  - name: Production
    actions:
      - {name: deploy, kind: deploy, environment: production, inputs: [wheel], run: ./deploy.sh}
"""

Write = Callable[..., Path]
Problems = Callable[[str], list[str]]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write a pipeline file (dedented) into tmp_path and return its path."""

    def _write(text: str, name: str = "pipeline.yml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write


@pytest.fixture
def problems(write: Write) -> Problems:
    """Write a file that must fail to load; return its problems as `line:col: where: what`."""

    def _problems(text: str) -> list[str]:
        path = write(text)
        with pytest.raises(DefinitionError) as info:
            load_pipeline(path)
        found = info.value.problems
        assert found, "a DefinitionError always lists its problems"
        assert all(p.path == path for p in found)
        return [str(p).removeprefix(f"{path}:") for p in found]

    return _problems
