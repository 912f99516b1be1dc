"""The trust dialog: shows every command of the file, answers True or False, writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.app import App
from textual.containers import VerticalScroll
from textual.widgets import Button, Static

from pipedeck.definition import load_pipeline
from pipedeck.engine.trust import TrustState, TrustStore
from pipedeck.tui.screens.trust import TrustDialog
from tests.conftest import RepoMaker
from tests.tui.conftest import text_of

CI = """
name: ci
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: compile
        kind: build
        inputs: [source]
        run: 'make all [fast] --jobs=4'
  - name: Gate
    actions:
      - {name: ok, kind: approval}
"""


class Host(App[None]):
    """Just enough app to push the dialog onto and keep its answer."""

    def __init__(self, dialog: TrustDialog) -> None:
        super().__init__()
        self.dialog = dialog
        self.answers: list[bool | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.answers.append)


def dialog_for(file: Path) -> TrustDialog:
    return TrustDialog(TrustStore().check(file), load_pipeline(file))


def shown(dialog: TrustDialog, selector: str) -> list[str]:
    return [text_of(w) for w in dialog.query(selector).results(Static)]


@pytest.mark.parametrize(("key", "answer"), [("y", True), ("n", False), ("escape", False)])
async def test_keys_answer(repo: RepoMaker, key: str, answer: bool) -> None:
    ci = repo.pipeline(CI)
    app = Host(dialog_for(ci))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.screen is app.dialog
        await pilot.press(key)
        await pilot.pause()
        assert app.answers == [answer]
        assert app.screen is not app.dialog
    # The dialog records nothing: the caller does.
    assert not TrustStore().path.exists()


async def test_buttons_answer_and_enter_defaults_to_not_now(repo: RepoMaker) -> None:
    ci = repo.pipeline(CI)
    app = Host(dialog_for(ci))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        focused = app.focused
        assert isinstance(focused, Button) and focused.id == "not-now"
        await pilot.press("enter")
        await pilot.pause()
        assert app.answers == [False]

    app = Host(dialog_for(ci))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.click("#trust")
        await pilot.pause()
        assert app.answers == [True]


async def test_shows_the_file_its_state_and_every_command(repo: RepoMaker) -> None:
    ci = repo.pipeline(CI)
    dialog = dialog_for(ci)
    async with Host(dialog).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert shown(dialog, ".title") == ["Trust pipelines/ci.yml?"]
        assert "never been trusted" in shown(dialog, ".why")[0]
        assert shown(dialog, ".action") == [
            "Source/checkout  source",
            "Build/compile  build",
            "Gate/ok  approval",
        ]
        # Brackets in a command are shown as written, not read as markup.
        assert shown(dialog, ".command") == [
            "exports the commit",
            "make all [fast] --jobs=4",
            "waits for approval",
        ]


async def test_a_changed_file_says_so(repo: RepoMaker) -> None:
    ci = repo.pipeline(CI)
    TrustStore().trust(ci)
    ci.write_text(CI.replace("make all", "make everything"))
    dialog = dialog_for(ci)
    assert dialog.state.state == "changed"
    async with Host(dialog).run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "changed since it was last trusted" in shown(dialog, ".why")[0]
        assert "make everything [fast] --jobs=4" in shown(dialog, ".command")


async def test_long_commands_wrap_and_many_commands_scroll(tmp_path: Path) -> None:
    long = "deploy --target production " + " ".join(f"--flag-{i}=value" for i in range(20))
    rows = [(f"Stage/action{i}", "build", long if i == 0 else f"step {i}") for i in range(30)]
    state = TrustState(tmp_path / "pipelines" / "big.yml", "0" * 64, "new")
    dialog = TrustDialog(state, rows)
    async with Host(dialog).run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert shown(dialog, ".title") == ["Trust pipelines/big.yml?"]
        first = dialog.query(".command").results(Static).__next__()
        assert first.size.height > 1  # wrapped, not cut off
        assert first.size.width < len(long)
        commands = dialog.query_one(".commands", VerticalScroll)
        assert commands.max_scroll_y > 0
        # The buttons stay in the dialog, below the commands, however many there are.
        trust = dialog.query_one("#trust", Button)
        box = dialog.query_one(".trust").region
        assert trust.region.height > 0
        assert box.y <= trust.region.y and trust.region.bottom <= box.bottom
        assert commands.region.bottom <= trust.region.y
