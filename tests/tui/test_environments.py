"""Releases in the console: `e` shows what runs where, a deploy's run, a rollback to it;
the stage graph marks what each deploy feeds; an environment's own gate in the dialog."""

from __future__ import annotations

import asyncio

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from pipedeck.engine import Engine, Project, current_user
from pipedeck.store import Status
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.confirm import ConfirmScreen
from pipedeck.tui.screens.environments import EnvironmentsScreen
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph
from tests.conftest import FAST, RepoMaker, git
from tests.tui.conftest import console, decide, latest, notifications, text_of, until

PIPELINE = """
name: ci
environments:
  production: {approval: RULE, approvers: [WHO]}
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: make
        kind: build
        inputs: [source]
        outputs: [app]
        run: |
          echo built >> "$PIPEDECK_REPO_ROOT/builds"
          cp version.txt "$PIPEDECK_OUTPUT_APP/version"
  - name: Production
    actions:
      - name: ship
        kind: deploy
        environment: production
        inputs: [app]
        run: cp version "$PIPEDECK_REPO_ROOT/deployed"
"""


def write(repo: RepoMaker, version: str, rule: str = "none") -> str:
    text = PIPELINE.replace("RULE", rule).replace("WHO", current_user())
    repo.pipeline(text)
    repo.write("version.txt", f"{version}\n")
    return repo.commit(f"version {version}")


def builds(repo: RepoMaker) -> int:
    return len((repo.root / "builds").read_text().splitlines())


async def release(repo: RepoMaker, version: str, rule: str = "none") -> str:
    """Commit `version` and deploy it to production, approving it when the rule asks."""
    sha = write(repo, version, rule)
    project = Project.open(repo.root)
    engine = Engine(project, FAST)
    try:
        run = await engine.start(project.pipeline("ci"))
        if rule == "required":
            for _ in range(1500):  # 30 s at most: a run that fails first never waits
                if project.store.waiting_approvals(run.id):
                    break
                await asyncio.sleep(0.02)
            engine.approve(project.store.run_by_id(run.id), None, by=current_user())
        assert (await engine.wait(run)).status is Status.SUCCEEDED
    finally:
        await engine.close()
        project.close()
    return sha


async def open_environments(app: PipedeckApp, pilot: Pilot[None]) -> EnvironmentsScreen:
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, EnvironmentsScreen), "the environments")
    screen = app.screen
    assert isinstance(screen, EnvironmentsScreen)
    deploys = screen.query_one("#deployment-rows", DataTable)
    await until(pilot, lambda: screen.is_mounted and deploys.row_count > 0, "its deploys")
    return screen


def rows(table: DataTable[object]) -> list[list[str]]:
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]


async def test_e_shows_each_environments_release_and_enter_shows_a_deploys_run(
    repo: RepoMaker,
) -> None:
    first = await release(repo, "1")
    second = await release(repo, "2")
    repo.write("notes.txt", "later\n")
    repo.commit("A commit not deployed yet")
    async with console(repo.root) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: graph.detail is not None, "the newest run")
        assert "⇒ production" in graph.plain_text()

        screen = await open_environments(app, pilot)
        table = screen.query_one("#environment-rows", DataTable)
        [row] = rows(table)
        assert row[:7] == ["production", "#2", second[:7], "version 2", "1", "none", ""]
        assert row[7:] == ["ci/2", row[8], ""]
        assert row[8].endswith(" ago")
        deploys = rows(screen.query_one("#deployment-rows", DataTable))
        assert [(d[0], d[2], d[4]) for d in deploys] == [
            ("#2", second[:7], "ci/2"),
            ("#1", first[:7], "ci/1"),
        ]
        assert all("succeeded" in d[1] for d in deploys)
        title = text_of(screen.query_one("#environment-title", Static))
        assert title == "production — 2 deploys, newest first"

        await pilot.press("enter")  # into the deploys
        assert screen.query_one("#deployment-rows", DataTable).has_focus
        await pilot.press("down", "enter")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await until(
            pilot,
            lambda: graph.detail is not None and graph.detail.run.key == "ci/1",
            "the graph to show ci/1",
        )


