"""The left column: each pipeline and, under it, its recent runs."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option, OptionDoesNotExist

from pipedeck.store import WORKING_TREE, RunRecord
from pipedeck.tui.clock import Clock, age
from pipedeck.tui.text import rich_plain
from pipedeck.visible import visible


@dataclass(frozen=True)
class PipelineRow:
    name: str
    runs: list[RunRecord]
    broken: str | None = None
    """The first located problem, when the pipeline file does not load."""
    notes: tuple[str, ...] = ()
    """What else to say under the name: not trusted, commits not yet run."""


class RunList(OptionList):
    """Options are runs (`id` = `pipeline/number`) under disabled pipeline headings."""

    class RunChosen(Message):
        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    class PipelineChosen(Message):
        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, clock: Clock, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self._rows: list[PipelineRow] = []
        self._wanted: str | None = None
        """The row the screen last asked to highlight; its highlight event is not a choice."""

    def show(self, rows: list[PipelineRow], cursor: str | None, ages: bool = False) -> None:
        """Redraw with `rows`, the row `cursor` highlighted (`pipeline:NAME` or a run key);
        `ages` also re-dates unchanged rows (their "3m ago" moves on)."""
        if rows == self._rows and self.option_count:
            if ages:
                self._refresh_ages(rows)
            self._highlight(cursor)
            return
        self._rows = rows
        options: list[Option] = []
        for row in rows:
            heading = rich_plain(f"▸ {row.name}", "bold")
            if row.broken:
                heading.append("  ✘ broken", style="red")
            options.append(Option(heading, id=f"pipeline:{row.name}"))
            options.extend(
                Option(rich_plain(f"   {note}", "yellow"), disabled=True) for note in row.notes
            )
            if not row.runs and not row.broken:
                options.append(Option(rich_plain("   no runs yet", "dim"), disabled=True))
            options.extend(Option(self._label(run), id=run.key) for run in row.runs)
        self.set_options(options)
        self._highlight(cursor)

    def _highlight(self, key: str | None) -> None:
        if key is None:
            return
        self._wanted = key
        current = self.highlighted_option.id if self.highlighted_option else None
        if key != current:
            # A run picked in history may be older than the runs listed: nothing to move to.
            with contextlib.suppress(OptionDoesNotExist):
                self.highlighted = self.get_option_index(key)

    def _refresh_ages(self, rows: list[PipelineRow]) -> None:
        for row in rows:
            for run in row.runs:
                self.replace_option_prompt(run.key, self._label(run))

    def _label(self, run: RunRecord) -> Text:
        label = Text("   ")
        label.append(run.status.look.icon, style=run.status.look.colour)
        label.append(f" #{run.number:<4}", style="bold")
        if run.definition_origin == WORKING_TREE:
            # Its pipeline file had uncommitted edits: the run is not what the commit says.
            label.append(run.commit[:7], style="cyan")
            label.append("✎ ", style="yellow")
        elif run.kind == "rollback":
            # A rollback brings an older commit back: say so beside it.
            label.append(run.commit[:7], style="cyan")
            label.append("↩ ", style="magenta")
        else:
            label.append(f"{run.commit[:7]} ", style="cyan")
        if run.waiting_for and run.status.active:
            # In place of the age, which would push it off the column: where it waits.
            label.append(visible(f"⏳{run.waiting_for[:12]}"), style="yellow")
        else:
            label.append(age(self.clock, run.created_at), style="dim")
        return label

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        option_id = event.option.id
        # The screen's own move arrives here later; only a person's move is a choice.
        if option_id is None or option_id == self._wanted:
            return
        self._wanted = option_id
        if option_id.startswith("pipeline:"):
            self.post_message(self.PipelineChosen(option_id.removeprefix("pipeline:")))
        else:
            self.post_message(self.RunChosen(option_id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
