"""History: every run newest first, filtered by pipeline, status and text; enter shows a run."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from pipedeck.engine import Engine, Project
from pipedeck.store import RunRecord, Status
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.history import HistoryScreen
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import FAST, RepoMaker
from tests.tui.conftest import console, text_of, until

GATED = """
name: ci
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Gate
    actions: [{name: ok, kind: approval, timeout: 1h}]
  - name: Ship
    actions: [{name: deploy, kind: deploy, run: 'echo shipped'}]
"""

NIGHTLY = """
name: nightly
stages:
  - name: Check
    actions: [{name: lint, kind: test, run: 'echo clean'}]
"""

NEWEST_FIRST = ["ci/3", "nightly/1", "ci/2", "ci/1"]


async def run_through(
    engine: Engine, name: str, decision: tuple[str, str, str | None] | None = None
) -> RunRecord:
    """Run `name` on HEAD to its end; `decision` is (result, by, comment) for its approval."""
    store = engine.project.store
    run = await engine.start(engine.project.pipeline(name))
    if decision is not None:
        result, by, comment = decision
        while not store.waiting_approvals(run.id):
            await asyncio.sleep(0.02)
        current = store.run_by_id(run.id)
        if result == "approved":
            engine.approve(current, comment, by=by)
        else:
            assert comment is not None
            engine.reject(current, comment, by=by)
    return await engine.wait(run)


async def make_history(repo: RepoMaker) -> dict[str, str]:
    """Four runs on three commits, decided by three people; returns subject → SHA."""
    repo.pipeline(GATED)
    repo.pipeline(NIGHTLY, name="nightly")
    shas = {"Add the pipelines": repo.commit("Add the pipelines")}
    project = Project.open(repo.root)
    engine = Engine(project, FAST)
    try:
        first = await run_through(engine, "ci", ("approved", "ada", "fine"))
        shas["Fix the checkout total"] = repo.commit("Fix the checkout total")
        second = await run_through(engine, "ci", ("rejected", "grace", "total still wrong"))
        third = await run_through(engine, "nightly")
        shas["Speed up the tests"] = repo.commit("Speed up the tests")
        fourth = await run_through(engine, "ci", ("approved", "alan", None))
    finally:
        await engine.close()
        project.close()
    statuses = [r.status for r in (first, second, third, fourth)]
    assert statuses == [Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED, Status.SUCCEEDED]
    return shas


async def open_history(app: PipedeckApp, pilot: Pilot[None]) -> HistoryScreen:
    await pilot.press("h")
    await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    count = screen.query_one("#count", Static)
    await until(pilot, lambda: screen.is_mounted and bool(text_of(count)), "its rows")
    return screen


async def choose(pilot: Pilot[None], select: Select[str], label: str) -> None:
    """Pick `label` in a Select with the keyboard: open it, type to find, enter."""
    select.focus()
    await pilot.press("enter")
    await until(pilot, lambda: select.expanded, "the menu to open")
    await pilot.press(*label, "enter")
    await until(pilot, lambda: select.value == label, f"{label} to be chosen")


async def test_every_run_newest_first_then_filtered(repo: RepoMaker) -> None:
    shas = await make_history(repo)
    fix = shas["Fix the checkout total"]
    async with console(repo.root) as (app, pilot):
        history = await open_history(app, pilot)
        assert history.visible_keys() == NEWEST_FIRST
        assert text_of(history.query_one("#count", Static)) == "4 of 4 runs"
        table = history.query_one(DataTable)
        assert table.has_focus
        row = [str(cell) for cell in table.get_row("ci/2")]
        assert row[0] == "ci/2"
        assert "failed" in row[1]
        assert row[2:5] == [fix[:7], "Fix the checkout total", "main"]
        assert row[7] == "grace"

        pipeline = history.query_one("#pipeline", Select)
        status = history.query_one("#status", Select)
        text = history.query_one("#text", Input)

        await choose(pilot, pipeline, "ci")
        assert history.visible_keys() == ["ci/3", "ci/2", "ci/1"]
        await choose(pilot, status, "failed")
        assert history.visible_keys() == ["ci/2"]
        assert text_of(history.query_one("#count", Static)) == "1 of 4 runs"
        pipeline.clear()
        status.clear()
        await pilot.pause()
        assert history.visible_keys() == NEWEST_FIRST

        await pilot.press("slash")
        assert text.has_focus
        searches = [
            (fix[:6], ["nightly/1", "ci/2"]),  # a commit SHA prefix
            ("SPEED", ["ci/3"]),  # a subject, whatever the case
            ("grace", ["ci/2"]),  # who decided (words that cannot be in a SHA)
            ("alan", ["ci/3"]),
            ("zq", []),
        ]
        for words, expected in searches:
            await pilot.press("home", "ctrl+k", *words)
            assert history.visible_keys() == expected, words
        assert text_of(history.query_one("#count", Static)) == "0 of 4 runs"

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


async def test_enter_on_a_row_shows_that_run_and_escape_changes_nothing(
    repo: RepoMaker,
) -> None:
    await make_history(repo)
    async with console(repo.root) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: graph.detail is not None, "the newest run")
        assert graph.detail is not None and graph.detail.run.key == "ci/3"

        await open_history(app, pilot)
        await pilot.press("down", "escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.pause(0.3)
        assert graph.detail is not None and graph.detail.run.key == "ci/3"

        history = await open_history(app, pilot)
        assert history.visible_keys()[2] == "ci/2"
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await until(
            pilot,
            lambda: graph.detail is not None and graph.detail.run.key == "ci/2",
            "the graph to show ci/2",
        )
        assert graph.detail is not None
        assert graph.detail.run.status is Status.FAILED
        statuses = {a.action.name: a.action.status for _, a in graph.detail.actions()}
        assert statuses == {
            "checkout": Status.SUCCEEDED,
            "ok": Status.REJECTED,
            "deploy": Status.SKIPPED,
        }
        # It stays on the chosen run through later refreshes.
        await pilot.pause(0.3)
        assert graph.detail.run.key == "ci/2"


async def test_the_run_list_highlights_the_run_chosen_in_history(repo: RepoMaker) -> None:
    await make_history(repo)
    async with console(repo.root) as (app, pilot):
        history = await open_history(app, pilot)
        assert history.visible_keys()[2] == "ci/2"
        await pilot.press("down", "down", "enter")
        graph = app.main.query_one(StageGraph)
        await until(
            pilot,
            lambda: graph.detail is not None and graph.detail.run.key == "ci/2",
            "the graph to show ci/2",
        )
        await pilot.pause(0.3)
        runs = app.main.query_one(RunList)
        assert runs.highlighted_option is not None
        assert runs.highlighted_option.id == "ci/2"


async def test_R_runs_a_runs_commit_again_with_its_pipeline_as_committed(
    repo: RepoMaker,
) -> None:
    shas = await make_history(repo)
    repo.pipeline(NIGHTLY.replace("echo clean", "exit 3"), name="nightly")
    repo.commit("Break the nightly check")
    async with console(repo.root) as (app, pilot):
        store = app.client.store
        history = await open_history(app, pilot)
        assert history.visible_keys()[1] == "nightly/1"
        await pilot.press("down", "R")
        await until(pilot, lambda: store.runs("nightly", limit=1)[0].number == 2, "nightly/2")
        again = store.runs("nightly", limit=1)[0]
        assert (again.commit, again.trigger) == (shas["Fix the checkout total"], "again: nightly/1")
        await until(
            pilot,
            lambda: store.runs("nightly", limit=1)[0].status is Status.SUCCEEDED,
            "nightly/2 to pass with the file as it was",
        )
