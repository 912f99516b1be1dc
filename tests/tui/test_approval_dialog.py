"""The approval dialog: what is about to ship, then approve, reject, later, or decided elsewhere."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from pipedeck.engine import current_user, requests
from pipedeck.store import Status, Store
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.main import MainScreen
from tests.conftest import RepoMaker, git, run_cli
from tests.tui.conftest import (
    action_statuses,
    console,
    decide,
    latest,
    notifications,
    refreshes_pass,
    text_of,
    until,
)


async def dialog_opens(app: PipedeckApp, pilot: Pilot[None]) -> ApprovalDialog:
    """Start ci with `s` and wait for the dialog to pop up by itself."""
    await pilot.press("s")
    await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the approval dialog")
    dialog = app.screen
    assert isinstance(dialog, ApprovalDialog)
    # Focus starts on Approve, so `a` and `r` act at once.
    await until(
        pilot,
        lambda: isinstance(app.focused, Button) and app.focused.id == "approve",
        "the focus on Approve",
    )
    return dialog


def shown(dialog: ApprovalDialog, selector: str) -> str:
    return text_of(dialog.query_one(selector, Static))


def approval_of(app: PipedeckApp) -> tuple[Status, Status, str | None, str | None, str | None]:
    """(run status, gate status, result, decided_by, comment) of the latest ci run."""
    run = latest(app)
    assert run is not None
    detail = app.client.store.detail(run)
    gate = detail.stages[3].actions[0]
    assert gate.approval is not None
    approval = gate.approval
    return run.status, gate.action.status, approval.result, approval.decided_by, approval.comment


async def test_the_dialog_shows_what_is_about_to_ship(ci_repo: RepoMaker) -> None:
    head = git(ci_repo.root, "rev-parse", "--short=7", "HEAD")
    first = git(ci_repo.root, "rev-parse", "--short=7", "HEAD~1")
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        assert dialog.key == "ci/1:Approval/gate"
        assert "Approve ci/1 · Approval/gate" in shown(dialog, ".title")
        assert shown(dialog, ".message") == f"Ship {head} to staging?"
        commits = shown(dialog, ".commits").splitlines()
        assert commits[0] == "Commits going to staging (2)"
        assert commits[1].split() == [head, "Add", "the", "delivery", "pipeline", "Test", "Author"]
        assert commits[2].split() == [first, "Start", "the", "shop", "Test", "Author"]
        assert shown(dialog, ".tests").splitlines() == ["Tests", "  ✔ Test/unit  succeeded"]
        assert shown(dialog, ".artifacts").splitlines() == ["Artifacts", "  source, app"]
        assert re.fullmatch(r"times out in (59m \d\ds|1h 00m)", shown(dialog, "#remaining"))
        await pilot.press("escape")


async def test_a_approves_and_the_run_succeeds(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await dialog_opens(app, pilot)
        await decide(pilot, "a")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await until(pilot, lambda: approval_of(app)[0] is Status.SUCCEEDED, "the run to pass")
        assert approval_of(app) == (
            Status.SUCCEEDED,
            Status.SUCCEEDED,
            "approved",
            current_user(),
            None,
        )
        # Nothing waits any more: `a` says so instead of opening an empty dialog.
        await pilot.press("a")
        await until(
            pilot,
            lambda: any("ci/1 has no approval waiting" in n for n in notifications(app)),
            "the warning",
        )
        assert isinstance(app.screen, MainScreen)


@pytest.mark.parametrize("leave", ["enter", "tab"])
async def test_typing_that_runs_on_out_of_the_comment_box_never_decides(
    ci_repo: RepoMaker, leave: str
) -> None:
    """Typing "breaks login", enter (or tab), "and it": that `a` is typing, not a decision."""
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        await pilot.press("tab", "tab", "tab", "tab")
        comment = dialog.query_one("#comment", Input)
        assert comment.has_focus
        await pilot.press(*"breaks login")
        # Long after the dialog opened (its own guard is over) the typist leaves the box...
        await refreshes_pass(pilot, app)
        left = events.Key(leave, "\r" if leave == "enter" else "\t")
        app.post_message(left)
        await until(pilot, lambda: isinstance(app.focused, Button), "the focus on a button")
        # ...and goes on typing, a tenth of a second after that key.
        for key in "and it":
            event = events.Key(key, key)
            event.time = left.time + 0.1
            app.post_message(event)
        await refreshes_pass(pilot, app)
        assert app.screen is dialog
        assert comment.value == "breaks login"
        assert approval_of(app) == (Status.WAITING, Status.WAITING, None, None, None)
        assert shown(dialog, "#problem") == "Still typing? Press a again to approve."
        await decide(pilot, "r")  # a deliberate `r`, after reading: rejects with the reason
        await until(pilot, lambda: approval_of(app)[0] is Status.FAILED, "the run to fail")
        assert approval_of(app)[2:] == ("rejected", current_user(), "breaks login")


async def test_a_typed_as_the_dialog_pops_up_is_not_a_decision(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await pilot.press("a")  # opens it again
        await until(
            pilot,
            lambda: isinstance(app.focused, Button) and app.focused.id == "approve",
            "the dialog, its focus on Approve",
        )
        dialog = app.screen
        assert isinstance(dialog, ApprovalDialog)
        # A double tap: the second `a` came a tenth of a second after the dialog appeared.
        second = events.Key("a", "a")
        second.time = dialog.settled_at + 0.1
        app.post_message(second)
        await refreshes_pass(pilot, app)
        assert approval_of(app) == (Status.WAITING, Status.WAITING, None, None, None)
        assert shown(dialog, "#problem") == "Still typing? Press a again to approve."
        await decide(pilot, "a")
        await until(pilot, lambda: approval_of(app)[0] is Status.SUCCEEDED, "the run to pass")


ALPHABET = "the quick brown fox jumps over a lazy dog"
"""Every letter, `a` and `r` among them: all of it is text in the comment box."""


async def test_r_asks_for_a_reason_then_r_reason_enter_r_rejects(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        await decide(pilot, "r")
        assert shown(dialog, "#problem") == "A rejection needs a reason: type it, enter, then r."
        comment = dialog.query_one("#comment", Input)
        await until(pilot, lambda: comment.has_focus, "the focus in the comment box")
        assert app.screen is dialog
        await pilot.press(*ALPHABET)
        assert comment.value == ALPHABET
        assert app.screen is dialog
        assert approval_of(app)[2] is None
        await pilot.press("enter")  # back to the buttons, the text kept: nothing decided
        await until(pilot, lambda: isinstance(app.focused, Button), "the focus on a button")
        assert app.screen is dialog
        assert comment.value == ALPHABET
        assert approval_of(app)[2] is None
        await decide(pilot, "r")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await until(pilot, lambda: approval_of(app)[0] is Status.FAILED, "the run to fail")
        assert approval_of(app) == (
            Status.FAILED,
            Status.REJECTED,
            "rejected",
            current_user(),
            ALPHABET,
        )
        run = latest(app)
        assert run is not None
        assert action_statuses(app, run)["Deploy/staging"] is Status.SKIPPED


async def test_no_key_in_the_comment_box_decides_and_enter_never_presses_a_button(
    ci_repo: RepoMaker,
) -> None:
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        # `enter` on the focused Approve button does nothing: only `a` or a click decide.
        await pilot.press("enter", "space")
        assert app.screen is dialog
        await pilot.press("tab", "tab")  # Approve → Reject → Later
        assert isinstance(app.focused, Button) and app.focused.id == "later"
        await pilot.press("enter")
        assert app.screen is dialog
        await pilot.press("tab", "tab")  # Later → what ships → the comment box
        comment = dialog.query_one("#comment", Input)
        assert comment.has_focus
        await pilot.press(*"ar", "a", "r", "escape")  # escape: back to the buttons
        assert comment.value == "ara" + "r"
        await until(pilot, lambda: isinstance(app.focused, Button), "the focus on a button")
        assert app.screen is dialog
        await pilot.press("shift+tab")  # into the comment box again, from the buttons
        while not comment.has_focus:
            await pilot.press("shift+tab")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.focused, Button), "the focus on a button")
        await refreshes_pass(pilot, app)
        assert app.screen is dialog
        assert approval_of(app) == (Status.WAITING, Status.WAITING, None, None, None)
        await decide(pilot, "a")  # from the buttons, `a` approves, with the comment typed
        await until(pilot, lambda: approval_of(app)[0] is Status.SUCCEEDED, "the run to pass")
        assert approval_of(app)[2:] == ("approved", current_user(), "arar")


async def test_shift_tab_then_clicking_reject_rejects(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        await decide(pilot, "r")
        await pilot.press(*"flaky", "shift+tab")
        assert not dialog.query_one("#comment", Input).has_focus
        assert approval_of(app)[2] is None
        await pilot.click("#reject")
        await until(pilot, lambda: approval_of(app)[0] is Status.FAILED, "the run to fail")
        assert approval_of(app)[2:] == ("rejected", current_user(), "flaky")


async def test_escape_leaves_it_pending_and_a_reopens_it(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await dialog_opens(app, pilot)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await refreshes_pass(pilot, app)
        assert approval_of(app) == (Status.WAITING, Status.WAITING, None, None, None)
        assert isinstance(app.screen, MainScreen)  # it does not pop up again by itself

        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the dialog again")
        await decide(pilot, "a")
        await until(pilot, lambda: approval_of(app)[0] is Status.SUCCEEDED, "the run to pass")


async def test_an_approval_from_another_store_closes_the_dialog(ci_repo: RepoMaker) -> None:
    async with console(ci_repo.root) as (app, pilot):
        await dialog_opens(app, pilot)
        run = latest(app)
        assert run is not None
        other = Store(app.client.state_dir)
        try:
            requests.approve(other, other.run_by_id(run.id), "ship it", by="carol")
        finally:
            other.close()
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await until(pilot, lambda: approval_of(app)[0] is Status.SUCCEEDED, "the run to pass")
        await refreshes_pass(pilot, app)
        told = [n for n in notifications(app) if "was approved by" in n]
        assert told == ["ci/1 was approved by carol"]
        assert approval_of(app)[2:] == ("approved", "carol", "ship it")


async def test_a_rejection_from_another_shell_closes_the_dialog_and_names_the_account(
    ci_repo: RepoMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decider is the OS account of the deciding process; $LOGNAME and $USER name
    whoever the environment says, so they are not asked."""
    monkeypatch.setenv("LOGNAME", "dana")
    monkeypatch.setenv("USER", "dana")
    git(ci_repo.root, "config", "user.email", "someone@example.invalid")
    async with console(ci_repo.root) as (app, pilot):
        await dialog_opens(app, pilot)
        result = await asyncio.to_thread(
            run_cli, "reject", "ci/1", "--comment", "wrong branch", cwd=ci_repo.root, process=True
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"ci/1: rejected by {current_user()}"
        assert current_user() != "dana"
        await until(pilot, lambda: isinstance(app.screen, MainScreen), "the dialog to close")
        await until(pilot, lambda: approval_of(app)[0] is Status.FAILED, "the run to fail")
        await until(
            pilot,
            lambda: any("was rejected by" in n for n in notifications(app)),
            "the news",
        )
        told = [n for n in notifications(app) if "was rejected by" in n]
        assert told == [f"ci/1 was rejected by {current_user()}"]
        assert approval_of(app) == (
            Status.FAILED,
            Status.REJECTED,
            "rejected",
            current_user(),
            "wrong branch",
        )
        run = latest(app)
        assert run is not None
        approval = app.client.store.detail(run).stages[3].actions[0].approval
        assert approval is not None
        assert approval.decided_email == "someone@example.invalid"


FAILING_TESTS = """
import pytest


def test_adds():
    assert 1 + 1 == 2


@pytest.mark.parametrize("n", range(7))
def test_broken(n):
    assert n < 0, "[bold]not[/bold] \\x1b[31mnegative"
"""

PYTEST = f'"{sys.executable}" -m pytest -q -p no:cacheprovider test_app.py --junitxml=report.xml'
REPORTED = f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        reports: [report.xml]
        run: '{PYTEST} || true'  # the tests fail, the pipeline goes on to the gate
      - {{name: lint, kind: test, run: 'echo clean'}}
  - name: Approval
    actions: [{{name: gate, kind: approval, message: "Ship it?", timeout: 1h}}]
"""


async def test_the_dialog_counts_the_tests_and_names_the_failed_ones(repo: RepoMaker) -> None:
    repo.write("test_app.py", FAILING_TESTS)
    repo.pipeline(REPORTED)
    repo.commit("tests that fail, and a pipeline that goes on")
    async with console(repo.root) as (app, pilot):
        dialog = await dialog_opens(app, pilot)
        assert shown(dialog, ".tests").splitlines() == [
            "Tests",
            "  ✘ Test/unit  7 failed of 8",
            "      test_app::test_broken[0]",
            "      test_app::test_broken[1]",
            "      test_app::test_broken[2]",
            "      test_app::test_broken[3]",
            "      test_app::test_broken[4]",
            "      … and 2 more",
            "  ✔ Test/lint  succeeded",
        ]
        await pilot.press("escape")
