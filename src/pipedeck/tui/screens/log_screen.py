"""`enter`: one action's log, full screen, read lazily from disk."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from pipedeck.tui.widgets.key_bar import KeyBar
from pipedeck.tui.widgets.log_view import LogView


class LogScreen(Screen[None]):
    BINDINGS = [Binding("escape,q", "close", "Back")]

    def __init__(
        self, path: Path, title: str, follow: bool = True, search: str | None = None
    ) -> None:
        super().__init__()
        self.path = path
        self.log_title = title
        self.follow = follow
        self.find_text = search
        """Text to find as it opens (a test's name): the view goes to its first line."""

    def compose(self) -> ComposeResult:
        yield LogView(id="full-log")
        yield KeyBar()

    def on_mount(self) -> None:
        view = self.query_one(LogView)
        view.show_file(self.path, follow=self.follow and not self.find_text, title=self.log_title)
        if self.find_text:
            view.search(self.find_text)
        view.focus()

    def action_close(self) -> None:
        self.dismiss(None)
