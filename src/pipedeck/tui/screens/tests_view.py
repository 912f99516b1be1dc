"""`u`: the tests of the selected action (every copy of it), read from its JUnit reports.

Counts at the top; then the failed and errored tests, each with the first lines of its
message; the flaky ones that passed; then the skipped and the passed (`p` hides or shows
those). `enter` on a test opens the log of the copy that ran it, at the first line naming
the test. The cases are read on the survey's thread by the main screen, which opens this
screen with them; test names and messages are the repository's words, shown as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from pipedeck.store import ActionRecord
from pipedeck.store.results import CaseResult, ReportProblem, in_words
from pipedeck.tui.text import line, markup, plain
from pipedeck.tui.widgets.key_bar import KeyBar

MESSAGE_LINES = 3
"""Lines of a failed test's message shown under it."""
MESSAGE_WIDTH = 200
"""Characters of each of those lines; a longer one is cut."""
NAME_WIDTH = 300
"""Characters of a test's name; a longer one is cut (its log still has it whole)."""

_LOOK = {
    "failed": ("✘", "failed ", "red"),
    "error": ("✘", "error  ", "red"),
    "skipped": ("-", "skipped", "grey50"),
    "passed": ("✔", "passed ", "green"),
}


@dataclass(frozen=True)
class ActionTests:
    """What the screen shows: one action as written (all its copies) in one run."""

    run: str
    """`ci/3`."""
    stage: str
    group: str
    cases: list[CaseResult]
    problems: list[ReportProblem] = field(default_factory=list)
    copies: list[ActionRecord] = field(default_factory=list)
    """The action's copies (or the action itself), for their logs."""


def _rank(case: CaseResult) -> int:
    if case.failing:
        return 0
    if case.flaky:
        return 1
    return 2 if case.outcome == "skipped" else 3


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _prompt(case: CaseResult) -> Content:
    icon, word, colour = _LOOK.get(case.outcome, ("?", case.outcome, ""))
    name = f"{case.classname}::{case.name}" if case.classname else case.name
    pieces = [plain(f"{icon} {word} ", colour), plain(_cut(name, NAME_WIDTH), lines=False)]
    if case.label:
        pieces.append(markup("  [dim]$copy[/]", copy=_cut(case.label, 80)))
    if case.duration is not None:
        pieces.append(markup("  [dim]$took[/]", took=f"{case.duration:.2f}s"))
    if case.flaky:
        pieces.append(markup("  [b yellow]⚠ flaky[/]"))
    rows = [line(*pieces)]
    if case.failing and case.message:
        said = case.message.splitlines()[:MESSAGE_LINES]
        rows += [
            line(markup("      "), plain(_cut(text, MESSAGE_WIDTH), "grey70", lines=False))
            for text in said
        ]
    return Content("\n").join(rows)


class ResultsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "close", "Back"),
        # Before the list's own `enter` (which selects), so the footer shows it.
        Binding("enter", "open_log", "Log", priority=True),
        Binding("p", "toggle_passed", "Passed on/off"),
    ]

    def __init__(self, tests: ActionTests) -> None:
        super().__init__()
        self.tests = tests
        self.cases = sorted(tests.cases, key=_rank)  # stable: report order within a rank
        self.show_passed = True
        self._listed: list[CaseResult] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="tests-view"):
            yield Static(
                markup(
                    "[b]Tests[/b] · $run $stage/$group",
                    run=self.tests.run,
                    stage=self.tests.stage,
                    group=self.tests.group,
                ),
                classes="title",
            )
            yield Static(self._summary(), id="tests-counts")
            yield OptionList(id="tests-list")
        yield KeyBar()

    def on_mount(self) -> None:
        self._fill()
        self.query_one(OptionList).focus()

    def _summary(self) -> Content:
        counts: dict[str, int] = {}
        for case in self.cases:
            counts[case.outcome] = counts.get(case.outcome, 0) + 1
        words = in_words(counts)
        failing = any(case.failing for case in self.cases)
        rows = []
        if words:
            pieces = [plain(words, "red" if failing else "green")]
            for outcome in ("error", "skipped"):
                if counts.get(outcome):
                    pieces.append(markup("  ·  $n $what", n=counts[outcome], what=outcome))
            flaky = sum(case.flaky for case in self.cases)
            if flaky:
                pieces.append(markup("  ·  [yellow]$n flaky[/]", n=flaky))
            copies = len(self.tests.copies)
            if copies > 1:
                pieces.append(markup("  ·  [dim]from $n copies[/]", n=copies))
            rows.append(line(*pieces))
        else:
            rows.append(markup("[dim]No test cases in the reports.[/]"))
        for problem in self.tests.problems:
            rows.append(
                line(
                    markup("[yellow]report[/] "),
                    plain(f"{problem.action}: {problem.report}: {problem.problem}", lines=False),
                )
            )
        return Content("\n").join(rows)

    def _fill(self) -> None:
        listing = self.query_one(OptionList)
        highlighted = listing.highlighted
        shown = [c for c in self.cases if self.show_passed or c.failing or c.flaky]
        self._listed = shown
        options: list[Option | None] = []
        for index, case in enumerate(shown):
            if index and _rank(case) > 1 and _rank(shown[index - 1]) <= 1:
                options.append(None)  # a rule between what needs a look and the rest
            options.append(Option(_prompt(case), id=str(index)))
        hidden = len(self.cases) - len(shown)
        if hidden:
            options.append(
                Option(markup("[dim]$n passed or skipped, hidden: p shows them[/]", n=hidden),
                       disabled=True)
            )  # fmt: skip
        listing.clear_options()
        listing.add_options(options)
        if shown:
            listing.highlighted = min(highlighted or 0, len(shown) - 1)

    def highlighted_case(self) -> CaseResult | None:
        listing = self.query_one(OptionList)
        if listing.highlighted is None:
            return None
        option = listing.get_option_at_index(listing.highlighted)
        return self._listed[int(option.id)] if option.id is not None else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_open_log()

    def action_open_log(self) -> None:
        case = self.highlighted_case()
        if case is None:
            return
        copy = next((a for a in self.tests.copies if a.name == case.action), None)
        if copy is None or not copy.log_path:
            self.notify(f"{case.stage}/{case.action} has no log.", severity="warning")
            return
        from pipedeck.tui.screens.log_screen import LogScreen

        title = f"{self.tests.run} {case.stage}/{copy.shown}"
        self.app.push_screen(LogScreen(Path(copy.log_path), title, search=case.name))

    def action_toggle_passed(self) -> None:
        self.show_passed = not self.show_passed
        self._fill()

    def action_close(self) -> None:
        self.dismiss(None)
