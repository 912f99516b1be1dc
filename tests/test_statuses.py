"""Every status through every printer: the command line's and the console's.

Statuses are presented from one toolkit-free place (`Status.look`), so no front end can
forget one; this walks the whole enum through each place that shows one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from textual.widgets import DataTable

from pipedeck.cli import main
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.engine.events import ActionFinished, RunFinished, StageFinished
from pipedeck.engine.liveness import EngineLease
from pipedeck.store import PlannedAction, PlannedStage, Status, Store
from pipedeck.store.status import LOOKS
from pipedeck.tui.clock import Clock
from pipedeck.tui.look import icon
from pipedeck.tui.screens.history import HistoryScreen
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import RepoMaker
from tests.tui.conftest import console, until

ONE_STAGE = """
name: every
stages:
  - name: Only
    actions:
      - {name: step, kind: build, run: 'true'}
"""


def test_every_look_fits_a_column() -> None:
    for status in LOOKS:
        look = status.look
        assert len(look.icon) == 1, status
        assert look.colour and look.words, status


@pytest.fixture
def every_status(repo: RepoMaker) -> Iterator[RepoMaker]:
    """One run per status, its stage and action in that status too (a real store), owned
    by an engine that stays alive, so no recovery touches the active ones."""
    repo.pipeline(ONE_STAGE, name="every")
    sha = repo.commit("Every status")
    state = repo.root / ".git" / "pipedeck"
    store = Store(state)
    lease = EngineLease(state)
    try:
        for status in Status:
            run = store.create_run(
                "every",
                [PlannedStage("Only", [PlannedAction("step", "build", 1)])],
                commit=sha,
                commit_subject=f"ends {status.value}",
                branch="main",
                variables={},
                engine_id=lease.engine_id,
            )
            detail = store.detail(run)
            store.set_run_status(run.id, status, error=f"why {status.value}")
            store.set_stage_status(detail.stages[0].stage.id, status)
            store.set_action_status(detail.stages[0].actions[0].action.id, status)
    finally:
        store.close()
    yield repo
    lease.release()


def cli(repo: RepoMaker, *args: str) -> str:
    result = CliRunner().invoke(main, ["--repo", str(repo.root), *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def test_runs_and_show_print_every_status(every_status: RepoMaker) -> None:
    listed = cli(every_status, "runs").splitlines()
    assert len(listed) == len(Status)
    # Newest first: the last status made is the first row.
    for line, status in zip(listed, reversed(list(Status)), strict=True):
        assert f"{status.look.icon} {status.look.words}" in line, line
    for number, status in enumerate(Status, start=1):
        shown = cli(every_status, "show", f"every/{number}")
        words = f"{status.look.icon} {status.look.words}"
        assert shown.splitlines()[0].startswith(f"every/{number}  {words}"), shown
        assert f"{status.look.icon} Only  {status.look.words}" in shown
        assert f"step (build)  {status.look.words}" in shown
        as_json = json.loads(cli(every_status, "show", f"every/{number}", "--json"))
        assert as_json["status"] == status.value
    assert [r["status"] for r in json.loads(cli(every_status, "runs", "--json"))] == [
        s.value for s in reversed(list(Status))
    ]


def test_the_run_printers_say_every_status() -> None:
    fields = {"run_id": 1, "pipeline": "every", "number": 1}
    for status in Status:
        out, err = io.StringIO(), io.StringIO()
        human = HumanPrinter(out, err)
        human(ActionFinished(**fields, stage="Only", action="step", status=status.value))
        human(StageFinished(**fields, stage="Only", status=status.value))
        human(RunFinished(**fields, status=status.value))
        assert err.getvalue().splitlines() == [
            f"<-- Only/step {status.look.words}",
            f"==> every/1 {status.look.words}",
        ]
        machine = io.StringIO()
        JsonPrinter(machine)(RunFinished(**fields, status=status.value))
        assert json.loads(machine.getvalue())["status"] == status.value


def shows(graph: StageGraph, number: int) -> bool:
    return graph.detail is not None and graph.detail.run.number == number


async def test_the_console_shows_every_status(every_status: RepoMaker) -> None:
    # A frozen clock stills the spinner, so a running action shows its first frame.
    frozen = Clock(frozen_at=datetime(2026, 1, 2, tzinfo=UTC))
    async with console(every_status.root, clock=frozen) as (app, pilot):
        runs = app.main.query_one(RunList)
        graph = app.main.query_one(StageGraph)
        listed = {
            option.id: str(option.prompt).split()[0]
            for option in (runs.get_option_at_index(i) for i in range(runs.option_count))
            if (option.id or "").startswith("every/")
        }
        # The run list keeps a pipeline's newest eight runs (history has them all).
        newest = list(enumerate(Status, start=1))[-8:]
        assert listed == {f"every/{n}": s.look.icon for n, s in newest}
        for number, status in enumerate(Status, start=1):
            app.main.show_run(f"every/{number}")
            await until(pilot, lambda n=number: shows(graph, n), f"run {number} in the graph")
            assert f"{icon(status)} step" in graph.plain_text()
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
        history = app.screen
        assert isinstance(history, HistoryScreen)
        table = history.query_one(DataTable)
        await until(pilot, lambda: table.row_count == len(Status), "every run listed")
        cells = {str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        assert cells == {f"{icon(s)} {s.look.words}" for s in Status}
