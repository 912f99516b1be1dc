"""`u`: the selected action's tests from a real pytest run's report, failed first, flaky marked,
hostile names and messages shown as written; `enter` opens the log at the test."""

from __future__ import annotations

import sys
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from pipedeck.store.results import CaseResult
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.log_screen import LogScreen
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.screens.tests_view import ActionTests, ResultsScreen
from pipedeck.tui.widgets.log_view import LogView
from pipedeck.tui.widgets.stage_graph import StageGraph
from pipedeck.visible import visible
from tests.conftest import RepoMaker, run_cli
from tests.tui.conftest import console, notifications, text_of, until
from tests.tui.test_hostile_text import check_safe, shown

HOSTILE = "[bold]x[/bold] [@click=screen.approve]approve[/] \\x9b31m \\u202eright to left"
"""In a failure's message (pytest writes it into the XML as is; an ESC it would spell
`#x1B`, so raw ESC is checked below with cases made by hand)."""
NAMED = "[bold]named[/bold] [@click=app.quit]q[/]"

TESTS = f"""
import pathlib

import pytest

MARKER = pathlib.Path(RAN_BEFORE)


def test_settles():
    if not MARKER.exists():
        MARKER.write_text("ran")
        raise AssertionError("not ready the first time")


def test_multiplies():
    assert 2 * 2 == 5, "two twos make four\\nsecond line\\nthird line\\nfourth line"


@pytest.mark.parametrize("n", [1], ids=[{NAMED!r} + "y" * 400])
def test_hostile(n):
    raise AssertionError("{HOSTILE} " + "z" * 5000)


def test_adds():
    assert 1 + 1 == 2
"""

PIPELINE = f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    on_failure: {{retry: failed_actions, attempts: 1}}
    actions:
      - name: unit
        kind: test
        inputs: [source]
        reports: [report.xml]
        run: '"{sys.executable}" -m pytest -p no:cacheprovider test_app.py --junitxml=report.xml'
