"""The main screen: pipelines and runs, the shown run's stage graph, and its logs.

State flows one way: a timer (and every engine event) reads the store and hands the results
down to the widgets; widgets report choices up as messages. The screen never writes run
state — it asks the engine through `Control` (`start`, `approve`, `reject`, `cancel`, `retry`),
which is this console's own engine or, for a second console, the one that owns the repository.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from pipedeck.definition.errors import display_path
from pipedeck.engine import (
    ApprovalDecided,
    ApprovalRequested,
    RunFinished,
    RunsPruned,
    RunStarted,
    TriggerSkipped,
    WatchStarted,
)
from pipedeck.store import ActionDetail, RunDetail, Status, StoreError
from pipedeck.tui.board import FAILED, planned, stage_marks, telling_action
from pipedeck.tui.clock import Clock
from pipedeck.tui.control import Control
from pipedeck.tui.messages import EngineEvent
from pipedeck.tui.screens.approving import Approving
from pipedeck.tui.screens.releasing import Releasing
from pipedeck.tui.screens.steering import Steering
from pipedeck.tui.text import markup
from pipedeck.tui.widgets.header import Header, role
from pipedeck.tui.widgets.key_bar import KeyBar
from pipedeck.tui.widgets.log_panes import LogPanes, PaneSpec
from pipedeck.tui.widgets.run_list import PipelineRow, RunList
from pipedeck.tui.widgets.stage_graph import StageGraph

if TYPE_CHECKING:
    from pipedeck.definition import LoadResult, Pipeline, Problem
    from pipedeck.engine import Client
    from pipedeck.tui.survey import Survey

# The screens a key opens are imported when it is pressed, not before the first frame.

TICK = 0.2
RUNS_PER_PIPELINE = 8
NOTES_EVERY = 25
"""Ticks between two looks at trust and new commits (they read files and run git)."""


def _shown(problem: Problem) -> str:
    """A problem as the CLI prints it: the file relative to where the console was started."""
    return str(replace(problem, path=display_path(problem.path)))


class MainScreen(Approving, Releasing, Steering, Screen[None]):
    # Focus the graph as the screen opens, not after: each focus change rebuilds the footer.
    AUTO_FOCUS = "#graph"
    BINDINGS = [
        Binding("left", "move(-1, 0)", "Stage", show=False),
        Binding("right,l", "move(1, 0)", "Stage", show=False),
        Binding("up,k", "move(0, -1)", "Action", show=False),
        Binding("down,j", "move(0, 1)", "Action", show=False),
        Binding("enter", "open_log", "Log"),
        Binding("s", "start", "Start"),
        Binding("c", "cancel_run", "Cancel"),
        Binding("C", "cancel_after", "Cancel after running", show=False),
        Binding("a", "approve", "Approve"),
        Binding("R", "retry", "Retry"),
        Binding("d", "transition", "Transition", show=False),
        Binding("T", "trust", "Trust", show=False),
        Binding("h", "history", "History"),
        Binding("e", "environments", "Environments"),
        Binding("u", "tests", "Tests", show=False),
        Binding("t", "timestamps", "Times", show=False),
        Binding("f,end", "follow", "Follow", show=False),
        Binding("slash", "search", "Search", show=False),
        Binding("question_mark", "app.help", "Help"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, client: Client, control: Control, clock: Clock, survey: Survey) -> None:
        super().__init__()
        self.client = client
        self.store = client.store
        self.control = control
        self.clock = clock
        self.survey = survey
        self.loaded = False
        """The pipeline files have been read; until then the screen shows the store's record."""
        self.first_look = asyncio.Event()
        """Set once the pipeline files have been read the first time."""
        self._recorded = client.store.pipeline_names()
        self.pipelines: list[Pipeline] = []
        self.problems: list[Problem] = []
        self.selected_pipeline: str | None = None
        self.pinned_run: str | None = None
        """A run the user chose; None follows the newest run."""
        self.on_heading = False
        """The run list's cursor is on the selected pipeline's own row, not one of its runs."""
        self.user_chose = False
        """Once the user picked a row, a run starting elsewhere no longer moves the cursor."""
        self._plan_of: tuple[Pipeline, RunDetail] | None = None
        self.auto_action = True
        """Until the user moves in the graph, the graph selects the most telling action."""
        self.detail: RunDetail | None = None
        self._ticks = 0
        self._refresh_queued = False
        self._notes: dict[str, tuple[str, ...]] = {}
        self._notes_due = True
        self._notes_at = 0
        self._looking = False
        self._seen_waiting: set[int] = set()

    def compose(self) -> ComposeResult:
        yield Header(self.client.root.name, self.client.location.branch(), id="header")
        with Horizontal(id="body"):
            yield RunList(self.clock, id="runs")
            with Vertical(id="centre"):
                yield StageGraph(self.clock, id="graph")
                yield Static(id="problems")
                yield LogPanes(id="logs")
        yield KeyBar()

    def on_mount(self) -> None:
        # The first frame is drawn from the store alone; reading files and git starts once
        # it is on the screen, so that nothing competes with drawing it.
        self.refresh_state(look=False)
        self.call_after_refresh(self._first_frame_drawn)

    def _first_frame_drawn(self) -> None:
        self._look()
        self._read_head()
        self.set_interval(TICK, self.refresh_state)

    # --- reading state -------------------------------------------------------------------

    def _look(self) -> None:
        """Have the survey read the pipeline files (if changed) and notes, unless it is at
        it already: a slow disk delays what the screen shows, never the screen."""
        if not self._looking:
            self._looking = True
            self._looked()

    @work(group="survey")
    async def _looked(self) -> None:
        try:
            result = await self.survey.pipelines()
            if result is not None:
                self._loaded(result)
            notes_due = result is not None or self._notes_due or self._ticks >= self._notes_at
            if notes_due:
                self._notes_due = False
                self._notes_at = self._ticks + NOTES_EVERY
                self._notes = await self.survey.notes(self.pipelines)
        finally:
            self._looking = False
        if notes_due:  # something new to show
            self.queue_refresh()

    def _loaded(self, result: LoadResult) -> None:
        self.pipelines, self.problems = result.pipelines, result.problems
        names = [p.name for p in self.pipelines]
        broken = {p.path.stem for p in self.problems}
        if self.selected_pipeline not in {*names, *broken}:
            # Chosen from the record before the files were read, and no file has it now.
            self.selected_pipeline, self.pinned_run, self.on_heading = None, None, False
        if self.selected_pipeline is None and names:
            # What the first frame showed, the newest run, stays in view if it still loads.
            newest = self.store.runs(limit=1)
            shown = newest[0].pipeline if newest else None
            self.selected_pipeline = shown if shown in names else names[0]
        self.loaded = True
        self.first_look.set()

    def show_role(self) -> None:
        """Show again how this console relates to the engine (it just changed)."""
        self._read_head()

    @work(exclusive=True, group="head")
    async def _read_head(self) -> None:
        head = await self.survey.head()
        for header in self.query(Header):  # none left if the console closed meanwhile
            header.show(head.branch, head.commit, role(self.control, self.app))

    def _rows(self) -> list[PipelineRow]:
        store = self.store
        if not self.loaded:
            recorded = self._recorded
            return [PipelineRow(n, store.runs(n, limit=RUNS_PER_PIPELINE)) for n in recorded]
        rows = [
            PipelineRow(
                p.name,
                store.runs(p.name, limit=RUNS_PER_PIPELINE),
                notes=self._notes.get(p.name, ()),
            )
            for p in self.pipelines
        ]
        names = {p.name for p in self.pipelines}
        for path in sorted({p.path for p in self.problems}):
            if path.stem not in names:
                first = next(p for p in self.problems if p.path == path)
                rows.append(PipelineRow(path.stem, store.runs(path.stem, limit=3), _shown(first)))
        return rows

    def shown_run_key(self, rows: list[PipelineRow]) -> str | None:
        if self.pinned_run:
            return self.pinned_run
        for row in rows:
            if row.name == self.selected_pipeline:
                return row.runs[0].key if row.runs else None
        newest = [row.runs[0] for row in rows if row.runs]
        return max(newest, key=lambda r: r.created_at).key if newest else None

    def _cursor(self, key: str | None) -> str | None:
        """The run list row the cursor is on: the shown run, or the pipeline's own row."""
        if (self.on_heading or key is None) and self.selected_pipeline is not None:
            return f"pipeline:{self.selected_pipeline}"
        return key

    def _plan(self) -> RunDetail | None:
        """The selected pipeline's stages as they would start, for a pipeline that never ran."""
        pipeline = self._pipeline()
        if pipeline is None:
            return None
        if self._plan_of is None or self._plan_of[0] is not pipeline:
            self._plan_of = (pipeline, planned(pipeline))
        return self._plan_of[1]

    def refresh_state(self, look: bool = True) -> None:
        if not self.is_attached:
            return  # a worker that finished as the console closed
        self._ticks += 1
        if look:
            self._look()
            if self._ticks % 10 == 1:
                self._read_head()
        rows = self._rows()
        key = self.shown_run_key(rows)
        store = self.store
        try:
            self.detail = store.detail(store.find_run(key)) if key else None
        except StoreError:
            self.detail = None
        shown = self.detail or self._plan()
        self.query_one(RunList).show(rows, self._cursor(key), ages=self._ticks % 25 == 0)
        graph = self.query_one(StageGraph)
        marks = stage_marks(store, shown, rows)
        if graph.detail != shown or self._animated() or marks != graph.marks:
            graph.marks = marks
            graph.detail = shown
        if self.auto_action and self.detail is not None:
            telling = telling_action(self.detail)
            if telling is not None:
                graph.select(*telling)
        self._show_problems(rows)
        self._show_logs()
        self._check_dialog()
        self._notice_waiting()

    def _animated(self) -> bool:
        """Spinners and elapsed times move only while something runs."""
        return self.detail is not None and self.detail.run.status.active

    def queue_refresh(self) -> None:
        """One refresh for a burst of events (eight actions starting at once), not eight."""
        if not self._refresh_queued:
            self._refresh_queued = True
            self.call_after_refresh(self._queued_refresh)

    def _queued_refresh(self) -> None:
        self._refresh_queued = False
        self.refresh_state()

    def _show_problems(self, rows: list[PipelineRow]) -> None:
        problems = self.query_one("#problems", Static)
        broken = [p for p in self.problems if p.path.stem == self.selected_pipeline]
        problems.display = bool(broken) and self.pinned_run is None
        if broken:
            text = "\n".join(_shown(p) for p in broken)
            problems.update(markup("[b red]This pipeline file does not load:[/]\n$text", text=text))

    def _show_logs(self) -> None:
        graph = self.query_one(StageGraph)
        selected = graph.selected_action()
        specs: list[PaneSpec] = []
        if selected is not None and selected.action.log_path:
            specs.append(self._pane(graph.selected_stage_name() or "", selected))
        if self.detail is not None:
            for stage, action in self.detail.actions():
                if (
                    action.action.status is Status.RUNNING
                    and action.action.log_path
                    and action is not selected
                    and (selected is None or action.action.id != selected.action.id)
                ):
                    specs.append(self._pane(stage.name, action))
        self.query_one(LogPanes).show(specs)

    @staticmethod
    def _pane(stage: str, action: ActionDetail) -> PaneSpec:
        return PaneSpec(
            title=f"{stage}/{action.action.shown}",
            path=Path(action.action.log_path or ""),
            failed=action.action.status in FAILED,
        )

    # --- engine events -------------------------------------------------------------------

    @on(EngineEvent)
    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, RunStarted) and self._follows(event.pipeline):
            if event.pipeline != self.selected_pipeline:
                self.on_heading = False
            self.selected_pipeline = event.pipeline
            self.auto_action = True
        if isinstance(event, ApprovalRequested):
            self.app.bell()
            self.notify(f"{event.run} waits for approval: {event.message}", timeout=8)
        if isinstance(event, TriggerSkipped):
            self._notes_due = True
            self.notify(
                f"Not run: {event.pipeline} for {event.commit[:7]}. {event.reason}"
                " (or press T on it).",
                severity="warning",
                timeout=10,
            )
        if isinstance(event, RunsPruned):
            from pipedeck.engine import human_size

            count = len(event.runs)
            if count:
                self.notify(
                    f"Retention: {count} old run{'s' * (count != 1)} of {event.pipeline}"
                    f" pruned, {human_size(event.freed)} freed.",
                    timeout=6,
                )
            for why in event.failed:
                self.notify(
                    f"Retention could not remove all of {why}; it tries again later.",
                    severity="warning",
                    timeout=10,
                )
        if isinstance(event, WatchStarted) and event.mode == "polling":
            self.notify(f"Polling for commits: {event.reason}", severity="warning", timeout=10)
        if isinstance(event, RunFinished):
            self._notes_due = True
            self.app.bell()
            ok = event.status == Status.SUCCEEDED
            words = Status(event.status).look.words
            self.notify(
                f"{event.run} {words}", severity="information" if ok else "error", timeout=8
            )
        if not isinstance(event, ApprovalRequested):
            self.queue_refresh()
            return
        self.refresh_state()
        if (
            isinstance(event, ApprovalRequested)
            and self.detail is not None
            and self.detail.run.id == event.run_id
            and self.app.screen is self
        ):
            self.action_approve()
        if isinstance(event, ApprovalDecided):
            self._check_dialog()

    # --- choices from widgets ------------------------------------------------------------

    def _follows(self, pipeline: str) -> bool:
        """Whether a new run of `pipeline` takes the cursor: the newest run is followed, but
        never away from a pipeline the user chose (`s` must start what is highlighted)."""
        if self.pinned_run is not None:
            return False
        return not self.user_chose or pipeline == self.selected_pipeline

    @on(RunList.RunChosen)
    def on_run_chosen(self, message: RunList.RunChosen) -> None:
        rows = self._rows()
        pipeline = message.key.rpartition("/")[0]
        newest = next((r.runs[0].key for r in rows if r.name == pipeline and r.runs), None)
        self.selected_pipeline = pipeline
        self.pinned_run = None if message.key == newest else message.key
        self.on_heading = False
        self.user_chose = True
        self.auto_action = True
        self.refresh_state()

    @on(RunList.PipelineChosen)
    def on_pipeline_chosen(self, message: RunList.PipelineChosen) -> None:
        self.selected_pipeline = message.name
        self.pinned_run = None
        self.on_heading = True
        self.user_chose = True
        self.auto_action = True
        self.refresh_state()

    def show_run(self, key: str) -> None:
        """Show a run picked elsewhere (history)."""
        self.selected_pipeline = key.rpartition("/")[0]
        self.pinned_run = key
        self.on_heading = False
        self.user_chose = True
        self.auto_action = True
        self.refresh_state()

    # --- actions -------------------------------------------------------------------------

    def action_move(self, stages: int, actions: int) -> None:
        self.auto_action = False
        self.query_one(StageGraph).move(stages, actions)
        self._show_logs()

    def action_open_log(self) -> None:
        graph = self.query_one(StageGraph)
        selected = graph.selected_action()
        if selected is None or not selected.action.log_path:
            self.notify("This action has no log yet.", severity="warning")
            return
        from pipedeck.tui.screens.log_screen import LogScreen

        run = self.detail.run.key if self.detail else ""
        title = f"{run} {graph.selected_stage_name()}/{selected.action.shown}"
        self.app.push_screen(LogScreen(Path(selected.action.log_path), title))

    def _pipeline(self) -> Pipeline | None:
        return next((p for p in self.pipelines if p.name == self.selected_pipeline), None)

    def _startable(self) -> Pipeline | None:
        """The selected pipeline if it can be started, else None having said why."""
        pipeline = self._pipeline()
        if pipeline is None and not self.loaded:
            self.notify("The pipeline files are still being read: a moment.", severity="warning")
        elif pipeline is None:
            self.notify("Select a pipeline that loads to start it.", severity="warning")
        return pipeline

    def action_start(self) -> None:
        pipeline = self._startable()
        if pipeline is None:
            return
        if pipeline.variables:
            from pipedeck.tui.screens.variables import VariablesScreen

            def chosen(values: dict[str, str] | None) -> None:
                if values is not None:
                    self._start(pipeline, values)

            self.app.push_screen(VariablesScreen(pipeline.name, dict(pipeline.variables)), chosen)
        else:
            self._start(pipeline, {})

    def start_named(self, name: str) -> None:
        """Start `name` with its default variables (`pipedeck demo` does this on open)."""
        self.selected_pipeline = name
        pipeline = self._pipeline()
        if pipeline is not None:
            self._start(pipeline, {})

    @work(exclusive=False)
    async def _start(self, pipeline: Pipeline, variables: dict[str, str]) -> None:
        said = await self.control.start(pipeline, variables)
        if said is None:
            return
        self.selected_pipeline = pipeline.name
        self.pinned_run = None
        self.on_heading = False
        self.auto_action = True
        self.notify(said)
        self.refresh_state()

    def action_history(self) -> None:
        from pipedeck.tui.screens.history import HistoryScreen

        names = [p.name for p in self.pipelines] if self.loaded else self._recorded
        self.app.push_screen(
            HistoryScreen(self.store, self.clock, names, rerun=self.rerun),
            lambda key: self.show_run(key) if key else None,
        )

    @work(exclusive=True, group="tests")
    async def action_tests(self) -> None:
        """The selected action's tests, all its copies together (read on the survey's
        thread: flakiness looks through earlier runs)."""
        graph = self.query_one(StageGraph)
        selected, stage = graph.selected_action(), graph.selected_stage_name()
        detail = self.detail
        if selected is None or stage is None or detail is None:
            self.notify("Select an action of a run to see its tests.", severity="warning")
            return
        group = selected.action.group
        cases, problems = await self.survey.tests(detail.run.id)
        copies = [
            a.action for s, a in detail.actions() if s.name == stage and a.action.group == group
        ]
        names = {a.name for a in copies}
        cases = [c for c in cases if c.stage == stage and c.action in names]
        problems = [p for p in problems if p.stage == stage and p.action in names]
        if not self.is_attached:
            return
        if not cases and not problems:
            self.notify(f"{stage}/{group} has no test reports in {detail.run.key}.")
            return
        from pipedeck.tui.screens.tests_view import ActionTests, ResultsScreen

        tests = ActionTests(detail.run.key, stage, group, cases, problems, copies)
        self.app.push_screen(ResultsScreen(tests))

    def action_timestamps(self) -> None:
        panes = self.query_one(LogPanes)
        panes.timestamps = not panes.timestamps

    def action_follow(self) -> None:
        view = self.query_one(LogPanes).primary()
        if view is not None:
            view.action_follow()

    def action_search(self) -> None:
        view = self.query_one(LogPanes).primary()
        if view is not None:
            view.focus()
            view.action_search()
