"""The approval dialog: what is about to ship, and a decision with a comment.

It returns a `Decision` (or None when closed, leaving the approval pending) and decides
nothing itself: the screen that opened it passes the decision to the engine.

A decision is made only by `a` or `r` while the focus is on the dialog's buttons, or by a
click on one of them. Nothing typed into the comment box decides (every key there is text;
`enter` and `escape` take the focus back to the buttons, keeping the text), and no key
presses a button: Textual's buttons press on `enter`, and an `enter` that
finishes a reason must not be read as a decision.

Nor does typing that runs on: an `a` or `r` that arrives within `TYPE_AHEAD` of the dialog
appearing, or of the focus coming back from the comment box, is taken for typing that went
on (the dialog popped up under a person's fingers, or "breaks login⏎and it"), and the dialog
asks for the key again. Keys are compared by the time each was read, not handled, so a busy
console cannot turn a run of typing into a decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from pipedeck.tui.approval_info import ApprovalInfo
from pipedeck.tui.clock import Clock
from pipedeck.tui.look import icon
from pipedeck.tui.text import line, markup, plain

SHORT = 30
"""Below this many rows the buttons and the comment box lose their borders."""
TYPE_AHEAD = 0.5
"""Seconds after the dialog appears, or the focus leaves the comment box, in which `a` and
`r` are still taken for typing (see the module docstring)."""


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


class DecisionButton(Button, inherit_bindings=False):
    """A button a click presses and no key does (see the module docstring)."""


class ApprovalDialog(ModalScreen[Decision | None]):
    # `a`, `r` and `escape` are read in `on_key`, which knows when each key was typed.
    BINDINGS = [
        Binding("left", "app.focus_previous", show=False),
        Binding("right", "app.focus_next", show=False),
    ]

    def __init__(self, info: ApprovalInfo, clock: Clock) -> None:
        super().__init__()
        self.info = info
        self.clock = clock
        self._last_button = "approve"
        """The button the focus goes back to from the comment box."""
        self._said = ""
        self._hinting = False
        self._typing = False
        """The focus is in the comment box."""
        self.settled_at = float("inf")
        """When the focus last came to the buttons without a person choosing them there (the
        dialog opening, `enter` in the comment box); decision keys typed before
        `settled_at + TYPE_AHEAD` are taken for typing."""

    @property
    def key(self) -> str:
        """Which approval this dialog is about: `pipeline/n:stage/action`."""
        return f"{self.info.run.key}:{self.info.stage}/{self.info.action}"

    def compose(self) -> ComposeResult:
        info = self.info
        with Vertical(classes="dialog approval"):
            with Horizontal(classes="heading"):
                yield Static(
                    markup(
                        "[b]Approve $run[/b] · $stage/$action",
                        run=info.run.key,
                        stage=info.stage,
                        action=info.action,
                    ),
                    classes="title",
                )
                yield Static(_remaining(self.clock, info.expires_at), id="remaining")
            with VerticalScroll(id="ships"):
                yield Static(plain(info.message), classes="message")
                if info.environment is not None:
                    yield Static(self._gate(), classes="gate")
                yield Static(self._commits(), classes="commits")
                yield Static(self._tests(), classes="tests")
                yield Static(self._artifacts(), classes="artifacts")
            with Vertical(id="decide"):
                yield Input(placeholder="comment (required to reject)", id="comment")
                yield Static("", id="problem")
                with Horizontal(classes="buttons"):
                    yield DecisionButton("Approve (a)", variant="success", id="approve")
                    yield DecisionButton("Reject (r)", variant="error", id="reject")
                    yield DecisionButton("Later (esc)", id="later")

    def _gate(self) -> Content:
        """The environment this decision lets a deploy into, and who may make it."""
        info = self.info
        current = info.current
        rows = [
            markup("[b]Gate of $env[/b]", env=info.environment or ""),
            markup("  runs now: [cyan]$c[/] $s  [dim]$run[/]", c=current.commit[:7],
                   s=current.commit_subject, run=current.run_key)
            if current
            else markup("  runs now: [dim]nothing deployed yet[/]"),
            markup("  may decide: $who", who=", ".join(info.approvers))
            if info.approvers
            else markup("  may decide: anyone"),
        ]  # fmt: skip
        if info.author_email:
            rows.append(
                markup("  [yellow]not the commit's author[/] ($email)", email=info.author_email)
            )
        return Content("\n").join(rows)

    def _commits(self) -> Content:
        current = self.info.current
        if not self.info.commits:
            if (
                self.info.environment is not None
                and current is not None
                and current.commit == self.info.run.commit
            ):
                return markup(
                    "[b]Commits[/b]\n  [dim]none: $env runs this commit now[/]",
                    env=self.info.environment,
                )
            return markup("[b]Commits[/b]\n  [dim]none found[/]")
        rows = [
            markup(
                "  [cyan]$short[/] $subject  [dim]$author[/]",
                short=c.short,
                subject=c.subject,
                author=c.author,
            )
            for c in self.info.commits
        ]
        env, count = self.info.environment or "", len(rows)
        if self.info.leaving:
            heading = markup("[b]Commits leaving $env ($count)[/b]", env=env, count=count)
        elif self.info.environment is not None:
            heading = markup("[b]Commits going to $env ($count)[/b]", env=env, count=count)
        else:
            heading = markup("[b]Commits going out ($count)[/b]", count=count)
        return Content("\n").join([heading, *rows])

    def _tests(self) -> Content:
        if not self.info.tests:
            return markup("[b]Tests[/b]\n  [dim]this run has no test actions[/]")
        rows = []
        for test in self.info.tests:
            status = test.status
            if not test.counts:  # no reports: what the action itself came to
                # The same shape as a counted row: mark, action, what it came to.
                rows.append(
                    line(
                        plain(f"  {icon(status)} ", status.look.colour),
                        plain(f"{test.name}  ", lines=False),
                        plain(status.look.words, status.look.colour),
                    )
                )
                continue
            total = sum(test.counts.values())
            failing = test.counts.get("failed", 0) + test.counts.get("error", 0)
            if failing:
                mark, said, colour = "✘", f"{failing} failed of {total}", "red"
            else:
                mark, said, colour = "✔", f"{test.counts.get('passed', 0)} passed", "green"
            rows.append(
                line(
                    plain(f"  {mark} ", colour),
                    plain(f"{test.name}  ", lines=False),
                    plain(said, colour),
                )
            )
            for name, flaky in test.failed:
                rows.append(
                    line(
                        markup("      "),
                        plain(name, lines=False),
                        markup("  [yellow]⚠ flaky[/]" if flaky else ""),
                    )
                )
            if test.more:
                rows.append(markup("      [dim]… and $n more[/]", n=test.more))
        return Content("\n").join([markup("[b]Tests[/b]"), *rows])

    def _artifacts(self) -> Content:
        if not self.info.artifacts:
            return markup("[b]Artifacts[/b]\n  [dim]none yet[/]")
        return markup("[b]Artifacts[/b]\n  $names", names=", ".join(self.info.artifacts))

    def on_mount(self, event: events.Mount) -> None:
        # Focus starts on the buttons, so `a` and `r` act; tab reaches the comment.
        self.settled_at = event.time
        self.query_one("#approve", Button).focus()

    def on_resize(self, event: events.Resize) -> None:
        # At 80x24 every row counts: borderless buttons and comment box keep all in view.
        short = event.size.height < SHORT
        self.query_one("#comment", Input).compact = short
        for button in self.query(DecisionButton):
            button.compact = short

    # --- where the focus is --------------------------------------------------------------

    def _on_buttons(self) -> bool:
        return isinstance(self.focused, DecisionButton)

    def _to_buttons(self) -> None:
        self.query_one(f"#{self._last_button}", Button).focus()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        typing = event.widget is self.query_one("#comment", Input)
        if isinstance(event.widget, DecisionButton):
            self._last_button = event.widget.id or self._last_button
            if self._typing:  # out of the comment box, by tab or otherwise: typing may go on
                self.settled_at = event.time
        self._typing = typing
        if typing and not self._said:
            self._say("typing a comment: enter or escape goes back to the buttons", hint=True)
        elif not typing and self._hinting:
            self._say("")

    def _say(self, text: str, style: str = "dim", *, hint: bool = False) -> None:
        """One line under the comment box: a problem (red) or a hint that goes with focus."""
        self._said, self._hinting = text, hint
        self.query_one("#problem", Static).update(plain(text, style))

    # --- deciding ------------------------------------------------------------------------

    @property
    def comment(self) -> str:
        return self.query_one("#comment", Input).value.strip()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        # Only a click gets here: no key presses a DecisionButton.
        event.stop()
        if event.button.id == "approve":
            self._approve()
        elif event.button.id == "reject":
            self._reject()
        else:
            self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._leave_comment(event.time)

    def _leave_comment(self, when: float) -> None:
        self.settled_at = when  # the key that left, which may be read before the focus moves
        self._to_buttons()

    def on_key(self, event: events.Key) -> None:
        if event.key == "escape":
            event.stop()
            # From the comment box: back to the buttons. Anywhere else: close, still pending.
            if self.focused is self.query_one("#comment", Input):
                self._leave_comment(event.time)
            else:
                self.dismiss(None)
            return
        # In the comment box letters are text: the box takes them before they get here.
        if not (event.is_printable and self._on_buttons()):
            return
        deciding = event.key in ("a", "r")
        if deciding:
            event.stop()
        if not deciding or event.time < self.settled_at + TYPE_AHEAD:
            self.settled_at = event.time  # typing goes on: the next key must wait too
            if deciding:
                verb = "approve" if event.key == "a" else "reject"
                self._say(f"Still typing? Press {event.key} again to {verb}.", "yellow")
            return
        if event.key == "a":
            self._approve()
        else:
            self._reject()

    def _approve(self) -> None:
        self.dismiss(Decision(True, self.comment))

    def _reject(self) -> None:
        if not self.comment:
            self._last_button = "reject"
            self.query_one("#comment", Input).focus()
            self._say("A rejection needs a reason: type it, enter, then r.", "red")
            return
        self.dismiss(Decision(False, self.comment))

    def decided_elsewhere(self, result: str, by: str | None) -> None:
        """Someone decided from another shell: say who, and get out of the way."""
        self.app.notify(f"{self.info.run.key} was {result} by {by or 'someone'}", timeout=6)
        self.dismiss(None)
