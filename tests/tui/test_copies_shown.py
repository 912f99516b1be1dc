"""Shards are one action in the graph, a matrix one group: counted, selected and opened as such."""

from __future__ import annotations

import sys

from pipedeck.tui.screens.log_screen import LogScreen
from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import RepoMaker, run_cli
from tests.tui.conftest import console, until

PIPELINE = f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        parallel: 3
        reports: [report.xml]
        run: |
          "{sys.executable}" -m pytest -q -p no:cacheprovider -p no:asyncio \\
            $(pipedeck shard --glob 'tests/test_*.py') --junitxml=report.xml
      - name: lint
        kind: test
        matrix: {{python: ["3.11", "3.12"]}}
        fail_fast: false
        run: 'echo "linting for #{{matrix.python}}"'
"""


async def test_shards_are_one_box_line_and_a_matrix_one_group(repo: RepoMaker) -> None:
    for name in "abcdef":
        repo.write(f"tests/test_{name}.py", f"def test_{name}():\n    assert True\n")
    repo.write("tests/test_f.py", "def test_f():\n    assert False, 'f is broken'\n")
    repo.pipeline(PIPELINE)
    repo.commit("six tests, one failing")
    assert run_cli("run", "ci", cwd=repo.root, process=True).returncode == 1
    shown = run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout
    failed_shard = next(
        f"unit.{k}"
        for k in (1, 2, 3)
        if f'"name": "unit.{k}",\n          "kind": "test",\n          "status": "failed"' in shown
    )
    async with console(repo.root) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: "1 failed of 6" in graph.plain_text(), "the shards' counts")
        text = graph.plain_text()
        assert "✘ unit ×3 1 failed of 6" in text  # noqa: RUF001 - times, not an x
        assert f"✘ shard {failed_shard[-1]}/3 failed" in text
        assert "unit.1" not in text  # one line for the three
        assert "✔ lint ×2" in text  # noqa: RUF001
        assert "✔ python=3.11" in text and "✔ python=3.12" in text

        graph.select("Test", "unit.1")
        # The shards are selected as one: the one that failed is what opens.
        selected = graph.selected_action()
        assert selected is not None and selected.action.name == failed_shard
        assert [c.action.name for c in graph.selected_copies()] == ["unit.1", "unit.2", "unit.3"]
        graph.move(actions=1)
        selected = graph.selected_action()
        assert selected is not None and selected.action.label == "lint (python=3.11)"
        graph.move(actions=1)
        selected = graph.selected_action()
        assert selected is not None and selected.action.label == "lint (python=3.12)"
        graph.move(actions=-2)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen), "the shard's log")
        log = app.screen
        assert isinstance(log, LogScreen)
        assert log.path.name.startswith(failed_shard)
        assert "f is broken" in log.path.read_text()
