"""Below the graph: the selected action's log, plus one pane per action running beside it.

Panes are kept by log path, so a pane's scroll position and follow state survive the
refreshes around it; each pane pulls its own file (see `LogView`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.containers import Grid

from pipedeck.tui.widgets.log_view import LogView

MAX_PANES = 4


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

    def show(self, specs: list[PaneSpec]) -> None:
        specs = specs[:MAX_PANES]
        wanted = [s.path for s in specs]
        if wanted == self._order:
            return
        for path in list(self._panes):
            if path not in wanted:
                self._panes.pop(path).remove()
        for spec in specs:
            if spec.path not in self._panes:
                view = LogView()
                self._panes[spec.path] = view
                self.mount(view)
                view.show_file(spec.path, follow=True, title=spec.title)
        for index, path in enumerate(wanted):
            self._panes[path].set_class(index == 0, "-selected")
        self._order = wanted
        self.styles.grid_size_columns = 1 if len(wanted) < 2 else 2
        self.set_class(len(wanted) > 1, "-many")

    def primary(self) -> LogView | None:
        return self._panes[self._order[0]] if self._order else None

    def views(self) -> list[LogView]:
        return [self._panes[path] for path in self._order]
