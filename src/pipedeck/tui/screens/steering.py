"""Keys that steer runs rather than look at them: cancel, retry, transitions, trust.

A mixin of the main screen, kept apart so that screen stays about showing state. Every key
here asks the engine through `Control` (or the trust store, for trust); none writes a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from pipedeck.engine import TrustError, TrustStore
from pipedeck.store import RunDetail
from pipedeck.store.retries import RETRYABLE
from pipedeck.tui.control import Control
from pipedeck.tui.screens.part import ScreenPart
from pipedeck.tui.text import markup
from pipedeck.tui.widgets.stage_graph import StageGraph

if TYPE_CHECKING:
    from pipedeck.definition import Pipeline


class Steering(ScreenPart):
    control: Control
    detail: RunDetail | None

    def _pipeline(self) -> Pipeline | None:
        raise NotImplementedError

    def refresh_state(self) -> None:
        raise NotImplementedError

    # --- cancel ---------------------------------------------------------------------------

    def action_cancel_run(self, wait: bool = False) -> None:
        if self.detail is None or not self.detail.run.status.active:
            self.notify("The shown run is not running.", severity="warning")
            return
        run = self.detail.run

        def answer(yes: bool | None) -> None:
            if yes:
                self.control.cancel(run.id, wait)

        from pipedeck.tui.screens.confirm import ConfirmScreen

        if wait:
            question = markup("Cancel $run once its running actions finish?", run=run.key)
        else:
            question = markup("Cancel $run? Running actions are stopped now.", run=run.key)
        self.app.push_screen(ConfirmScreen(question, yes="Cancel run"), answer)

    def action_cancel_after(self) -> None:
        self.action_cancel_run(wait=True)

    # --- retry ----------------------------------------------------------------------------

    def action_retry(self, all_actions: bool = False) -> None:
        if self.detail is None or self.detail.run.status not in RETRYABLE:
            self.notify("Only a run that failed can be retried.", severity="warning")
            return
        self._retry(self.detail, all_actions)

    def action_retry_stage(self) -> None:
        self.action_retry(all_actions=True)

    @work(exclusive=False)
    async def _retry(self, detail: RunDetail, all_actions: bool) -> None:
        said = await self.control.retry(detail.run, all_actions)
        if said is not None:
            self.notify(said)
            self.refresh_state()

    # --- transitions ----------------------------------------------------------------------

    def action_transition(self) -> None:
        """Disable the transition into the selected stage (asking why), or enable it."""
        pipeline = self._pipeline()
        stage = self.query_one(StageGraph).selected_stage_name()
        if pipeline is None or stage is None:
            self.notify("Select a stage of a pipeline first.", severity="warning")
            return
        if stage == pipeline.stages[0].name:
            self.notify(f"{stage} is the first stage: no transition leads into it.")
            return
        store = self.control.client.store
        if store.transitions.disabled(pipeline.name, stage) is not None:
            if self.control.enable_transition(pipeline.name, stage):
                self.notify(f"Transition into {stage} enabled.")
                self.refresh_state()
            return

        def disable(reason: str | None) -> None:
            if reason and self.control.disable_transition(pipeline.name, stage, reason):
                self.notify(f"Transition into {stage} disabled: runs stop before it.")
                self.refresh_state()

        from pipedeck.tui.screens.confirm import PromptScreen

        self.app.push_screen(
            PromptScreen(
                markup(
                    "Disable the transition into [b]$stage[/b] of $pipeline? Why:",
                    stage=stage,
                    pipeline=pipeline.name,
                ),
                placeholder="reason (shown to everyone)",
                ok="Disable",
            ),
            disable,
        )

    # --- trust ----------------------------------------------------------------------------

    def action_trust(self) -> None:
        pipeline = self._pipeline()
        if pipeline is None or pipeline.path is None:
            self.notify("Select a pipeline that loads to review it.", severity="warning")
            return
        # Loaded on the survey's thread by the time a pipeline can be selected.
        from pipedeck.definition import DefinitionError, load_pipeline

        trust = TrustStore()
        try:
            # Show what the file says now (the screen's copy may be older), and trust the
            # digest of the very bytes shown.
            pipeline = load_pipeline(pipeline.path)
            assert pipeline.path is not None
            state = trust.check(pipeline.path, digest=pipeline.sha256)
        except (TrustError, OSError, DefinitionError) as exc:
            self.notify(str(exc), severity="error")
            return
        if state.trusted:
            self.notify(f"{pipeline.name} is trusted: it runs on new commits.")
            return

        def answer(yes: bool | None) -> None:
            if not yes:
                return
            try:
                trust.trust_digest(state.path, state.digest)
            except (TrustError, OSError) as exc:
                self.notify(str(exc), severity="error")
                return
            self.notify(f"{pipeline.name} trusted: it now runs on new commits.")
            self.refresh_state()

        from pipedeck.tui.screens.trust import TrustDialog

        self.app.push_screen(TrustDialog(state, pipeline), answer)
