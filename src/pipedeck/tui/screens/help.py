"""`?`: every key of the console in one place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS = [
    ("Main screen", ""),
    ("← → / l", "move between stages"),
    ("↑ ↓ / k j", "move between actions"),
    ("tab", "move focus: runs list, graph, log panes"),
    ("enter", "open the selected action's log full screen"),
    ("s", "start the selected pipeline on HEAD"),
    ("c / C", "cancel the shown run now / after its running actions"),
    ("R", "retry the failed actions of a failed run (palette: the whole stage)"),
    ("a", "open the approval dialog"),
    ("d", "disable / enable the transition into the selected stage"),
    ("T", "review and trust the selected pipeline file"),
    ("h", "history of every run"),
    ("ctrl+p", "command palette"),
    ("q", "quit"),
    ("Logs", ""),
    ("f / end", "follow the end again"),
    ("t", "timestamps on/off"),
    ("/  n  N", "search; next and previous hit"),
    ("Approval dialog", ""),
    ("a / r", "approve / reject (a reason is required)"),
    ("tab", "into the comment box"),
    ("escape", "close, leaving it pending"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        lines = []
        for key, what in KEYS:
            lines.append(f"\n[b]{key}[/b]" if not what else f"  [b cyan]{key:<12}[/] {what}")
        with Vertical(classes="dialog help"):
            with VerticalScroll():
                yield Static("[b]Keys[/b]" + "\n".join(lines))
            yield Static("[dim]escape to close[/]")