async def test_r_rolls_back_to_a_deploy_after_naming_what_goes_and_what_comes(
    repo: RepoMaker,
) -> None:
    first = await release(repo, "1")
    second = await release(repo, "2")
    assert builds(repo) == 2
    async with console(repo.root) as (app, pilot):
        store = app.client.store
        await open_environments(app, pilot)
        await pilot.press("enter", "r")  # the release it runs now: deployed again, if asked
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        question = text_of(app.screen.query_one(".question", Static))
        assert question.splitlines()[:3] == [
            "Deploy ci/2 to production again?",
            "",
            f"production runs it now: {second[:7]} version 2",
        ]
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        await open_environments(app, pilot)
        await pilot.press("enter", "down", "r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        question = text_of(app.screen.query_one(".question", Static))
        assert question.splitlines()[:4] == [
            "Roll production back to ci/1?",
            "",
            f"Going out:   {second[:7]} version 2",
            f"Coming back: {first[:7]} version 1",
        ]
        await pilot.press("n")  # no: nothing happens
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert [r.key for r in store.runs("ci")] == ["ci/2", "ci/1"]

        await open_environments(app, pilot)
        await pilot.press("enter", "down", "r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(
            pilot,
            lambda: (
                (run := latest(app)) is not None
                and run.number == 3
                and run.status is Status.SUCCEEDED
            ),
            "the rollback to succeed",
        )
        run = latest(app)
        assert run is not None
        assert (run.kind, run.commit) == ("rollback", first)
        assert (repo.root / "deployed").read_text() == "1\n"
        assert builds(repo) == 2  # nothing was built again
        current = store.ledger.current("production")
        assert current is not None
        assert (current.commit, current.rollback, current.sequence) == (first, True, 3)
        assert git(repo.root, "rev-parse", "pipedeck/production^{commit}") == first
        runs = app.main.query_one(RunList)
        await until(pilot, lambda: "↩" in str(runs.get_option("ci/3").prompt), "ci/3 marked")
        assert "↩" not in str(runs.get_option("ci/2").prompt)

        screen = await open_environments(app, pilot)
        [row] = rows(screen.query_one("#environment-rows", DataTable))
        assert row[1:5] == ["#3", first[:7], "version 1", "1"]  # a commit behind main
        assert row[7] == "ci/3"
        assert "rollback" in rows(screen.query_one("#deployment-rows", DataTable))[0][-1]


async def test_a_deploy_waiting_at_its_environments_gate_says_who_may_decide_and_what_goes(
    repo: RepoMaker,
) -> None:
    first = await release(repo, "1", rule="required")
    second = write(repo, "2", rule="required")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the approval dialog")
        dialog = app.screen
        assert isinstance(dialog, ApprovalDialog)
        assert dialog.key == "ci/2:Production/ship"
        assert text_of(dialog.query_one(".message", Static)) == (
            f"Deploy {second[:7]} (version 2) to production?"
        )
        assert text_of(dialog.query_one(".gate", Static)).splitlines() == [
            "Gate of production",
            f"  runs now: {first[:7]} version 1  ci/1",
            f"  may decide: {current_user()}",
        ]
        commits = text_of(dialog.query_one(".commits", Static)).splitlines()
        assert commits[0] == "Commits going to production (1)"
        assert commits[1].split()[:3] == [second[:7], "version", "2"]

        await decide(pilot, "a")
        await until(
            pilot,
            lambda: (run := latest(app)) is not None and run.status is Status.SUCCEEDED,
            "the deploy to succeed",
        )
        current = app.client.store.ledger.current("production")
        assert current is not None
        assert (current.commit, current.approved_by) == (second, current_user())


async def test_a_rollback_at_a_gate_says_what_leaves_the_environment(repo: RepoMaker) -> None:
    first = await release(repo, "1", rule="required")
    second = await release(repo, "2", rule="required")
    async with console(repo.root) as (app, pilot):
        await open_environments(app, pilot)
        await pilot.press("enter", "down", "r")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "production's gate")
        dialog = app.screen
        assert isinstance(dialog, ApprovalDialog)
        assert text_of(dialog.query_one(".message", Static)) == (
            f"Roll production back to {first[:7]} (version 1), the release of ci/1?"
        )
        commits = text_of(dialog.query_one(".commits", Static)).splitlines()
        assert commits[0] == "Commits leaving production (1)"
        assert commits[1].split()[:3] == [second[:7], "version", "2"]
        await decide(pilot, "a")
        await until(pilot, lambda: passed(app, 3), "the rollback to pass")
        assert (repo.root / "deployed").read_text() == "1\n"


KEEP_ONE = """
name: ci
retention: {runs: 1}
stages:
  - name: Build
    actions:
      - {name: make, kind: build, run: 'head -c 300000 /dev/zero > big; echo made'}
"""


def passed(app: PipedeckApp, number: int) -> bool:
    run = latest(app)
    return run is not None and run.number == number and run.status is Status.SUCCEEDED


async def test_the_console_says_what_retention_freed_after_a_run(repo: RepoMaker) -> None:
    repo.pipeline(KEEP_ONE)
    repo.commit("Keep one run")
    async with console(repo.root) as (app, pilot):
        store = app.client.store
        await pilot.press("s")
        await until(pilot, lambda: passed(app, 1), "ci/1 to pass")
        await pilot.press("s")
        await until(pilot, lambda: passed(app, 2), "ci/2 to pass")
        await until(
            pilot,
            lambda: any("pruned" in n for n in notifications(app)),
            "the retention notice",
        )
        [said] = [n for n in notifications(app) if "pruned" in n]
        assert said.startswith("Retention: 1 old run of ci pruned, ")
        assert said.endswith(" kB freed.")
        first = store.find_run("ci/1")
        assert first.pruned_at is not None
        assert not store.layout(first).root.exists()
        assert store.layout(store.find_run("ci/2")).root.exists()
