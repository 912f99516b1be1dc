"""`?`: every key of the console in one place."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from pipedeck.tui.text import markup

KEYS = [
    ("Main screen", ""),
    ("← → / l", "move between stages"),
    ("↑ ↓ / k j", "move between actions (in the run list: between pipelines and runs)"),
    ("tab", "move focus: runs list, graph, log panes"),
    ("enter", "open the selected action's log full screen"),
    ("s", "start the highlighted pipeline on HEAD, with the working tree's file"),
    ("", "a run marked ✎ ran a pipeline file with uncommitted edits"),
    ("c / C", "cancel the shown run now / after its running actions"),
    ("R", "retry the failed actions of a failed run (palette: the whole stage)"),
    ("a", "open the approval dialog"),
    ("d", "disable / enable the transition into the selected stage"),
    ("T", "review and trust the selected pipeline file"),
    ("h", "history of every run; R there runs a run's commit again, as committed then"),
    ("e", "environments: what each runs now, and its deploys"),
    ("u", "the selected action's tests: failed first, flaky marked (⚠)"),
    ("", "a run marked ↩ is a rollback"),
    ("ctrl+p", "command palette"),
    ("q", "quit (a run waiting for approval stays waiting)"),
    ("Logs", ""),
    ("f / end", "follow the end again"),
    ("t", "timestamps on/off"),
    ("/  n  N", "search; next and previous hit"),
    ("Tests", ""),
    ("enter", "the log of the copy that ran the test, at the test's name"),
    ("p", "passed and skipped tests shown / hidden"),
    ("Environments", ""),
    ("enter", "on an environment: its deploys; on a deploy: show its run"),
    ("r", "roll the environment back to the highlighted deploy (asks first)"),
    ("Approval dialog", ""),
    ("a", "approve (focus on the buttons)"),
    ("r", "reject (focus on the buttons); with no comment yet, it asks for the reason"),
    ("tab", "buttons → what ships (↑ ↓ scroll it) → comment box → buttons"),
    ("enter / esc", "in the comment box: back to the buttons, keeping the text"),
    ("escape", "on the buttons: close, leaving the approval pending"),
    ("", "typing in the comment box never decides; rejecting is r, reason, enter, r"),
    ("", "an a or r typed within half a second of the dialog opening is asked for again"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        lines = [markup("[b]Keys[/b]")]
        for key, what in KEYS:
            if not what:
                lines.append(markup("\n[b]$key[/b]", key=key))
            else:
                lines.append(markup("  [b cyan]$key[/] $what", key=f"{key:<12}", what=what))
        with Vertical(classes="dialog help"):
            with VerticalScroll():
                yield Static(Content("\n").join(lines))
            yield Static("[dim]escape to close[/]")
