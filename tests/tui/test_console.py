"""The main screen as a person uses it: open, start, move, read logs, cancel, quit."""

from __future__ import annotations

import re
from pathlib import Path

from textual.widgets import Input, Static

from pipedeck.definition.errors import display_path
from pipedeck.engine import Client
from pipedeck.store import Status, Store
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.confirm import ChoiceScreen, ConfirmScreen
from pipedeck.tui.screens.help import KEYS, HelpScreen
from pipedeck.tui.screens.log_screen import LogScreen
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.screens.variables import VariablesScreen
from pipedeck.tui.widgets.log_panes import LogPanes
from pipedeck.tui.widgets.log_view import LogView
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import Selection, StageGraph
from tests.conftest import FAST, RepoMaker, git, gone, run_cli
from tests.tui.conftest import (
    CI_STAGES,
    SIZE,
    SLOW,
    action_statuses,
    console,
    latest,
    notifications,
    refreshes_pass,
    status_of,
    text_of,
    until,
)

BROKEN = """
name: broken
stages:
  - name: Build
    actions:
      - {name: make, kind: biuld, run: make}
"""

WITH_VARIABLES = """
name: greet
variables:
  NAME: world
  PUNCTUATION: "!"
stages:
  - name: Say
    actions:
      - {name: hello, kind: build, run: 'echo "hello $NAME$PUNCTUATION"'}
"""

CHATTY = """
name: chatty
stages:
  - name: Talk
    actions:
      - {name: count, kind: build, run: 'seq 1 200'}
"""

PARALLEL = """
name: pair
stages:
  - name: Build
    actions:
      - {name: left, kind: build, run: 'echo left side; sleep 2'}
      - {name: right, kind: build, run: 'echo right side; sleep 2'}
"""


def options(runs: RunList) -> list[str | None]:
    return [runs.get_option_at_index(i).id for i in range(runs.option_count)]


# --- opening ---------------------------------------------------------------------------------


async def test_opening_shows_the_repository_and_its_pipelines(ci_repo: RepoMaker) -> None:
    head = git(ci_repo.root, "rev-parse", "--short=7", "HEAD")
    async with console(ci_repo.root) as (app, pilot):
        assert isinstance(app.screen, MainScreen)
        # The header reads HEAD in a thread, after the first frame: wait for it.
        shown = app.main.query_one("#header", Static)
        await until(pilot, lambda: head in text_of(shown), "the header")
        header = text_of(shown)
        assert ci_repo.root.name in header
        assert "main" in header
        assert head in header
        assert "Add the delivery pipeline" in header
        runs = app.main.query_one(RunList)
        assert "pipeline:ci" in options(runs)
        # It never ran: its graph is drawn from its file, every action still to run.
        graph = app.main.query_one(StageGraph)
        assert graph.detail is not None
        assert [s.stage.name for s in graph.detail.stages] == CI_STAGES
        assert {a.action.status for _, a in graph.detail.actions()} == {Status.QUEUED}
        assert "checkout" in graph.plain_text() and "staging" in graph.plain_text()
        assert runs.highlighted_option is not None
        assert runs.highlighted_option.id == "pipeline:ci"
        assert not app.main.query_one("#problems", Static).display