"""


def listed(screen: ResultsScreen) -> list[str]:
    options = screen.query_one(OptionList)
    return [
        str(getattr(p, "plain", p))
        for p in (options.get_option_at_index(i).prompt for i in range(options.option_count))
    ]


async def open_tests(app: PipedeckApp, pilot: Pilot[None], stage: str, action: str) -> None:
    """Select the action in the graph, then `u`."""
    main = app.main
    main.auto_action = False
    main.query_one(StageGraph).select(stage, action)
    await pilot.press("u")


async def test_the_tests_of_an_action_failed_first_flaky_marked_enter_opens_the_log(
    repo: RepoMaker, tmp_path: Path
) -> None:
    repo.write("test_app.py", TESTS.replace("RAN_BEFORE", repr(str(tmp_path / "ran-before"))))
    repo.pipeline(PIPELINE)
    repo.commit("tests: one settles on the retry, two fail")
    assert run_cli("run", "ci", cwd=repo.root, process=True).returncode == 1
    async with console(repo.root, size=(160, 50), toasts=True) as (app, pilot):
        graph = app.main.query_one(StageGraph)
        await until(pilot, lambda: "✘ unit 2 failed of 4" in graph.plain_text(), "the run")

        # An action without reports says so, and nothing opens.
        await open_tests(app, pilot, "Source", "checkout")
        await until(
            pilot,
            lambda: "Source/checkout has no test reports in ci/1." in notifications(app),
            "the toast",
        )
        assert isinstance(app.screen, MainScreen)

        await open_tests(app, pilot, "Test", "unit")
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the tests view")
        screen = app.screen
        assert isinstance(screen, ResultsScreen)
        await pilot.pause()
        title = text_of(screen.query_one(".title", Static))
        assert title == "Tests · ci/1 Test/unit"
        counts = text_of(screen.query_one("#tests-counts", Static))
        assert counts == "✘ 2 failed of 4  ·  1 flaky"
        rows = listed(screen)
        # Failed first, each with the first three lines of its message; the flaky one that
        # passed on the retry next; then the passed.
        first = rows[0].splitlines()
        assert first[0].startswith("✘ failed  test_app::test_multiplies  ")
        assert [r.strip() for r in first[1:]] == [
            "AssertionError: two twos make four",
            "second line",
            "third line",
        ]
        hostile = rows[1].splitlines()
        assert hostile[0].startswith(f"✘ failed  test_app::test_hostile[{NAMED}yyy")
        assert "…" in hostile[0] and len(hostile[0]) < 400  # a long name is cut
        said = visible(HOSTILE.replace("\\x9b", "\x9b").replace("\\u202e", "\u202e"))
        assert hostile[1].strip().startswith(f"AssertionError: {said} zzz")
        assert hostile[1].strip().endswith("…")  # so is a long line of its message
        assert rows[2].startswith("✔ passed  test_app::test_settles")
        assert rows[2].endswith("⚠ flaky")
        assert rows[3].startswith("✔ passed  test_app::test_adds")
        assert "flaky" not in rows[0] + rows[1] + rows[3]
        on_screen = shown(app)  # what the terminal shows: as written, wrapped at the width
        assert said[:40] in on_screen and "test_hostile[[bold]named[/bold]" in on_screen
        assert "[@click=app.quit]q[/]yyy" in on_screen
        assert on_screen.splitlines()[-1].startswith(" ⏎ Log  esc Back  p Passed on/off")
        check_safe(app)
        assert app.main.query_one(StageGraph)  # nothing was clicked or quit

        # `p` hides what passed (a flaky one stays in view), and brings it back.
        await pilot.press("p")
        rows = listed(screen)
        assert len(rows) == 4 and rows[3] == "1 passed or skipped, hidden: p shows them"
        await pilot.press("p")
        assert len(listed(screen)) == 4 and "test_adds" in listed(screen)[3]

        # `enter` on a test: the log of the copy that ran it, at the test's first line.
        options = screen.query_one(OptionList)
        options.highlighted = 0
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen), "the log")
        view = app.screen.query_one(LogView)
        await until(pilot, lambda: view.hits.current is not None, "the test's name found")
        assert view.hits.pattern == "test_multiplies"
        await until(
            pilot, lambda: any("test_multiplies" in r for r in view.visible_lines()), "it shown"
        )
        assert not view.following
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the tests")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")


def case(name: str, outcome: str, message: str | None = None) -> CaseResult:
    return CaseResult(
        "Test", "unit", 1, "r.xml", "s", "mod", name, 0.5, outcome, message, group="unit"
    )


async def test_escapes_and_markup_in_names_and_messages_are_text(repo: RepoMaker) -> None:
    """What a report could hold that pytest's would not: raw ESC, a bell, markup."""
    repo.pipeline("name: ci\nstages:\n  - name: S\n    actions: [{name: a, kind: test, run: x}]\n")
    repo.commit("a pipeline")
    name = "\x1b[2J\x1b]0;retitled\x07[bold]x[/] [@click=app.quit]quit[/]"
    message = "\x1b[31mred\x1b[0m [link=https://evil.invalid]link[/link]\n" + "w" * 10000
    cases = [case(name, "error", message), case("[/]", "passed"), case("fine", "skipped")]
    async with console(repo.root, size=(120, 40)) as (app, pilot):
        app.push_screen(ResultsScreen(ActionTests("ci/1", "Test", "unit", cases)))
        await until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the tests view")
        await pilot.pause()
        rows = listed(app.screen)  # type: ignore[arg-type]
        assert rows[0].splitlines()[0] == f"✘ error   mod::{visible(name)}  0.50s"
        assert rows[0].splitlines()[1].strip() == visible(message.splitlines()[0])
        assert rows[1].startswith("- skipped mod::fine")
        assert rows[2].startswith("✔ passed  mod::[/]")
        check_safe(app)
        # A case whose copy is unknown has no log to open: said, not a crash.
        await pilot.press("enter")
        await until(pilot, lambda: "Test/unit has no log." in notifications(app), "the toast")
        assert isinstance(app.screen, ResultsScreen)
