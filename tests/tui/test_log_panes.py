"""Log panes are reused from run to run: the right files, never more widgets than panes."""

from __future__ import annotations

from pipedeck.store import Status
from pipedeck.tui.widgets.log_panes import MAX_PANES, LogPanes
from pipedeck.tui.widgets.log_view import LogView
from tests.conftest import RepoMaker
from tests.tui.conftest import console, status_of, until

TRIO = """
name: trio
stages:
  - name: Build
    actions:
      - {name: a, kind: build, run: 'echo "a of $PIPEDECK_RUN_NUMBER"; sleep 1.5'}
      - {name: b, kind: build, run: 'echo "b of $PIPEDECK_RUN_NUMBER"; sleep 1.5'}
      - {name: c, kind: build, run: 'echo "c of $PIPEDECK_RUN_NUMBER"; sleep 1.5'}
"""


async def test_a_second_run_reuses_the_panes_and_shows_its_own_logs(repo: RepoMaker) -> None:
    repo.pipeline(TRIO, name="trio")
    repo.commit("Add trio")
    async with console(repo.root) as (app, pilot):
        panes = app.main.query_one(LogPanes)
        for number in (1, 2):
            if number == 2:
                await pilot.press("t")  # times on: the panes that open next get them too
            await pilot.press("s")

            def three_panes(number: int = number) -> bool:
                views = panes.views()
                return len(views) == 3 and all(
                    v.line_count == 1 and v.visible_lines()[0].rstrip().endswith(f"of {number}")
                    for v in views
                )

            await until(pilot, three_panes, f"run {number}'s three panes")
            views = panes.views()
            assert sorted(str(v.border_title) for v in views) == ["Build/a", "Build/b", "Build/c"]
            assert all(f"/{number}/" in str(v.path) for v in views)
            assert all(v.show_timestamps is (number == 2) for v in views)
            # The panes shown come first in the grid, the selected one first of all.
            assert list(panes.children)[:3] == views
            assert views[0].has_class("-selected")
            await until(
                pilot,
                lambda n=number: (
                    status_of(app, "trio") is Status.SUCCEEDED and len(panes.views()) == 1
                ),
                f"run {number} to end",
            )
            every = list(panes.query(LogView))
            assert len(every) <= MAX_PANES
            hidden = [v for v in every if v not in panes.views()]
            assert all(not v.display and v.path is None for v in hidden)
