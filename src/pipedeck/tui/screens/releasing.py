"""Releases from the main screen: `e` opens the environments, and a deploy chosen there is
shown or rolled back to (after a confirmation naming what goes out and what comes back).

A mixin of the main screen, as `Steering` is. What the environments screen shows needs git
(how far behind), so it is read on the survey's thread; the rollback goes to the engine
through `Control`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from pipedeck.tui.control import Control
from pipedeck.tui.screens.part import ScreenPart
from pipedeck.tui.text import markup

if TYPE_CHECKING:
    from textual.content import Content

    from pipedeck.definition import Pipeline
    from pipedeck.store import Deployment, Store
    from pipedeck.tui.clock import Clock
    from pipedeck.tui.screens.environments import EnvironmentChoice
    from pipedeck.tui.survey import Survey


class Releasing(ScreenPart):
    control: Control
    survey: Survey
    store: Store
    clock: Clock
    pipelines: list[Pipeline]

    def show_run(self, key: str) -> None:
        raise NotImplementedError

    def refresh_state(self, look: bool = True) -> None:
        raise NotImplementedError

    @work(exclusive=True, group="environments")
    async def action_environments(self) -> None:
        from pipedeck.tui.screens.environments import EnvironmentsScreen

        views = await self.survey.environments(self.pipelines)
        if not self.is_attached:
            return
        self.app.push_screen(EnvironmentsScreen(self.store, self.clock, views), self._chosen)

    def _chosen(self, choice: EnvironmentChoice | None) -> None:
        if choice is None:
            return
        if not choice.rollback:
            self.show_run(choice.deployment.run_key)
            return
        self._confirm_rollback(choice.deployment)

    def _confirm_rollback(self, target: Deployment) -> None:
        store = self.store
        pipeline = next((p for p in self.pipelines if p.name == target.pipeline), None)
        if pipeline is None:
            self.notify(f"{target.pipeline}'s file does not load: it cannot roll back now.")
            return
        if target.stage is None:
            self.notify(f"This deploy of {target.environment} names no stage to run again.")
            return
        run = store.run_by_id(target.run_id)
        if run.kind == "rollback" and run.rollback_of is not None:
            run = store.run_by_id(run.rollback_of)  # what it brought back is the release
        current = store.ledger.current(target.environment)
        if current is not None and current.commit == target.commit:
            question = markup(
                "Deploy $run to $env again?\n\n$env runs it now: $c $s\n\n"
                "$stage runs again with $run's artifacts; nothing is built.",
                env=target.environment,
                run=run.key,
                c=target.commit[:7],
                s=target.commit_subject,
                stage=target.stage,
            )
            self._ask_rollback(question, pipeline, target.stage, run.id)
            return
        going = f"{current.commit[:7]} {current.commit_subject}" if current else "nothing now"
        question = markup(
            "Roll $env back to $run?\n\nGoing out:   $going\nComing back: $c $s\n\n"
            "$stage runs again with $run's artifacts; nothing is built.",
            env=target.environment,
            run=run.key,
            going=going,
            c=target.commit[:7],
            s=target.commit_subject,
            stage=target.stage,
        )

        self._ask_rollback(question, pipeline, target.stage, run.id)

    def _ask_rollback(self, question: Content, pipeline: Pipeline, stage: str, to: int) -> None:
        from pipedeck.tui.screens.confirm import ConfirmScreen

        def answer(yes: bool | None) -> None:
            if yes:
                self._roll_back(pipeline, stage, to)

        self.app.push_screen(ConfirmScreen(question, yes="Roll back"), answer)

    @work(exclusive=False)
    async def _roll_back(self, pipeline: Pipeline, stage: str, target_id: int) -> None:
        said = await self.control.rollback(pipeline, stage, self.store.run_by_id(target_id))
        if said is not None:
            self.notify(said)
        self.refresh_state()

    @work(exclusive=False)
    async def rerun(self, key: str) -> None:
        """`R` in the history: that run's commit again, with its pipeline as committed."""
        said = await self.control.rerun(self.store.find_run(key))
        if said is not None:
            self.notify(said)
        self.refresh_state()
