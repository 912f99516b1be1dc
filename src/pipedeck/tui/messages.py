"""Messages that cross the console: engine events, delivered on the app's own loop."""

from __future__ import annotations

from textual.message import Message

from pipedeck.engine import Event


class EngineEvent(Message):
    """One engine event other than log output (panes pull logs from disk themselves)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event