async def test_a_broken_file_shows_its_problem_and_the_good_one_still_runs(
    ci_repo: RepoMaker,
) -> None:
    ci_repo.pipeline(BROKEN, name="broken")
    ci_repo.commit("Add a broken pipeline")
    async with console(ci_repo.root) as (app, pilot):
        runs = app.main.query_one(RunList)
        problems = app.main.query_one("#problems", Static)
        assert options(runs)[-1] == "pipeline:broken"
        assert "✘ broken" in str(runs.get_option("pipeline:broken").prompt)

        runs.focus()
        await pilot.press("end")
        await until(pilot, lambda: problems.display, "the problem to show")
        shown = text_of(problems)
        assert "This pipeline file does not load" in shown
        where = ci_repo.root / "pipelines" / "broken.yml"
        # file:line:col of the bad `kind`, then what is wrong with it
        shown_path = str(display_path(where))  # as the CLI prints it
        assert re.search(rf"^{re.escape(shown_path)}:6:\d+: .*'biuld'", shown, re.M), shown
        await pilot.press("s")
        await until(pilot, lambda: bool(notifications(app)), "a warning")
        assert "Select a pipeline that loads" in notifications(app)[-1]
        assert latest(app, "broken") is None

        await pilot.press("home")
        await until(pilot, lambda: not problems.display, "the problem to hide")
        await pilot.press("s")
        await until(pilot, lambda: status_of(app) is Status.WAITING, "ci to reach its approval")


def test_the_command_line_outside_a_repository_says_what_to_do(tmp_path: Path) -> None:
    result = run_cli(cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not inside a git repository" in lines[0]
    assert "pipedeck demo" in lines[0]


def test_the_command_line_in_a_repository_without_pipelines_says_what_to_do(
    repo: RepoMaker,
) -> None:
    repo.commit("Start")
    result = run_cli(cwd=repo.root)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "no pipelines/ folder" in lines[0]
    assert "pipedeck demo" in lines[0]


# --- starting and following a run ------------------------------------------------------------


async def test_s_starts_the_selected_pipeline(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: latest(app) is not None, "a run to start")
        run = latest(app)
        assert run is not None and run.key == "ci/1"
        assert run.commit == git(ci_repo.root, "rev-parse", "HEAD")
        assert run.branch == "main"
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: graph.detail is not None, "the graph to show the run")
        assert graph.detail is not None
        assert [s.stage.name for s in graph.detail.stages] == CI_STAGES
        await until(pilot, lambda: "ci/1" in options(app.main.query_one(RunList)), "the run row")


def quick(name: str) -> str:
    return f"""
name: {name}
stages:
  - name: Build
    actions:
      - {{name: say, kind: build, run: 'echo {name}'}}
  - name: Check
    actions:
      - {{name: look, kind: test, run: 'echo looked'}}
"""


async def test_arrows_reach_every_pipeline_and_run_and_s_starts_the_highlighted_one(
    ci_repo: RepoMaker,
) -> None:
    ci_repo.pipeline(quick("alpha"), name="alpha")
    ci_repo.pipeline(quick("beta"), name="beta")
    ci_repo.commit("Add alpha and beta")
    for _ in range(2):
        run_cli("run", "beta", cwd=ci_repo.root, check=True, process=True)  # the test's loop runs
    async with console(ci_repo.root) as (app, pilot):
        runs = app.main.query_one(RunList)
        graph = app.main.query_one(StageGraph)
        rows = [
            runs.get_option_at_index(i).id
            for i in range(runs.option_count)
            if not runs.get_option_at_index(i).disabled
        ]
        assert rows == ["pipeline:alpha", "pipeline:beta", "beta/2", "beta/1", "pipeline:ci"]
        runs.focus()
        await pilot.press("home")
        reached = []
        for _ in rows:
            assert runs.highlighted_option is not None
            reached.append(runs.highlighted_option.id)
            await pilot.press("down")
        assert reached == rows

        # Up to alpha, which never ran: its graph is drawn from its file.
        while runs.highlighted_option is None or runs.highlighted_option.id != "pipeline:alpha":
            await pilot.press("up")
        await until(
            pilot,
            lambda: graph.detail is not None and graph.detail.run.pipeline == "alpha",
            "alpha's graph",
        )
        assert graph.detail is not None
        assert [s.stage.name for s in graph.detail.stages] == ["Build", "Check"]
        assert "say" in graph.plain_text() and "look" in graph.plain_text()
        # The cursor stays where it was put through the refreshes that follow.
        await refreshes_pass(pilot, app)
        assert runs.highlighted_option is not None
        assert runs.highlighted_option.id == "pipeline:alpha"

        await pilot.press("s")
        await until(pilot, lambda: latest(app, "alpha") is not None, "alpha to start")
        assert latest(app, "ci") is None
        assert [r.key for r in app.client.store.runs("beta")] == ["beta/2", "beta/1"]
        await until(pilot, lambda: status_of(app, "alpha") is Status.SUCCEEDED, "alpha to succeed")

        # An older run picked with the arrows is what `s` starts again: its pipeline.
        runs.focus()
        while runs.highlighted_option is None or runs.highlighted_option.id != "beta/1":
            await pilot.press("down")
        await until(
            pilot,
            lambda: graph.detail is not None and graph.detail.run.key == "beta/1",
            "beta/1 in the graph",
        )
        await pilot.press("s")
        await until(pilot, lambda: len(app.client.store.runs("beta")) == 3, "beta/3")


