"""`s` on a pipeline with variables: confirm or change them before the run starts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from pipedeck.tui.text import markup, plain
from pipedeck.visible import visible


class VariablesScreen(ModalScreen[dict[str, str] | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, pipeline: str, defaults: dict[str, str]) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.defaults = defaults

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                markup("[b]Run $pipeline[/b] with these variables:", pipeline=self.pipeline),
                classes="title",
            )
            for name, value in self.defaults.items():
                yield Label(plain(name))
                # An Input draws its value as is: control characters in a default are shown.
                yield Input(value=visible(value), id=f"var-{name}", classes="variable")
            with Horizontal(classes="buttons"):
                yield Button("Start (enter)", variant="primary", id="start")
                yield Button("Cancel (esc)", id="cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        values = {}
        for name, default in self.defaults.items():
            typed = self.query_one(f"#var-{name}", Input).value
            # Untouched, a default is what the file says, not the stand-ins it was shown with.
            values[name] = default if typed == visible(default) else typed
        self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)
