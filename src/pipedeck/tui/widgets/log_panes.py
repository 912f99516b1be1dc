"""Below the graph: the selected action's log, plus one pane per action running beside it.

Panes are kept by log path, so a pane's scroll position and follow state survive the
refreshes around it; each pane pulls its own file (see `LogView`). A pane no longer wanted is
emptied and hidden, not removed, and the next action to need one takes it: mounting and
styling a widget costs more than a frame, and a run starting several actions at once would
otherwise pay that for each of them in the middle of its busiest moment. The spare panes are
mounted while the console is idle after it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.containers import Grid

from pipedeck.tui.widgets.log_view import LogView

MAX_PANES = 4
SPARES_AFTER = 0.5
"""Seconds after opening to mount the spare panes: after the first frame, while idle."""


@dataclass(frozen=True)
class PaneSpec:
    title: str
    path: Path
    failed: bool = False
    """A failed action's log opens at its end, where the error is."""


class LogPanes(Grid):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._panes: dict[Path, LogView] = {}
        self._order: list[Path] = []
        self._spare: list[LogView] = []
        self._timestamps = False

    def on_mount(self) -> None:
        self.set_timer(SPARES_AFTER, self._mount_spares)

    def _mount_spares(self) -> None:
        missing = MAX_PANES - len(self._panes) - len(self._spare)
        spares = [LogView() for _ in range(missing)]
        for view in spares:
            view.display = False
        self._spare.extend(spares)
        if spares:
            self.mount_all(spares)

    def show(self, specs: list[PaneSpec]) -> None:
        specs = specs[:MAX_PANES]
        wanted = [s.path for s in specs]
        if wanted == self._order:
            return
        for path in list(self._panes):
            if path not in wanted:
                view = self._panes.pop(path)
                view.clear()
                view.display = False
                self._spare.append(view)
        for spec in specs:
            if spec.path not in self._panes:
                view = self._take()
                self._panes[spec.path] = view
                view.show_timestamps = self._timestamps
                view.show_file(spec.path, follow=True, title=spec.title)
        self._put_in_order(wanted)
        self._order = wanted
        self.styles.grid_size_columns = 1 if len(wanted) < 2 else 2
        self.set_class(len(wanted) > 1, "-many")

    def _take(self) -> LogView:
        if self._spare:
            view = self._spare.pop()
            view.display = True
            return view
        view = LogView()
        self.mount(view)
        return view

    def _put_in_order(self, wanted: list[Path]) -> None:
        """The grid fills in child order: put the shown panes first, the selected one first."""
        shown = [self._panes[path] for path in wanted]
        for index, view in enumerate(shown):
            view.set_class(index == 0, "-selected")
        current = [child for child in self.children if child in shown]
        if current != shown:
            for view in reversed(shown):
                self.move_child(view, before=0)

    @property
    def timestamps(self) -> bool:
        return self._timestamps

    @timestamps.setter
    def timestamps(self, show: bool) -> None:
        """Per-line times on every pane, and on the panes that open later."""
        self._timestamps = show
        for view in self._panes.values():
            view.show_timestamps = show

    def primary(self) -> LogView | None:
        return self._panes[self._order[0]] if self._order else None

    def views(self) -> list[LogView]:
        return [self._panes[path] for path in self._order]
