"""Repository text is text: a corpus of hostile strings through every screen of the console.

The strings go in where a repository puts them — commit subjects and authors, an approval
message (after `#{…}` substitution), variable values, a broken file's name and its problem,
a log, a command in a pipeline file, a transition's reason — and the test reads what the
terminal would show: every screen's rendered cells. Each string must appear as written
(control characters as visible stand-ins), nothing may reach the terminal that it would
obey, no cell may carry a click action or a link, and clicking the text must do nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from rich.segment import Segment
from textual.pilot import Pilot

from pipedeck.engine import Engine, Project, requests
from pipedeck.store import Status
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.environments import EnvironmentsScreen
from pipedeck.tui.screens.help import HelpScreen
from pipedeck.tui.screens.history import HistoryScreen
from pipedeck.tui.screens.log_screen import LogScreen
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.screens.trust import TrustDialog
from pipedeck.tui.screens.variables import VariablesScreen
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph
from pipedeck.visible import visible
from tests.conftest import FAST, RepoMaker, git
from tests.tui.conftest import console, latest, until

CLICK = "[@click=screen.approve]notes[/]"
CORPUS = [
    "Fix [/tmp] path",
    "[WIP] fix",
    CLICK,
    "[bold]x",
    "[/]",
    "[/bold] unbalanced [",
    "\\[escaped] $name ${name}",
    "[link=https://evil.invalid]a link[/link]",
    "\x1b[2J\x1b[Hcleared the screen",
    "\x1b]0;retitled\x07 the window",
    "\x1b]8;;https://evil.invalid\x1b\\osc link\x1b]8;;\x1b\\",
    "bell\x07 backspace\x08 del\x7f csi\x9b31m",
    "\u202eright to left\u202c override",
    "wide 漢字テスト 🎉🎉 text",
]
LONG = "long " + "x" * 400 + " end"
"""Too long for any row: it must be cut, never wrap the layout or crash it."""
LOG_ONLY = ["null\x00 byte", LONG]
"""What a log may hold that a commit message cannot."""

# What the terminal would obey in a cell: C0 and C1 controls, DEL, bidi overrides.
OBEYED = {*range(0x00, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)}

NOTE = "[@click=screen.approve]approve me[/] [/]"


def pipeline_yaml() -> str:
    # JSON strings are YAML strings, escapes included: the file says exactly the corpus.
    message = json.dumps("Ship #{source.subject} with #{variables.NOTE}?")
    return f"""
name: ci
variables: {{NOTE: {json.dumps(NOTE)}}}
stages:
  - name: Source
    actions:
      - {{name: checkout, kind: source, outputs: [source]}}
  - name: Build
    actions:
      - name: show
        kind: build
        inputs: [source]
        run: {json.dumps("cat corpus.txt  # " + CLICK)}
  - name: Approval
    actions:
      - {{name: gate, kind: approval, message: {message}, timeout: 1h}}
  - name: Deploy
    actions:
      - {{name: ship, kind: deploy, run: 'echo shipped'}}
"""


BROKEN_NAME = "[@click=app.quit]oops"
BROKEN = """
name: oops
stages:
  - name: S
    actions:
      - {name: a, kind: "[/] \\e[2J", run: x}
