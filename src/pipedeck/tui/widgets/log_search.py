"""Search in a log view: the `/` prompt, and the hits of the last search.

`LogHits` is plain state with no widget in it, so the view only wires keys, a worker and
painting to it; its `run` is the whole body of the search thread.
"""

from __future__ import annotations

import threading
from bisect import bisect_left

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Input

from pipedeck.store.logindex import LogIndex

MAX_HITS = 100_000
"""Search stops collecting here, so a pattern on every line cannot eat memory."""


class LogSearch(ModalScreen[str | None]):
    """Asks for a search pattern: Enter answers it, Escape answers None."""

    DEFAULT_CSS = """
    LogSearch {
        align: center bottom;
        background: transparent;
    }
    LogSearch > Input {
        width: 100%;
        margin: 0 0 1 0;
    }
    """

    BINDINGS = [Binding("escape", "cancel", "Close", show=False)]

    def __init__(self, pattern: str = "") -> None:
        super().__init__()
        self.pattern = pattern

    def compose(self) -> ComposeResult:
        yield Input(self.pattern, placeholder="search the log (plain text, any case)")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class LogHits:
    """The last search of one log: its pattern, its progress, the lines it found."""

    def __init__(self) -> None:
        self.pattern = ""
        self.lines: list[int] = []
        """Numbers of the matching lines, ascending, once the search has finished."""
        self.current = -1
        """Position in `lines` of the hit jumped to last; -1 before the first jump."""
        self.progress: float | None = None
        """0..1 while a search runs (written by its thread, read by the view's poll)."""
        self._set: frozenset[int] = frozenset()
        self._cancel = threading.Event()

    def start(self, pattern: str) -> threading.Event:
        """Forget the previous search (stopping its thread); the event cancels the new one."""
        self._cancel.set()
        self.pattern, self.lines, self.current, self._set = pattern, [], -1, frozenset()
        self._cancel = threading.Event()
        self.progress = 0.0 if pattern else None
        return self._cancel

    def stop(self) -> None:
        self._cancel.set()
        self.progress = None

    def run(self, index: LogIndex, pattern: str, cancel: threading.Event) -> list[int]:
        """The search thread: scans the whole file, reporting progress until cancelled."""

        def progress(fraction: float) -> None:
            if not cancel.is_set():
                self.progress = fraction

        return index.search(pattern, progress=progress, cancel=cancel, limit=MAX_HITS)

    def finish(self, lines: list[int], top: int) -> int | None:
        """Take the search's result; answers the first hit at or below line `top`
        (wrapping to the first), or None when nothing matched."""
        self.progress = None
        self.lines, self._set = lines, frozenset(lines)
        if not lines:
            return None
        first = bisect_left(lines, top)
        return first if first < len(lines) else 0

    def step(self, delta: int) -> int | None:
        """The hit `delta` away from the current one, wrapping; None without hits."""
        if not self.lines:
            return None
        if self.current < 0:
            return 0 if delta > 0 else len(self.lines) - 1
        return (self.current + delta) % len(self.lines)

    def __contains__(self, line: int) -> bool:
        return line in self._set

    def is_current(self, line: int) -> bool:
        return self.current >= 0 and self.lines[self.current] == line

    def describe(self) -> str:
        """For the view's subtitle (plain text: the view shows it literally)."""
        if self.progress is not None:
            return f"searching {self.progress:.0%}"
        if not self.pattern:
            return ""
        where = f"{self.current + 1}/" if self.current >= 0 else ""
        found = f"{where}{len(self.lines):,} hits" if self.lines else "no hits"
        return f"{found} for {self.pattern!r}"
