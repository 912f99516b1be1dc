"""The stage graph: stages left to right, each a box of its action groups in run order.

Drawn from a `RunDetail` (read from the store) by `graph_boxes`, a line at a time: the lines
are built once per change (run, selection, marks, width) and each row's strip is cached until
the next, so a repaint costs next to nothing. The selection (a stage and an action in it) is
state the screen sets and reads. Boxes wrap onto a new row when the terminal is too narrow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from pipedeck.store import ActionDetail, RunDetail, StageDetail, Status
from pipedeck.tui.clock import Clock, elapsed
from pipedeck.tui.look import icon
from pipedeck.tui.text import segment
from pipedeck.tui.widgets.graph_boxes import Box, Line, layout, plain
from pipedeck.visible import visible


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
        self._lines: list[Line] = []
        self._strips: dict[int, Strip] = {}

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

    def watch_detail(self) -> None:
        self._redraw()

    def watch_selection(self) -> None:
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()  # cached strips carry the old background

    def _redraw(self) -> None:
        lines = self._draw()
        height_changed = len(lines) != len(self._lines)
        self._lines = lines
        self._strips.clear()
        # Only a change of height moves the widgets below; anything else is a repaint.
        self.refresh(layout=height_changed)

    def _draw(self) -> list[Line]:
        if self.detail is None:
            return [[Segment("No run yet — press s to start one.", Style(dim=True))]]
        boxes = [self._box(i, stage) for i, stage in enumerate(self.detail.stages)]
        return layout(boxes, self.content_region.width)

    def plain_text(self) -> str:
        """The graph as the terminal shows it, without colour."""
        return plain(self._lines)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self._lines))

    def render_line(self, y: int) -> Strip:
        strip = self._strips.get(y)
        if strip is None:
            base = self.rich_style
            line = self._lines[y] if y < len(self._lines) else []
            width = self.content_region.width
            strip = Strip(line).apply_style(base).crop_extend(0, width, base)
            self._strips[y] = strip
        return strip

    def _box(self, index: int, stage_detail: StageDetail) -> Box:
        stage = stage_detail.stage
        frame = self.clock.spinner_frame(10)
        body: list[Line] = []
        actions = self._ordered(stage_detail.actions)
        order = None
        for position, detail in enumerate(actions):
            action = detail.action
            if order is not None and action.run_order != order:
                body.append([Segment("┈" * 6, _style("grey42"))])
            order = action.run_order
            selected = index == self.selection.stage and position == self.selection.action
            line = [
                Segment(icon(action.status, frame) + " ", _style(action.status.look.colour)),
                segment(action.name, _style("bold reverse") if selected else None),
            ]
            if detail.tests:
                line.append(_tests_said(detail.tests))
            took = elapsed(self.clock, action.started_at, action.finished_at)
            if took and action.status is not Status.SKIPPED:
                line.append(Segment(f" {took}", _style("dim")))
            if action.status is Status.WAITING and not action.hold:
                line.append(Segment(" approve? a", _style("bold yellow")))
            body.append(line)
            if action.environment:
                # Which environment the deploy feeds: the release the stage makes.
                body.append([segment(f"  ⇒ {action.environment}", _style("cyan"))])
            if action.hold and action.status is Status.WAITING:
                body.append([segment(f"  ⏳ {action.hold}", _style("yellow"))])
        if stage.name in self.marks.held:
            body.append([segment(f"⛔ held: {self.marks.held[stage.name]}", _style("red"))])
        if stage.name in self.marks.waiting:
            waiting_runs = " ".join(self.marks.waiting[stage.name])
            body.append([Segment(f"⏳ waiting: {waiting_runs}", _style("yellow"))])
        waiting = stage.status is Status.RUNNING and any(
            a.action.status is Status.WAITING for a in actions
        )
        border = Status.WAITING.look.colour if waiting else stage.status.look.colour
        return Box(
            title=visible(stage.name),
            subtitle=elapsed(self.clock, stage.started_at, stage.finished_at),
            body=body,
            border=_style(border),
            held=stage.name in self.marks.held,
        )


def _tests_said(tests: dict[str, int]) -> Segment:
    """`297 passed`, or `2 failed of 297`: what the action's test reports say, in a word."""
    total = sum(tests.values())
    failed = tests.get("failed", 0) + tests.get("error", 0)
    if failed:
        return Segment(f" {failed} failed of {total}", _style("red"))
    return Segment(f" {tests.get('passed', 0)} passed", _style("green"))


@lru_cache(maxsize=64)
def _style(name: str) -> Style:
    return Style.parse(name)
