"""The approval dialog: what is about to ship, and a decision with a comment.

It returns a `Decision` (or None when closed with escape) and decides nothing itself: the
screen that opened it passes the decision to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pipedeck.tui.approval_info import ApprovalInfo
from pipedeck.tui.clock import Clock
from pipedeck.tui.look import COLOURS, icon


@dataclass(frozen=True)
class Decision:
    approved: bool
    comment: str


def _remaining(clock: Clock, expires_at: str | None) -> str:
    if not expires_at:
        return "no timeout"
    left = datetime.fromisoformat(expires_at.replace("Z", "+00:00")) - clock.now()
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "timing out now"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"times out in {days}d {hours}h"
    if hours:
        return f"times out in {hours}h {minutes:02d}m"
    return f"times out in {minutes}m {secs:02d}s"


class ApprovalDialog(ModalScreen[Decision | None]):
    BINDINGS = [
        Binding("a", "approve", "Approve"),
        Binding("r", "reject", "Reject"),
        Binding("escape", "close", "Later"),
    ]

    def __init__(self, info: ApprovalInfo, clock: Clock) -> None:
        super().__init__()
        self.info = info
        self.clock = clock

    @property
    def key(self) -> str:
        """Which approval this dialog is about: `pipeline/n:stage/action`."""
        return f"{self.info.run.key}:{self.info.stage}/{self.info.action}"

    def compose(self) -> ComposeResult:
        info = self.info
        with Vertical(classes="dialog approval"):
            yield Static(
                f"[b]Approve {info.run.key}[/b] · {info.stage}/{info.action}", classes="title"
            )
            yield Static(info.message, classes="message")
            with VerticalScroll(classes="details"):
                yield Static(self._commits(), classes="commits")
                yield Static(self._tests(), classes="tests")
                yield Static(self._artifacts(), classes="artifacts")
            yield Static(_remaining(self.clock, info.expires_at), id="remaining")
            yield Input(placeholder="comment (required to reject)", id="comment")
            yield Static("", id="problem")
            with Horizontal(classes="buttons"):
                yield Button("Approve (a)", variant="success", id="approve")
                yield Button("Reject (r)", variant="error", id="reject")
                yield Button("Later (esc)", id="later")

    def _commits(self) -> str:
        if not self.info.commits:
            return "[b]Commits[/b]\n  [dim]none found[/]"
        rows = [f"  [cyan]{c.short}[/] {c.subject}  [dim]{c.author}[/]" for c in self.info.commits]
        return f"[b]Commits going out ({len(rows)})[/b]\n" + "\n".join(rows)

    def _tests(self) -> str:
        if not self.info.tests:
            return "[b]Tests[/b]\n  [dim]this run has no test actions[/]"
        rows = [
            f"  [{COLOURS[status]}]{icon(status)} {status}[/] {name}"
            for name, status in self.info.tests
        ]
        return "[b]Tests[/b]\n" + "\n".join(rows)

    def _artifacts(self) -> str:
        names = ", ".join(self.info.artifacts) or "[dim]none yet[/]"
        return f"[b]Artifacts[/b]\n  {names}"

    def on_mount(self) -> None:
        # Focus starts on the buttons so `a` and `r` act at once; tab reaches the comment.
        self.query_one("#approve", Button).focus()

    @property
    def comment(self) -> str:
        return self.query_one("#comment", Input).value.strip()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        {"approve": self.action_approve, "reject": self.action_reject}.get(
            event.button.id or "", self.action_close
        )()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one("#approve", Button).focus()

    def action_approve(self) -> None:
        self.dismiss(Decision(True, self.comment))

    def action_reject(self) -> None:
        if not self.comment:
            self.query_one("#problem", Static).update("[red]A rejection needs a reason.[/]")
            self.query_one("#comment", Input).focus()
            return
        self.dismiss(Decision(False, self.comment))

    def action_close(self) -> None:
        self.dismiss(None)

    def decided_elsewhere(self, result: str, by: str | None) -> None:
        """Someone decided from another shell: say who, and get out of the way."""
        self.app.notify(f"{self.info.run.key} was {result} by {by or 'someone'}", timeout=6)
        self.dismiss(None)
