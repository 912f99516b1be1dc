"""The stage graph: stages left to right, each a box of its action groups in run order.

Drawn from a `RunDetail` (read from the store) by `graph_boxes`, a line at a time: the lines
are built once per change (run, selection, marks, width) and each row's strip is cached until
the next, so a repaint costs next to nothing. The selection (a stage and an action in it) is
state the screen sets and reads. Boxes wrap onto a new row when the terminal is too narrow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from pipedeck.store import ActionDetail, ActionRecord, RunDetail, StageDetail, Status
from pipedeck.store.status import together
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
        """The selected action; for shards, the one that says most (a failed one first)."""
        entry = self._selected_entry()
        return _representative(entry) if entry else None

    def selected_copies(self) -> list[ActionDetail]:
        """Every copy the selection stands for: a plain action, or all shards of one."""
        return self._selected_entry() or []

    def _selected_entry(self) -> list[ActionDetail] | None:
        if self.detail is None or not self.detail.stages:
            return None
        stage = self.detail.stages[min(self.selection.stage, len(self.detail.stages) - 1)]
        entries = _entries(stage.actions)
        return entries[min(self.selection.action, len(entries) - 1)] if entries else None

    def selected_stage_name(self) -> str | None:
        if self.detail is None or not self.detail.stages:
            return None
        return self.detail.stages[min(self.selection.stage, len(self.detail.stages) - 1)].stage.name

    def move(self, stages: int = 0, actions: int = 0) -> None:
        if self.detail is None or not self.detail.stages:
            return
        stage = max(0, min(len(self.detail.stages) - 1, self.selection.stage + stages))
        count = len(_entries(self.detail.stages[stage].actions))
        action = 0 if stages else self.selection.action + actions
        self.selection = Selection(stage, max(0, min(count - 1, action)))

    def select(self, stage_name: str, action_name: str) -> None:
        if self.detail is None:
            return
        for s, stage in enumerate(self.detail.stages):
            for a, entry in enumerate(_entries(stage.actions)):
                names = {d.action.name for d in entry}
                if stage.stage.name == stage_name and action_name in names:
                    self.selection = Selection(s, a)
                    return

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
        order = None
        group = None
        for position, entry in enumerate(_entries(stage_detail.actions)):
            first = entry[0].action
            if order is not None and first.run_order != order:
                body.append([Segment("┈" * 6, _style("grey42"))])
            order = first.run_order
            selected = index == self.selection.stage and position == self.selection.action
            cell = _cell_text(first)
            if cell is not None and first.group != group:
                # A matrix: its name and what its combinations add up to, then one line each.
                copies = [d for d in stage_detail.actions if d.action.group == first.group]
                body.append(self._line(copies, first.group, frame, False, summary=True))
            group = first.group if cell is not None else None
            if cell is not None:
                body.append([Segment("  "), *self._line(entry, cell, frame, selected)])
                continue
            shown = first.group if len(entry) > 1 else first.name
            body.append(self._line(entry, shown, frame, selected))
            action = first
            if action.environment:
                # Which environment the deploy feeds: the release the stage makes.
                body.append([segment(f"  ⇒ {action.environment}", _style("cyan"))])
            if action.hold and action.status is Status.WAITING:
                body.append([segment(f"  ⏳ {action.hold}", _style("yellow"))])
            failed = [d for d in entry if d.action.status in _FAILED] if len(entry) > 1 else []
            if failed:
                which = ", ".join(d.action.shown.rsplit(" ", 1)[-1] for d in failed)
                word = "shard" if len(failed) == 1 else "shards"
                body.append([segment(f"  ✘ {word} {which} failed", _style("red"))])
        if stage.name in self.marks.held:
            body.append([segment(f"⛔ held: {self.marks.held[stage.name]}", _style("red"))])
        if stage.name in self.marks.waiting:
            waiting_runs = " ".join(self.marks.waiting[stage.name])
            body.append([Segment(f"⏳ waiting: {waiting_runs}", _style("yellow"))])
        waiting = stage.status is Status.RUNNING and any(
            a.action.status is Status.WAITING for a in stage_detail.actions
        )
        border = Status.WAITING.look.colour if waiting else stage.status.look.colour
        return Box(
            title=visible(stage.name),
            subtitle=elapsed(self.clock, stage.started_at, stage.finished_at),
            body=body,
            border=_style(border),
            held=stage.name in self.marks.held,
        )

    def _line(
        self,
        copies: list[ActionDetail],
        name: str,
        frame: int,
        selected: bool,
        summary: bool = False,
    ) -> Line:
        """One action's line, or one for several copies of it: their status together, their
        tests summed, the longest of their times."""
        status = together([d.action.status for d in copies])
        line = [
            Segment(icon(status, frame) + " ", _style(status.look.colour)),
            segment(name, _style("bold reverse") if selected else None),
        ]
        if len(copies) > 1:
            line.append(Segment(f" ×{len(copies)}", _style("dim")))  # noqa: RUF001
        tests: Counter[str] = Counter()
        for detail in copies:
            tests.update(detail.tests)
        if tests:
            line.append(_tests_said(dict(tests)))
        if not summary:
            # From the first copy's start to the last one's end (or now, while one runs).
            starts = [d.action.started_at for d in copies if d.action.started_at]
            ends = [d.action.finished_at for d in copies if d.action.started_at]
            took = ""
            if starts:
                last = None if None in ends else max(e for e in ends if e)
                took = elapsed(self.clock, min(starts), last)
            if took and status is not Status.SKIPPED:
                line.append(Segment(f" {took}", _style("dim")))
        first = copies[0].action
        if len(copies) == 1 and first.status is Status.WAITING and not first.hold:
            line.append(Segment(" approve? a", _style("bold yellow")))
        return line


_FAILED = (Status.FAILED, Status.TIMED_OUT, Status.REJECTED)


def _ordered(actions: list[ActionDetail]) -> list[ActionDetail]:
    return sorted(actions, key=lambda a: (a.action.run_order, a.action.position))


def _cell_text(action: ActionRecord) -> str | None:
    """`python=3.12, db=sqlite` for a matrix combination (its label without its name)."""
    label = action.label
    if label is None or not label.startswith(f"{action.group} (") or not label.endswith(")"):
        return None
    return label[len(action.group) + 2 : -1]


def _entries(actions: list[ActionDetail]) -> list[list[ActionDetail]]:
    """What can be selected, in drawing order: an action, a matrix combination, or all
    shards of one action together (they are one action, split to run faster)."""
    entries: list[list[ActionDetail]] = []
    shards: dict[str, list[ActionDetail]] = {}
    for detail in _ordered(actions):
        action = detail.action
        if action.group_name is None or _cell_text(action) is not None:
            entries.append([detail])
        elif action.group in shards:
            shards[action.group].append(detail)
        else:
            shards[action.group] = [detail]
            entries.append(shards[action.group])
    return entries


def _representative(entry: list[ActionDetail]) -> ActionDetail:
    for wanted in (_FAILED, (Status.RUNNING, Status.WAITING)):
        for detail in entry:
            if detail.action.status in wanted:
                return detail
    return entry[0]


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