async def test_s_asks_for_variables_escape_starts_nothing_enter_starts_with_them(
    repo: RepoMaker,
) -> None:
    repo.pipeline(WITH_VARIABLES, name="greet")
    repo.commit("Add greet")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, VariablesScreen), "the prompt")
        await pilot.press("escape")  # changed my mind: nothing starts
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await refreshes_pass(pilot, app)
        assert latest(app, "greet") is None

        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, VariablesScreen), "the prompt")
        await until(pilot, lambda: app.screen.is_mounted, "the prompt to open")
        name = app.screen.query_one("#var-NAME", Input)
        assert name.value == "world"
        assert app.screen.query_one("#var-PUNCTUATION", Input).value == "!"
        await until(pilot, lambda: name.has_focus, "the first variable to have the focus")
        await pilot.press("home", "ctrl+k", *"pipedeck", "enter")
        await until(pilot, lambda: status_of(app, "greet") is Status.SUCCEEDED, "greet to pass")
        run = latest(app, "greet")
        assert run is not None
        assert run.variables == {"NAME": "pipedeck", "PUNCTUATION": "!"}
        assert isinstance(app.screen, MainScreen)
        log = app.client.store.detail(run).stages[0].actions[0].action.log_path
        assert log is not None
        assert Path(log).read_text() == "hello pipedeck!\n"


async def test_arrows_and_jkl_move_the_graph_and_enter_opens_the_log(
    ci_repo: RepoMaker,
) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the approval")
        await pilot.press("escape")
        graph = app.main.query_one(StageGraph)
        # Until the user moves, the graph follows the most telling action: the waiting one.
        await until(pilot, lambda: graph.selection == Selection(3, 0), "the approval selected")
        moves = [
            ("left", Selection(2, 0)),
            ("left", Selection(1, 0)),
            ("down", Selection(1, 1)),
            ("down", Selection(1, 1)),  # the stage has two actions: stays on the last
            ("k", Selection(1, 0)),
            ("j", Selection(1, 1)),
            ("up", Selection(1, 0)),
            ("l", Selection(2, 0)),
            ("right", Selection(3, 0)),
            ("right", Selection(4, 0)),
            ("right", Selection(4, 0)),
        ]
        for key, expected in moves:
            await pilot.press(key)
            assert graph.selection == expected, key
        await pilot.press("left", "left", "left", "down")
        selected = graph.selected_action()
        assert selected is not None
        assert (graph.selected_stage_name(), selected.action.name) == ("Build", "package")
        # The user's choice stays put through the refreshes that follow.
        await refreshes_pass(pilot, app)
        assert graph.selection == Selection(1, 1)
        pane = app.main.query_one(LogPanes).primary()
        assert pane is not None and pane.border_title == "Build/package"

        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen), "the log screen")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await until(pilot, lambda: screen.is_mounted, "the log screen to open")
        assert screen.log_title == "ci/1 Build/package"
        view = screen.query_one(LogView)
        assert view.has_focus
        await until(pilot, lambda: view.line_count == 1, "the log's line")
        assert view.visible_lines()[0].rstrip() == "packaged"
        assert view.border_title == "ci/1 Build/package"
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert graph.selection == Selection(1, 1)


