"""The stage graph: stages left to right, each a box of its action groups in run order.

Rendered from a `RunDetail` (read from the store) as Rich panels; the selection (a stage and
an action in it) is state the screen sets and reads. Boxes wrap onto a new row when the
terminal is too narrow for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from pipedeck.store import ActionDetail, RunDetail, StageDetail, Status
from pipedeck.tui.clock import Clock, elapsed
from pipedeck.tui.look import COLOURS, icon

BOX_MIN, BOX_MAX, ARROW, HELD = 16, 30, " → ", " ╳ "  # noqa: RUF001 - a cross, not an X


@dataclass(frozen=True)
class StageMarks:
    """What the graph shows besides the run itself."""

    waiting: dict[str, list[str]] = field(default_factory=dict)
    """Stage → runs (`#5`) waiting to enter it."""
    held: dict[str, str] = field(default_factory=dict)
    """Stage → why the transition into it is disabled."""


@dataclass(frozen=True)
class Selection:
    stage: int = 0
    action: int = 0


class StageGraph(Widget, can_focus=True):
    detail: reactive[RunDetail | None] = reactive(None, always_update=True)
    selection: reactive[Selection] = reactive(Selection())

    def __init__(self, clock: Clock, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.clock = clock
        self.marks = StageMarks()

    # --- selection ---------------------------------------------------------------------

    def selected_action(self) -> ActionDetail | None:
        if self.detail is None or not self.detail.stages:
            return None
        stage = self.detail.stages[min(self.selection.stage, len(self.detail.stages) - 1)]
        actions = self._ordered(stage.actions)
        return actions[min(self.selection.action, len(actions) - 1)] if actions else None

    def selected_stage_name(self) -> str | None:
        if self.detail is None or not self.detail.stages:
            return None
        return self.detail.stages[min(self.selection.stage, len(self.detail.stages) - 1)].stage.name

    def move(self, stages: int = 0, actions: int = 0) -> None:
        if self.detail is None or not self.detail.stages:
            return
        stage = max(0, min(len(self.detail.stages) - 1, self.selection.stage + stages))
        count = len(self.detail.stages[stage].actions)
        action = 0 if stages else self.selection.action + actions
        self.selection = Selection(stage, max(0, min(count - 1, action)))

    def select(self, stage_name: str, action_name: str) -> None:
        if self.detail is None:
            return
        for s, stage in enumerate(self.detail.stages):
            for a, detail in enumerate(self._ordered(stage.actions)):
                if stage.stage.name == stage_name and detail.action.name == action_name:
                    self.selection = Selection(s, a)
                    return

    @staticmethod
    def _ordered(actions: list[ActionDetail]) -> list[ActionDetail]:
        return sorted(actions, key=lambda a: (a.action.run_order, a.action.position))

    # --- drawing -------------------------------------------------------------------------

    def render(self) -> RenderableType:
        if self.detail is None:
            return Text("No run yet — press s to start one.", style="dim")
        boxes = [
            (stage.stage.name, *self._box(i, stage)) for i, stage in enumerate(self.detail.stages)
        ]
        width = max(self.size.width, BOX_MIN + len(ARROW))
        rows: list[list[tuple[str, int, Panel]]] = [[]]
        used = 0
        for name, box_width, panel in boxes:
            if rows[-1] and used + len(ARROW) + box_width > width:
                rows.append([])
                used = 0
            used += box_width + (len(ARROW) if rows[-1] else 0)
            rows[-1].append((name, box_width, panel))
        lines: list[RenderableType] = []
        for r, row in enumerate(rows):
            grid = Table.grid()
            cells: list[RenderableType] = []
            for c, (name, box_width, panel) in enumerate(row):
                if c or r:
                    grid.add_column(width=len(ARROW), vertical="middle")
                    # A disabled transition: runs stop before this stage.
                    held = name in self.marks.held
                    cells.append(
                        Text(HELD if held else ARROW, style="bold red" if held else "bold grey50")
                    )
                grid.add_column(width=box_width)
                cells.append(panel)
            grid.add_row(*cells)
            lines.append(grid)
        return Group(*lines)

    def _box(self, index: int, stage_detail: StageDetail) -> tuple[int, Panel]:
        stage = stage_detail.stage
        frame = self.clock.spinner_frame(10)
        body = Text()
        actions = self._ordered(stage_detail.actions)
        order = None
        for position, detail in enumerate(actions):
            action = detail.action
            if order is not None and action.run_order != order:
                body.append("┈" * 6 + "\n", style="grey42")
            order = action.run_order
            selected = index == self.selection.stage and position == self.selection.action
            line = Text()
            line.append(icon(action.status, frame) + " ", style=COLOURS[action.status])
            line.append(action.name, style="bold reverse" if selected else "")
            took = elapsed(self.clock, action.started_at, action.finished_at)
            if took and action.status is not Status.SKIPPED:
                line.append(f" {took}", style="dim")
            if action.status is Status.WAITING:
                line.append(" approve? a", style="bold yellow")
            body.append_text(line)
            body.append("\n")
        if stage.name in self.marks.held:
            body.append(f"⛔ held: {self.marks.held[stage.name]}\n", style="red")
        if stage.name in self.marks.waiting:
            body.append(f"⏳ waiting: {' '.join(self.marks.waiting[stage.name])}\n", style="yellow")
        body.rstrip()
        content_width = max(
            [len(stage.name) + 4] + [cell_len(line) for line in body.plain.splitlines()]
        )
        width = max(BOX_MIN, min(BOX_MAX, content_width + 4))
        took = elapsed(self.clock, stage.started_at, stage.finished_at)
        waiting = stage.status is Status.RUNNING and any(
            a.action.status is Status.WAITING for a in actions
        )
        border = COLOURS[Status.WAITING] if waiting else COLOURS[stage.status]
        return width, Panel(
            body,
            title=Text(stage.name, style="bold"),
            title_align="left",
            subtitle=took or None,
            subtitle_align="right",
            border_style=border,
            width=width,
            padding=(0, 1),
        )
