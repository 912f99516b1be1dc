"""A yes/no question; the caller gets a bool."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pipedeck.tui.text import markup


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: Content, yes: str = "Yes") -> None:
        super().__init__()
        self.question = question
        self.yes = yes

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                yield Button(markup("$yes (y)", yes=self.yes), variant="error", id="yes")
                yield Button("No (n)", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class PromptScreen(ModalScreen[str | None]):
    """One line of text (a reason); None when dismissed. Empty answers are not accepted."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: Content, placeholder: str = "", ok: str = "OK") -> None:
        super().__init__()
        self.question = question
        self.placeholder = placeholder
        self.ok = ok

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            yield Input(placeholder=self.placeholder, id="answer")
            with Horizontal(classes="buttons"):
                yield Button(markup("$ok (enter)", ok=self.ok), variant="primary", id="ok")
                yield Button("Cancel (esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._answer()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._answer()
        else:
            self.dismiss(None)

    def _answer(self) -> None:
        text = self.query_one(Input).value.strip()
        if not text:
            self.notify("Write a reason first.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """A question with a few answers, each a key and a button; escape answers None."""

    BINDINGS = [Binding("escape", "answer(None)", "Stay")]

    def __init__(self, question: Content, choices: list[tuple[str, str, str]]) -> None:
        """`choices`: (key, label, answer) for each button, in order."""
        super().__init__()
        self.question = question
        self.choices = choices

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, classes="question")
            with Horizontal(classes="buttons"):
                for key, label, answer in self.choices:
                    yield Button(markup("$label ($key)", label=label, key=key), id=answer)

    def on_mount(self) -> None:
        # The last answer is the harmless one (stay): enter on the default focus does that.
        self.query(Button).last().focus()

    def on_key(self, event: events.Key) -> None:
        for key, _label, answer in self.choices:
            if event.key == key:
                event.stop()
                self.dismiss(answer)
                return

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id)

    def action_answer(self, answer: str | None) -> None:
        self.dismiss(answer)