async def test_c_cancels_the_shown_run_after_confirmation(repo: RepoMaker) -> None:
    repo.pipeline(SLOW, name="slow")
    repo.commit("Add slow")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: status_of(app, "slow") is Status.RUNNING, "the run to start")
        run = latest(app, "slow")
        assert run is not None
        await until(
            pilot,
            lambda: app.client.store.detail(run).stages[0].actions[0].action.pid is not None,
            "the action's process",
        )
        pid = app.client.store.detail(run).stages[0].actions[0].action.pid
        assert pid is not None

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "Cancel slow/1?" in text_of(app.screen.query_one(".question", Static))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await refreshes_pass(pilot, app)
        assert status_of(app, "slow") is Status.RUNNING

        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: status_of(app, "slow") is Status.CANCELLED, "the cancel")
        assert action_statuses(app, run) == {"Work/wait": Status.CANCELLED}
        assert gone(pid)
        await until(
            pilot, lambda: any("slow/1 cancelled" in n for n in notifications(app)), "the news"
        )


async def test_help_opens_with_question_mark_and_escape_closes_it(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "the help")
        shown = "\n".join(text_of(s) for s in app.screen.query(Static))
        for key, what in KEYS:
            assert f"{key}" in shown
            assert what in shown
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


async def test_the_console_ends_with_the_code_it_exits_with(ci_repo: RepoMaker) -> None:
    app = PipedeckApp(Client.open(ci_repo.root), settings=FAST)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, app.ready.is_set, "the console to open")
            app.exit(return_code=3)
    finally:
        app.client.close()
    assert app.return_code == 3


async def test_q_quits_at_once_when_nothing_runs(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to exit")
        assert app.engine is None


async def test_q_while_actions_run_asks_wait_cancel_or_stay(repo: RepoMaker) -> None:
    repo.pipeline(SLOW, name="slow")
    repo.commit("Add slow")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: status_of(app, "slow") is Status.RUNNING, "the run to start")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the question")
        assert "slow/1" in text_of(app.screen.query_one(".question", Static))
        await pilot.press("s")  # stay
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.is_running
        assert status_of(app, "slow") is Status.RUNNING

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the question")
        await pilot.press("escape")  # escape stays too
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert status_of(app, "slow") is Status.RUNNING

        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the question")
        await pilot.press("c")
        await until(pilot, lambda: not app.is_running, "the app to exit")
        assert app.engine is None
        assert status_of(app, "slow") is Status.CANCELLED


QUICK_THEN_GATE = """
name: ci
stages:
  - name: Build
    actions:
      - name: make
        kind: build
        run: 'while [ ! -e "$PIPEDECK_REPO_ROOT/go" ]; do sleep 0.05; done; echo made'

  - name: Gate
    actions:
      - {name: ok, kind: approval, timeout: 1h}
"""


async def test_q_then_wait_quits_once_the_run_only_waits_and_leaves_it_waiting(
    repo: RepoMaker,
) -> None:
    repo.pipeline(QUICK_THEN_GATE)
    repo.commit("Add ci")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: status_of(app) is Status.RUNNING, "the run to start")
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen), "the question")
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        assert app.is_running  # the build still runs: the console waits for it
        (repo.root / "go").touch()
        await until(pilot, lambda: not app.is_running, "the app to exit")
        assert [r.key for r in app.left_waiting] == ["ci/1"]
    store = Store(app.client.state_dir)
    try:
        run = store.find_run("ci/1")
        assert run.status is Status.WAITING
        assert [a.action.status for _, a in store.detail(run).actions()] == [
            Status.SUCCEEDED,
            Status.WAITING,
        ]
    finally:
        store.close()


