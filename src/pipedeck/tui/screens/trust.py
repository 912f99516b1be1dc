"""The trust dialog: every command a pipeline file runs, then trust it or not.

It returns True (trust) or False and records nothing itself: the screen that opened it
trusts the digest in the `TrustState` it passed in, so a file edited while the dialog was
open stays untrusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from pipedeck.engine import TrustState, reviewed_commands
from pipedeck.tui.text import markup, plain

if TYPE_CHECKING:
    from pipedeck.definition import Pipeline

_WHY = {
    "new": "This pipeline file has never been trusted.",
    "changed": "This pipeline file changed since it was last trusted.",
    "trusted": "This pipeline file is trusted.",
}


class TrustDialog(ModalScreen[bool]):
    DEFAULT_CSS = """
    TrustDialog {
        align: center middle;
    }
    TrustDialog > .trust {
        width: 80%;
        max-width: 110;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: thick $warning;
        background: $surface;
    }
    TrustDialog .title {
        text-style: bold;
    }
    TrustDialog .why {
        color: $warning;
        margin-bottom: 1;
    }
    /* Sized by the screen, not the list, so the buttons below stay in view. */
    TrustDialog .commands {
        height: auto;
        max-height: 45vh;
    }
    TrustDialog .action {
        margin-top: 1;
        text-style: bold;
    }
    TrustDialog .command {
        padding-left: 2;
        width: 1fr;
        color: $text-muted;
    }
    /* Docked so a tight terminal clips the commands, never the answer. */
    TrustDialog .buttons {
        dock: bottom;
        height: auto;
        margin-top: 1;
        align-horizontal: right;
    }
    TrustDialog .buttons Button {
        margin-left: 1;
    }
    """

    BINDINGS = [
        Binding("y", "answer(True)", "Trust"),
        Binding("n,escape", "answer(False)", "Not now"),
    ]

    def __init__(
        self,
        state: TrustState,
        pipeline: Pipeline | list[tuple[str, str, str]],
        file_name: str | None = None,
    ) -> None:
        super().__init__()
        self.state = state
        self.rows = list(pipeline) if isinstance(pipeline, list) else reviewed_commands(pipeline)
        self.file_name = file_name or f"{state.path.parent.name}/{state.path.name}"
        """How the file is named to the user; `pipelines/x.yml` unless the caller knows better."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="trust"):
            yield Static(markup("Trust $file?", file=self.file_name), classes="title")
            yield Static(
                markup(
                    "$why Once trusted, it runs by itself on new commits:",
                    why=_WHY[self.state.state],
                ),
                classes="why",
            )
            with VerticalScroll(classes="commands"):
                for name, kind, what in self.rows:
                    yield Static(
                        markup("[b]$name[/b]  $kind", name=name, kind=kind), classes="action"
                    )
                    # A command full of brackets must show as written.
                    yield Static(plain(what), classes="command")
            with Horizontal(classes="buttons"):
                yield Button("Trust (y)", variant="warning", id="trust")
                yield Button("Not now (n)", id="not-now")

    def on_mount(self) -> None:
        # Enter on the default focus must be the harmless answer.
        self.query_one("#not-now", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "trust")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
