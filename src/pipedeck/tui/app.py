"""The console app: the engine for its repository (or a client of it) and the screens over it.

The first console (or `pipedeck watch`) on a repository takes its lock and runs the engine,
watching the refs; another console opened meanwhile is a client that shows the same runs
from the store and sends its requests there, and takes over if the engine goes away.

The first frame is drawn from the store alone (`Client`); the pipeline files, the engine and
the watcher come after it, their modules imported and files read on the survey's thread
(`survey.py`), and the screen fills in as they are ready.

`make_app` is the one factory the CLI, the tests, the snapshots and the screenshot script
all use, so they build the same app (tests pass a frozen clock and fast engine settings).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.timer import Timer

from pipedeck.engine import USER_ERRORS, Client, Event, RepoLock, lock_holder
from pipedeck.store import RunRecord
from pipedeck.tui.clock import Clock
from pipedeck.tui.control import Control
from pipedeck.tui.messages import EngineEvent
from pipedeck.tui.screens.main import MainScreen
from pipedeck.tui.survey import Survey
from pipedeck.tui.text import markup
from pipedeck.visible import visible

if TYPE_CHECKING:
    from pipedeck.engine import Engine, EngineService, Project, Settings


class PipedeckApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "pipedeck"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        start_pipeline: str | None = None,
        watch: bool = True,
    ) -> None:
        super().__init__()
        self.client = client
        self.project: Project | None = None
        """The repository as the engine runs it: there once the console has loaded it."""
        self.clock = clock or Clock()
        self.settings = settings
        self.start_pipeline = start_pipeline
        self.watch_refs = watch
        self.engine: Engine | None = None
        self.service: EngineService | None = None
        self.survey = Survey(client.root, client.pipelines_dir, client.state_dir)
        self.control = Control(client, self._refused)
        self.ready = asyncio.Event()
        """Set once the console is all there: pipeline files read, and the engine running
        (or this console a client of another, or the repository found unable to run)."""
        self._repo_lock: RepoLock | None = None
        self._serving: asyncio.Task[None] | None = None
        self._stopped_engine = False
        self._quit_timer: Timer | None = None
        self.left_waiting: list[RunRecord] = []
        """Runs this console's engine left waiting when it stopped."""

    def get_default_screen(self) -> Screen[None]:
        # The main screen is the first screen, not one pushed over a blank one: the first
        # frame is drawn once, with the runs in it.
        return MainScreen(self.client, self.control, self.clock, self.survey)

    def on_mount(self) -> None:
        self.call_after_refresh(self._start_up, self.main)

    def _refused(self, message: str) -> None:
        self.notify(message, severity="error", timeout=10)

    @work(group="start-up")
    async def _start_up(self, main: MainScreen) -> None:
        """After the first frame: the pipeline files, then the engine (or the client role)."""
        try:
            self.project = await self.survey.project(self.client)
        except USER_ERRORS as exc:
            # The history stays to read; nothing can run until the repository is fixed.
            self.control.failure = str(exc)
            self.notify(f"Cannot run pipelines here: {exc}", severity="error", timeout=30)
            main.show_role()
            self.ready.set()
            return
        if self._stopped_engine:
            return  # the console closed meanwhile
        self.control.project = self.project
        self._become_engine()
        main.show_role()
        await main.first_look.wait()
        if self.start_pipeline:
            main.start_named(self.start_pipeline)
        # A client takes over when the engine it used goes away (the other console quit).
        self.set_interval(2.0, self._try_takeover)
        self.ready.set()
        # What is alive now (modules, classes, the widget tree) lives as long as the console.
        # Frozen, it is no longer scanned by full collections, which otherwise paused the
        # console for 30-50 ms at a time while logs streamed.
        gc.freeze()

    def _become_engine(self) -> bool:
        assert self.project is not None
        from pipedeck.engine import Engine, EngineService  # imported on the survey's thread

        self._repo_lock = RepoLock.acquire(self.project.state_dir, "console")
        if self._repo_lock is None:
            self.control.holder = lock_holder(self.project.state_dir) or "another process"
            return False
        self.engine = Engine(self.project, self.settings)
        self.engine.bus.subscribe(self._forward, logs=False)
        self.service = EngineService(
            self.engine, watch=self.watch_refs, poll_interval=self.engine.settings.poll_interval * 5
        )
        self._serving = asyncio.create_task(self.service.serve())
        self._serving.add_done_callback(self._served)
        self.control.engine = self.engine
        self.control.holder = None
        return True

    def _served(self, task: asyncio.Task[None]) -> None:
        """The service only ends when asked; if it failed, say so rather than go quiet."""
        if not task.cancelled() and task.exception() is not None:
            self.notify(
                f"The engine stopped taking requests and watching: {task.exception()!r}",
                severity="error",
                timeout=30,
            )

    def _try_takeover(self) -> None:
        if self.engine is None and not self._stopped_engine and self._become_engine():
            self.main.show_role()
            self.notify("The other engine stopped: this console now runs the pipelines.")

    def _forward(self, event: Event) -> None:
        # Log output is not subscribed to: panes pull it from disk at their own pace.
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.post_message(EngineEvent(event))

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Every toast of the console, whoever raises it: its text is shown as written.

        Toasts carry outside words (approval messages, errors quoting a file), so `markup`
        is ignored: `Screen.notify` and `Widget.notify` pass `markup=True` by default, and
        one forgotten flag must not be enough to let a commit subject act on the console.
        """
        super().notify(
            visible(message, lines=True),
            title=visible(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Start a run", "Run the selected pipeline on HEAD", main.action_start)
        yield SystemCommand("Cancel the run", "Stop the shown run now", main.action_cancel_run)
        yield SystemCommand(
            "Cancel after running actions",
            "Let running actions finish, start nothing more",
            main.action_cancel_after,
        )
        yield SystemCommand(
            "Retry failed actions", "Re-run what failed, then go on", main.action_retry
        )
        yield SystemCommand(
            "Retry the whole stage",
            "Re-run every action of the failed stage",
            main.action_retry_stage,
        )
        yield SystemCommand(
            "Disable or enable the transition",
            "Hold runs before the selected stage, or let them go on",
            main.action_transition,
        )
        yield SystemCommand(
            "Trust the pipeline", "Review its commands and trust it", main.action_trust
        )
        yield SystemCommand("Approve or reject", "Open the approval dialog", main.action_approve)
        yield SystemCommand("History", "Every past run", main.action_history)
        yield SystemCommand(
            "Open log", "The selected action's log, full screen", main.action_open_log
        )
        yield SystemCommand("Keys", "Every key of the console", self.action_help)

    def action_help(self) -> None:
        from pipedeck.tui.screens.help import HelpScreen  # screens a key opens load then

        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Quit; runs that only wait (for an approval) stay waiting for the next engine.

        While actions are running, ask first: wait for them, cancel them, or stay.
        """
        working = self.engine.working() if self.engine is not None else []
        if not working:
            await self._close_and_exit()
            return
        plural = "s are" if len(working) > 1 else " is"
        question = markup(
            "$runs: $count run$plural still at work. Quit once they finish (or only wait"
            " for a person), cancel them now, or stay?",
            runs=", ".join(run.key for run in working),
            count=len(working),
            plural=plural,
        )
        from pipedeck.tui.screens.confirm import ChoiceScreen

        choices = [("w", "Wait for them", "wait"), ("c", "Cancel them", "cancel")]
        self.push_screen(ChoiceScreen(question, [*choices, ("s", "Stay", "stay")]), self._quit_as)

    async def _quit_as(self, answer: str | None) -> None:
        if self._quit_timer is not None:
            self._quit_timer.stop()
            self._quit_timer = None
        if answer == "cancel":
            await self._close_and_exit()
        elif answer == "wait":
            self.notify("Quitting once no run is at work (q again to choose otherwise).")
            self._quit_timer = self.set_interval(0.2, self._quit_when_idle)

    async def _quit_when_idle(self) -> None:
        if self.engine is None or not self.engine.working():
            await self._close_and_exit()

    async def _close_and_exit(self) -> None:
        await self.close_engine()
        self.exit()

    async def close_engine(self) -> None:
        """Stop watching, cancel what is at work, and let another process be the engine.

        Runs that only wait (an approval, a stage boundary) are left waiting, in the store,
        for the next engine to take up: `left_waiting` lists them.
        """
        self._stopped_engine = True
        if self._serving is not None:
            self._serving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._serving
            self._serving = None
        if self.engine is not None:
            engine, self.engine = self.engine, None
            self.control.engine = None
            self.left_waiting += await engine.close()
        if self._repo_lock is not None:
            self._repo_lock.release()
            self._repo_lock = None

    async def on_unmount(self) -> None:
        # However the app ends (an error, a test harness), its runs stop and the lease goes.
        await self.close_engine()
        await self.survey.close()
        if self.project is not None:
            self.project.repo.close()  # the store is the client's, closed by its opener
        # Let the collector see the frozen objects again: one process may open many apps.
        gc.unfreeze()


def make_app(
    repo: Path,
    *,
    state_dir: Path | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
    start_pipeline: str | None = None,
    watch: bool = True,
) -> PipedeckApp:
    return PipedeckApp(
        Client.open(repo, state_dir),
        clock=clock,
        settings=settings,
        start_pipeline=start_pipeline,
        watch=watch,
    )