async def test_q_quits_at_once_while_a_run_only_waits_for_approval(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the approval")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to exit")
        assert [r.key for r in app.left_waiting] == ["ci/1"]
        run = latest(app)
        assert run is not None and run.status is Status.WAITING and run.engine_id is None


async def test_parallel_actions_get_a_pane_each_and_t_times_them_all(repo: RepoMaker) -> None:
    repo.pipeline(PARALLEL, name="pair")
    repo.commit("Add pair")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        panes = app.main.query_one(LogPanes)

        def both_shown() -> bool:
            views = panes.views()
            return len(views) == 2 and all(v.line_count == 1 for v in views)

        await until(pilot, both_shown, "both running actions' panes")
        views = panes.views()
        assert sorted(str(v.border_title) for v in views) == ["Build/left", "Build/right"]
        assert sorted(v.visible_lines()[0].rstrip() for v in views) == ["left side", "right side"]
        assert panes.has_class("-many")
        assert sum(v.has_class("-selected") for v in views) == 1

        await pilot.press("t")  # timestamps on every pane at once
        assert all(v.show_timestamps for v in views)
        for view in views:
            stamp, _, text = view.visible_lines()[0].rstrip().partition(" ")
            assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d\d\d", stamp), stamp
            assert text.endswith("side")
        await pilot.press("t")
        assert not any(v.show_timestamps for v in views)
        await until(pilot, lambda: status_of(app, "pair") is Status.SUCCEEDED, "the run")
        await until(pilot, lambda: len(panes.views()) == 1, "one pane once they are done")


async def test_f_and_end_resume_following_and_c_on_a_finished_run_only_warns(
    repo: RepoMaker,
) -> None:
    repo.pipeline(CHATTY, name="chatty")
    repo.commit("Add chatty")
    async with console(repo.root) as (app, pilot):
        await pilot.press("s")
        await until(pilot, lambda: status_of(app, "chatty") is Status.SUCCEEDED, "the run")
        panes = app.main.query_one(LogPanes)
        await until(
            pilot,
            lambda: (v := panes.primary()) is not None and v.line_count == 200,
            "the whole log",
        )
        view = panes.primary()
        assert view is not None
        graph = app.main.query_one(StageGraph)
        for key in ("f", "end"):
            view.focus()
            await pilot.press("pageup")
            assert not view.following
            assert view.visible_lines()[-1].rstrip() != "200"
            graph.focus()
            await pilot.press(key)
            assert view.following, key
            await until(pilot, lambda: view.visible_lines()[-1].rstrip() == "200", "the end")

        # The run is over: `c` only says so.
        await pilot.press("c")
        await until(
            pilot,
            lambda: any("The shown run is not running." in n for n in notifications(app)),
            "the warning",
        )
        assert isinstance(app.screen, MainScreen)


async def test_a_run_of_an_edited_pipeline_file_is_marked_in_the_run_list(
    repo: RepoMaker,
) -> None:
    ci = repo.pipeline(
        "name: ci\nstages:\n  - name: S\n    actions: [{name: a, kind: build, run: 'true'}]\n"
    )
    repo.commit("pipeline")
    async with console(repo.root) as (app, pilot):
        runs = app.main.query_one(RunList)
        await pilot.press("s")
        await until(pilot, lambda: status_of(app) is Status.SUCCEEDED, "the committed file's run")
        ci.write_text(ci.read_text() + "# edited, not committed\n")
        edited = ci.read_bytes()
        await until(
            pilot,
            lambda: any(p.source == edited for p in app.main.pipelines),
            "the console to read the edited file",
        )
        await pilot.press("s")
        await until(pilot, lambda: "ci/2" in options(runs), "the edited file's run, listed")
        labels = {key: str(runs.get_option(key).prompt) for key in ("ci/1", "ci/2")}
        origins = [r.definition_origin for r in reversed(app.client.store.runs("ci"))]
    assert "✎" in labels["ci/2"] and "✎" not in labels["ci/1"]
    assert origins == ["commit", "working tree"]
