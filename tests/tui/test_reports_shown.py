"""The graph box of an action with test reports says what they say."""

from __future__ import annotations

from textual.widgets import DataTable

from pipedeck.tui.screens.history import HistoryScreen
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
        # The history counts each run's tests, beside its status.
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 2, "its rows")
        assert [str(c) for c in table.get_row("ci/2")][:3] == ["ci/2", "✔ succeeded", "✔ 4 passed"]
        assert [str(c) for c in table.get_row("ci/1")][1:3] == ["✘ failed", "✘ 2 failed of 5"]
        assert [str(c.label) for c in table.columns.values()][:4] == [
            "run", "status", "tests", "commit",
        ]  # fmt: skip
