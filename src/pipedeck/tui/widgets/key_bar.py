"""The footer: the keys the screen answers to now, as one line of text.

Textual's `Footer` builds a widget per key and rebuilds them all whenever the bindings change;
opening the console did that several times, and it was half the time to the first frame. One
widget, redrawn when the bindings change, does the same job: key hints, dimmed when disabled,
and a click on one presses its key.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget

KEY = "bold #ffa62b"
"""The colour Textual's footer gives keys, so the console looks as before."""


class KeyBar(Widget):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $footer-background;
        color: $footer-foreground;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self._text = Text()
        self._spans: list[tuple[int, int, str]] = []
        """(start column, end column, key) of each hint, for clicks."""

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)
        self._changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Screen[object]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        spans = []
        shown: set[str] = set()
        for _node, binding, enabled, _tip in screen.active_bindings.values():
            # `right,l` are two keys of one action: one hint is enough.
            if not binding.show or binding.action in shown:
                continue
            shown.add(binding.action)
            start = len(text)
            text.append(f" {self.app.get_key_display(binding)} ", style=KEY if enabled else "dim")
            text.append(f"{binding.description} ", style="" if enabled else "dim")
            spans.append((start, len(text), binding.key))
        palette = self.app.COMMAND_PALETTE_BINDING
        if self.app.ENABLE_COMMAND_PALETTE and palette in screen.active_bindings:
            text.append(" ^p", style=KEY)
            text.append(" palette ")
        self._text, self._spans = text, spans
        self.refresh()

    def render(self) -> Text:
        return self._text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
