"""The console app: owns the engine for its repository and the screens over it.

`make_app` is the one factory the CLI, the tests, the snapshots and the screenshot script
all use, so they build the same app (tests pass a frozen clock and fast engine settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from pipedeck.engine import Engine, Project, Settings
from pipedeck.engine.events import Event
from pipedeck.tui.clock import Clock
from pipedeck.tui.messages import EngineEvent
from pipedeck.tui.screens.confirm import ConfirmScreen
from pipedeck.tui.screens.help import HelpScreen
from pipedeck.tui.screens.main import MainScreen


class PipedeckApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "pipedeck"
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True)]

    def __init__(
        self,
        project: Project,
        *,
        clock: Clock | None = None,
        settings: Settings | None = None,
        start_pipeline: str | None = None,
    ) -> None:
        super().__init__()
        self.project = project
        self.clock = clock or Clock()
        self.settings = settings
        self.start_pipeline = start_pipeline
        self.engine: Engine | None = None

    def on_mount(self) -> None:
        self.engine = Engine(self.project, self.settings)
        self.engine.bus.subscribe(self._forward, logs=False)
        main = MainScreen(self.project, self.engine, self.clock)
        self.push_screen(main)
        if self.start_pipeline:
            self.call_after_refresh(main.start_named, self.start_pipeline)

    def _forward(self, event: Event) -> None:
        # Log output is not subscribed to: panes pull it from disk at their own pace.
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.post_message(EngineEvent(event))

    @property
    def main(self) -> MainScreen:
        return next(s for s in self.screen_stack if isinstance(s, MainScreen))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        main = self.main
        yield SystemCommand("Start a run", "Run the selected pipeline on HEAD", main.action_start)
        yield SystemCommand("Cancel the run", "Stop the shown run", main.action_cancel_run)
        yield SystemCommand("Approve or reject", "Open the approval dialog", main.action_approve)
        yield SystemCommand("History", "Every past run", main.action_history)
        yield SystemCommand(
            "Open log", "The selected action's log, full screen", main.action_open_log
        )
        yield SystemCommand("Keys", "Every key of the console", self.action_help)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        if self.engine is not None and self.main.has_active_runs():
            self.push_screen(
                ConfirmScreen("A run is still active. Quit and cancel it?", yes="Quit"),
                self._quit_if,
            )
            return
        await self._close_engine_and_exit()

    async def _quit_if(self, yes: bool | None) -> None:
        if yes:
            await self._close_engine_and_exit()

    async def _close_engine_and_exit(self) -> None:
        await self._close_engine()
        self.exit()

    async def _close_engine(self) -> None:
        if self.engine is not None:
            engine, self.engine = self.engine, None
            await engine.close()

    async def on_unmount(self) -> None:
        # However the app ends (an error, a test harness), its runs stop and the lease goes.
        await self._close_engine()


def make_app(
    repo: Path,
    *,
    state_dir: Path | None = None,
    clock: Clock | None = None,
    settings: Settings | None = None,
    start_pipeline: str | None = None,
) -> PipedeckApp:
    return PipedeckApp(
        Project.open(repo, state_dir),
        clock=clock,
        settings=settings,
        start_pipeline=start_pipeline,
    )
