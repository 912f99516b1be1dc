"""The console as the repository's engine or as a client; retry, transitions, trust by key."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from textual.widgets import Input, Static

from pipedeck.engine.trust import TrustStore
from pipedeck.store import Status
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.confirm import ConfirmScreen, PromptScreen
from pipedeck.tui.screens.history import HistoryScreen
from pipedeck.tui.screens.trust import TrustDialog
from pipedeck.tui.widgets.key_bar import KeyBar
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import RepoMaker
from tests.tui.conftest import (
    action_statuses,
    console,
    decide,
    latest,
    notifications,
    text_of,
    until,
)

FLAKY = """
name: ci
stages:
  - name: Build
    actions:
      - {name: compile, kind: build, run: 'echo compiled'}
  - name: Test
    actions:
      - name: unit
        kind: test
        run: |
          while [ -e "$PIPEDECK_REPO_ROOT/hold-test" ]; do sleep 0.05; done
          test -e "$PIPEDECK_REPO_ROOT/fixed" && echo ok
  - name: Deploy
    actions:
      - name: ship
        kind: deploy
        run: 'while [ -e "$PIPEDECK_REPO_ROOT/hold" ]; do sleep 0.05; done; echo shipped'
"""


def flaky_repo(repo: RepoMaker, trusted: bool = True) -> Path:
    path = repo.pipeline(FLAKY)
    repo.commit("pipeline")
    if trusted:
        TrustStore().trust(path)
    return path


def header(app: object) -> str:
    return text_of(app.main.query_one("#header", Static))  # type: ignore[attr-defined]


def drawn(graph: StageGraph) -> str:
    """The graph as the terminal shows it, as plain text."""
    return graph.plain_text()


def run_labels(app: object) -> list[str]:
    runs = app.main.query_one(RunList)  # type: ignore[attr-defined]
    return [str(runs.get_option_at_index(i).prompt) for i in range(runs.option_count)]


async def test_R_retries_the_failed_run_in_place(repo: RepoMaker) -> None:
    flaky_repo(repo)
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(
            pilot, lambda: (r := latest(app)) is not None and r.status is Status.FAILED, "fail"
        )
        (repo.root / "fixed").touch()
        await pilot.press("R")
        await until(pilot, lambda: latest(app).status is Status.SUCCEEDED, "the retried run")  # type: ignore[union-attr]
        run = latest(app)
        assert run is not None and run.number == 1
        assert any("ci/1 retried" in n for n in notifications(app))
        detail = app.client.store.detail(run)
        unit = next(a for _, a in detail.actions() if a.action.name == "unit")
        assert unit.action.attempt == 2 and unit.earlier[0].status is Status.FAILED


async def test_d_disables_the_transition_into_the_selected_stage_and_enables_it(
    repo: RepoMaker,
) -> None:
    flaky_repo(repo)
    (repo.root / "fixed").touch()
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: (r := latest(app)) is not None and not r.status.active, "run")
        graph = app.main.query_one(StageGraph)
        await pilot.press("right", "right", "right")  # to Deploy, the last stage
        assert graph.selected_stage_name() == "Deploy"
        await pilot.press("d")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press("enter")  # an empty reason is refused
        assert isinstance(app.screen, PromptScreen)
        app.screen.query_one(Input).value = "release freeze"
        await pilot.press("enter")
        held = app.client.store.transitions.disabled("ci", "Deploy")
        assert held is not None and held.reason == "release freeze"
        # A new run stops before Deploy, and the graph says why and who waits.
        await pilot.press("s")
        await until(pilot, lambda: latest(app).waiting_for == "Deploy", "held")  # type: ignore[union-attr]
        await until(pilot, lambda: "⛔ held: release freeze" in drawn(graph), "the held mark")
        assert any("⏳Deploy" in label for label in run_labels(app))
        await pilot.press("right", "right", "right")  # to Deploy, the last stage
        assert graph.selected_stage_name() == "Deploy"
        await pilot.press("d")
        assert app.client.store.transitions.disabled("ci", "Deploy") is None
        await until(pilot, lambda: latest(app).status is Status.SUCCEEDED, "went on")  # type: ignore[union-attr]


async def test_T_shows_the_commands_and_trusts_the_file(repo: RepoMaker) -> None:
    path = flaky_repo(repo, trusted=False)
    async with console(repo.root) as (app, pilot):
        await until(
            pilot, lambda: any("not trusted (T)" in label for label in run_labels(app)), "mark"
        )
        await pilot.press("T")
        assert isinstance(app.screen, TrustDialog)
        shown = " ".join(text_of(s) for s in app.screen.query(Static))
        assert 'test -e "$PIPEDECK_REPO_ROOT/fixed"' in shown
        await pilot.press("y")
        assert TrustStore().check(path).trusted
        await until(
            pilot, lambda: not any("not trusted" in label for label in run_labels(app)), "mark gone"
        )


async def test_C_cancels_after_the_running_actions(repo: RepoMaker) -> None:
    flaky_repo(repo)
    (repo.root / "fixed").touch()
    (repo.root / "hold-test").touch()
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(
            pilot,
            lambda: (
                (r := latest(app)) is not None
                and action_statuses(app, r)["Test/unit"] is Status.RUNNING
            ),
            "testing",
        )
        await pilot.press("C")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await until(pilot, lambda: latest(app).cancel_mode == "wait", "request")  # type: ignore[union-attr]
        (repo.root / "hold-test").unlink()
        await until(pilot, lambda: latest(app).status is Status.CANCELLED, "stopped")  # type: ignore[union-attr]
        run = latest(app)
        assert run is not None
        statuses = action_statuses(app, run)
        assert statuses["Test/unit"] is Status.SUCCEEDED
        assert statuses["Deploy/ship"] is Status.SKIPPED


async def test_the_console_watches_and_runs_new_commits(repo: RepoMaker) -> None:
    flaky_repo(repo)
    (repo.root / "fixed").touch()
    async with console(repo.root) as (app, pilot):
        await until(pilot, lambda: "watching for commits" in header(app), "the header")
        new = repo.commit("feature")
        await until(pilot, lambda: (r := latest(app)) is not None and r.commit == new, "a run")
        run = latest(app)
        assert run is not None and run.trigger == "push to main"


async def test_a_second_console_is_a_client_of_the_first(repo: RepoMaker) -> None:
    flaky_repo(repo)
    (repo.root / "fixed").touch()
    async with console(repo.root) as (first, _), console(repo.root) as (second, pilot):
        assert first.engine is not None and second.engine is None
        await until(pilot, lambda: "client of the console engine" in header(second), "header")
        assert second.control.holder == f"{os.getpid()} console"
        await pilot.press("s")
        await until(
            pilot,
            lambda: (r := latest(second)) is not None and r.status is Status.SUCCEEDED,
            "a run",
        )
        run = latest(second)
        assert run is not None and run.engine_id == first.engine.engine_id
        assert run.trigger.startswith("started by ")
        # The engine goes away: the client left alone takes over (it checks every 2 s).
        await first.close_engine()
        await until(pilot, lambda: second.engine is not None, "the takeover")
        await until(pilot, lambda: "watching for commits" in header(second), "new header")


async def test_a_client_console_pops_the_approval_dialog_and_decides(ci_repo: RepoMaker) -> None:
    TrustStore().trust(ci_repo.root / "pipelines" / "ci.yml")
    async with console(ci_repo.root) as (first, _), console(ci_repo.root) as (second, pilot):
        assert second.engine is None
        await pilot.press("s")
        await until(pilot, lambda: isinstance(second.screen, ApprovalDialog), "the dialog")
        await decide(pilot, "a")
        await until(pilot, lambda: latest(second).status is Status.SUCCEEDED, "approved")  # type: ignore[union-attr]
        run = latest(second)
        assert run is not None and run.engine_id == first.engine.engine_id  # type: ignore[union-attr]
        gate = next(a for _, a in second.client.store.detail(run).actions() if a.approval)
        assert gate.approval is not None and gate.approval.result == "approved"


async def test_commits_made_while_closed_are_shown_not_run_and_s_runs_them(
    repo: RepoMaker,
) -> None:
    flaky_repo(repo)
    (repo.root / "fixed").touch()
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: (r := latest(app)) is not None and not r.status.active, "run")
    repo.commit("while closed 1")
    newest = repo.commit("while closed 2")
    async with console(repo.root) as (app, pilot):
        await until(
            pilot, lambda: any("2 new commits (s)" in label for label in run_labels(app)), "note"
        )
        await pilot.pause(0.5)
        assert len(app.client.store.runs("ci")) == 1  # not replayed
        await pilot.press("s")
        await until(pilot, lambda: (r := latest(app)) is not None and r.commit == newest, "run")
        await until(pilot, lambda: not latest(app).status.active, "end")  # type: ignore[union-attr]
        await until(
            pilot, lambda: not any("new commit" in label for label in run_labels(app)), "gone"
        )


async def test_the_key_bar_lists_the_keys_and_a_click_presses_one(repo: RepoMaker) -> None:
    flaky_repo(repo)
    async with console(repo.root) as (app, pilot):
        bar = app.screen.query_one(KeyBar)
        shown = bar.render().plain
        for hint in ("Start", "Cancel", "Approve", "Retry", "History", "Quit", "palette"):
            assert hint in shown
        start = shown.index("History")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history opened")


async def test_a_refusal_says_the_same_in_either_console_as_on_the_command_line(
    repo: RepoMaker,
) -> None:
    # A repository with a pipeline file and no commit yet: there is no HEAD to run.
    repo.pipeline(FLAKY)
    cli = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pipedeck", "--repo", str(repo.root), "run", "ci"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await cli.communicate()
    assert cli.returncode == 1 and b"Traceback" not in stderr
    said = stderr.decode().strip().removeprefix("pipedeck: ")
    assert "has no commits yet" in said
    async with console(repo.root) as (first, pilot1), console(repo.root) as (second, pilot2):
        assert first.engine is not None and second.engine is None
        for app, pilot in ((first, pilot1), (second, pilot2)):
            await pilot.press("s")
            await until(pilot, lambda app=app: said in notifications(app), f"{said!r}")
            assert app.is_running and app.client.store.runs() == []
