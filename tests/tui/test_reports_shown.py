"""The graph box of an action with test reports says what they say."""

from __future__ import annotations

from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import RepoMaker, run_cli
from tests.engine.test_reports import PIPELINE, TESTS
from tests.tui.conftest import console, until

PASSING = TESTS.replace("2 * 2 == 5", "2 * 2 == 4").replace("(broken)", "()")


async def test_the_box_counts_the_tests_failed_or_passed(repo: RepoMaker) -> None:
    repo.write("test_app.py", TESTS)
    repo.pipeline(PIPELINE)
    repo.commit("tests that fail")
    assert run_cli("run", "ci", cwd=repo.root, process=True).returncode == 1
    async with console(repo.root) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: "✘ unit 2 failed of 5" in graph.plain_text(), "the counts")
    repo.write("test_app.py", PASSING)
    repo.commit("tests that pass")
    assert run_cli("run", "ci", cwd=repo.root, process=True).returncode == 0
    async with console(repo.root) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: "✔ unit 4 passed" in graph.plain_text(), "the counts")