"""


def commit(repo: RepoMaker, subject: str, author: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": author}
    git(repo.root, "add", "-A")
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "--cleanup=verbatim", "-m", subject],
        cwd=repo.root,
        env=env,
        check=True,
    )


def hostile_repo(repo: RepoMaker) -> RepoMaker:
    (repo.root / "corpus.txt").write_bytes(("\n".join([*CORPUS, *LOG_ONLY]) + "\n").encode())
    repo.pipeline(pipeline_yaml())
    (repo.root / "pipelines" / f"{BROKEN_NAME}.yml").write_text(BROKEN)
    for text in [*CORPUS, LONG]:
        commit(repo, text, author=f"Mallory {text}"[:50])
    commit(repo, CLICK, author="[b]Mallory[/b] \x1b[31m")
    return repo


# --- reading what the terminal shows ---------------------------------------------------------


def segments(app: PipedeckApp) -> Iterator[tuple[int, Segment]]:
    """(row, segment) of everything the top screen draws, modals over the main screen too."""
    # Textual has no public reader of the composed screen; its compositor renders it.
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        for segment in strip:
            yield y, segment


def rows(app: PipedeckApp) -> list[str]:
    lines: dict[int, str] = {}
    for y, segment in segments(app):
        lines[y] = lines.get(y, "") + segment.text
    return [lines[y] for y in sorted(lines)]


def shown(app: PipedeckApp) -> str:
    return "\n".join(rows(app))


def toasts(app: PipedeckApp) -> list[str]:
    """The words of each toast on screen, read from the cells it covers."""
    lines = rows(app)
    said = []
    for toast in app.screen.query("Toast"):
        region = toast.content_region
        cells = [lines[y][region.x : region.right] for y in range(region.y, region.bottom)]
        said.append(" ".join(" ".join(cells).split()))
    return said


def check_safe(app: PipedeckApp) -> None:
    """Nothing drawn is obeyed by the terminal, carries a click action or a link, and no row
    is wider than the screen."""
    width = app.size.width
    for y, segment in segments(app):
        bad = [c for c in segment.text if ord(c) in OBEYED]
        assert not bad, f"row {y} sends {bad!r} to the terminal: {segment.text!r}"
        style = segment.style
        if style is not None:
            assert not style.link, f"row {y} links {segment.text!r} to {style.link}"
            assert "@click" not in (style.meta or {}), f"row {y} acts: {segment.text!r}"
    for y, line in enumerate(app.screen._compositor.render_strips()):
        assert line.cell_length <= width, f"row {y} is {line.cell_length} cells wide"


def assert_shown(app: PipedeckApp, text: str, where: str) -> None:
    screen = shown(app)
    wanted = visible(text)
    # A row may cut a long string; the start of it must still read as written.
    assert wanted[:40] in screen, f"{where}: {wanted!r} is not shown as written in:\n{screen}"


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def where(app: PipedeckApp, text: str) -> tuple[int, int]:
    """The cell where `text` starts on screen, its lowest place (over the screen below)."""
    found = [(line.find(visible(text)), y) for y, line in enumerate(rows(app))]
    found = [(x, y) for x, y in found if x >= 0]
    assert found, f"{text!r} is not on screen"
    return found[-1]


# --- the test ----------------------------------------------------------------------------------


async def test_every_screen_shows_repository_text_as_written(repo: RepoMaker) -> None:
    hostile_repo(repo)
    async with console(repo.root, size=(160, 50), toasts=True) as (app, pilot):
        main = app.main
        # The header: the HEAD commit's subject, the one that clicks "approve".
        await until(pilot, lambda: visible(CLICK) in shown(app), "the header's subject")
        check_safe(app)

        # A broken file whose name is markup: listed by name, its problem shown as written.
        runs = main.query_one(RunList)
        assert f"pipeline:{BROKEN_NAME}" in [
            runs.get_option_at_index(i).id for i in range(runs.option_count)
        ]
        assert_shown(app, BROKEN_NAME, "the run list")
        main.on_pipeline_chosen(RunList.PipelineChosen(BROKEN_NAME))
        await until(pilot, lambda: "does not load" in shown(app), "the problem")
        assert_shown(app, "(got '[/] \\x1b[2J')", "the problem panel")
        check_safe(app)
        main.on_pipeline_chosen(RunList.PipelineChosen("ci"))

        # The run: its log holds the corpus; the gate's message is substituted from the
        # commit subject and a variable, both markup.
        await pilot.press("s")
        await until(pilot, lambda: isinstance(app.screen, VariablesScreen), "the variables")
        await settle(pilot)
        assert_shown(app, NOTE, "the variables' value")
        check_safe(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the approval dialog")
        await settle(pilot)
        message = f"Ship {CLICK} with {NOTE}?"
        assert_shown(app, message, "the approval dialog")
        for text in CORPUS:
            assert_shown(app, text, "the commits going out")
        assert_shown(app, "[b]Mallory[/b] \x1b[31m", "a commit's author")
        check_safe(app)
        # Clicking the text that says "approve" does nothing: the message ("Ship [@click…")
        # and the newest commit's subject ("  abc1234 [@click…").
        await pilot.click(".message", offset=(len("Ship ") + 2, 0))
        await pilot.click(".commits", offset=(len("  abc1234 ") + 2, 1))
        await settle(pilot)
        run = latest(app)
        assert run is not None
        gate = app.client.store.detail(run).stages[2].actions[0]
        assert gate.approval is not None and gate.approval.result is None
        assert isinstance(app.screen, ApprovalDialog)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
        # The toast says what waits, as written (wrapped at its width).
        toast = f"ci/1 waits for approval: {message}"
        await until(pilot, lambda: toast in toasts(app), f"the toast, not {toasts(app)}")
        check_safe(app)
        x, y = where(app, CLICK)  # the header's subject
        await pilot.click(offset=(x + 2, y))
        await settle(pilot)
        assert isinstance(app.screen, MainScreen)

        # The log pane of the action that printed the corpus, then the full-screen log.
        graph = main.query_one(StageGraph)
        graph.focus()
        main.auto_action = False
        graph.select("Build", "show")
        main._show_logs()
        await until(pilot, lambda: visible(CORPUS[0]) in shown(app), "the log pane")
        for text in CORPUS:
            if "\x1b" not in text:  # escape sequences in a log are its colours, not text
                assert_shown(app, text, "the log pane")
        check_safe(app)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, LogScreen), "the log screen")
        await until(pilot, lambda: visible(CORPUS[0]) in shown(app), "the full log")
        assert_shown(app, "cleared the screen", "the full log")
        check_safe(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        # A transition held for a hostile reason: the graph shows the reason as written.
        requests.disable_transition(app.client.store, "ci", "Deploy", CORPUS[0] + " " + CLICK)
        await until(pilot, lambda: "held:" in shown(app), "the held transition")
        assert_shown(app, f"⛔ held: {CORPUS[0]}", "the graph")
        check_safe(app)

        # The trust dialog lists the file's commands as written.
        await pilot.press("T")
        await until(pilot, lambda: isinstance(app.screen, TrustDialog), "the trust dialog")
        await settle(pilot)
        assert_shown(app, "cat corpus.txt  # " + CLICK, "the trust dialog")
        check_safe(app)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        # History: the run's subject, and a filter typed with markup in it.
        await pilot.press("h")
        await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "history")
        await settle(pilot)
        assert_shown(app, CLICK, "history")
        check_safe(app)
        await pilot.press("slash", *"[/]")
        await settle(pilot)
        check_safe(app)
        await pilot.press("escape", "escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")

        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen), "help")
        await settle(pilot)
        check_safe(app)
        await pilot.press("escape")

        # Whatever was clicked and shown, the gate is still the person's to decide.
        detail = app.client.store.detail(app.client.store.run_by_id(run.id))
        assert detail.run.status is Status.WAITING
        assert detail.stages[2].actions[0].approval is not None
        assert detail.stages[2].actions[0].approval.result is None


def test_the_corpus_is_what_the_repository_holds(repo: RepoMaker) -> None:
    """The strings reached the repository unchanged (so the test above tests them)."""
    hostile_repo(repo)
    subjects = git(repo.root, "log", "--format=%s", "-n", str(len(CORPUS) + 2)).split("\n")
    assert subjects[0] == CLICK
    assert "\x1b[2J\x1b[Hcleared the screen" in subjects
    assert "\u202eright to left\u202c override" in subjects
    assert Path(repo.root, "pipelines", f"{BROKEN_NAME}.yml").exists()


DEPLOYS = """
name: ci
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Production
    actions: [{name: ship, kind: deploy, inputs: [source], run: 'echo shipped'}]
"""


async def test_the_environments_show_deployed_commit_subjects_as_written(
    repo: RepoMaker,
) -> None:
    repo.pipeline(DEPLOYS)
    project = Project.open(repo.root)
    engine = Engine(project, FAST)
    try:
        for text in (CORPUS[0], CLICK):
            commit(repo, text, author="Mallory")
            assert (await engine.run(project.pipeline("ci"))).status is Status.SUCCEEDED
    finally:
        await engine.close()
        project.close()
    async with console(repo.root, size=(160, 50), toasts=True) as (app, pilot):
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EnvironmentsScreen), "environments")
        await until(pilot, lambda: visible(CORPUS[0]) in shown(app), "the older deploy")
        assert_shown(app, CLICK, "the current release and the newest deploy")
        check_safe(app)
        await pilot.press("enter", "down", "r")  # the older deploy: the confirmation names both
        await until(pilot, lambda: "Going out:" in shown(app), "the confirmation")
        assert_shown(app, CLICK, "what goes out")
        assert_shown(app, CORPUS[0], "what comes back")
        check_safe(app)
        await pilot.press("n")
