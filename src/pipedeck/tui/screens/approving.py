"""Approvals from the main screen: opening the dialog, noticing a new wait, and closing a
dialog whose approval was decided elsewhere.

A mixin of the main screen, as `Steering` is. What the dialog shows is read on the survey's
thread (it runs git); the decision goes to the engine through `Control`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work

from pipedeck.store import RunDetail, Status
from pipedeck.tui.clock import Clock
from pipedeck.tui.control import Control
from pipedeck.tui.screens.part import ScreenPart

if TYPE_CHECKING:
    from pipedeck.tui.screens.approval import Decision
    from pipedeck.tui.survey import Survey


class Approving(ScreenPart):
    control: Control
    detail: RunDetail | None
    survey: Survey
    clock: Clock
    _seen_waiting: set[int]

    def refresh_state(self, look: bool = True) -> None:
        raise NotImplementedError

    def action_approve(self) -> None:
        if self.detail is not None:
            self._open_approval(self.detail.run.id, self.detail.run.key)

    @work(exclusive=True, group="approval")
    async def _open_approval(self, run_id: int, key: str) -> None:
        from pipedeck.tui.screens.approval import ApprovalDialog

        # What ships is read with git: on the survey's thread, never on the loop.
        info = await self.survey.approval(run_id)
        if not self.is_attached:
            return  # the console closed meanwhile
        if info is None:
            self.notify(f"{key} has no approval waiting.", severity="warning")
            return
        if isinstance(self.app.screen, ApprovalDialog):
            return  # one dialog at a time; it is asked for again once this one closes

        def decided(decision: Decision | None) -> None:
            if decision is not None:
                action = f"{info.stage}/{info.action}"
                self.control.decide(run_id, decision.approved, decision.comment, action)
            self.refresh_state()

        self.app.push_screen(ApprovalDialog(info, self.clock), decided)

    def _notice_waiting(self) -> None:
        """A client gets no engine events: it notices a new waiting approval in the store."""
        if self.control.engine is not None or self.control.opening or self.detail is None:
            return
        waiting = {
            a.action.id for _, a in self.detail.actions() if a.action.status is Status.WAITING
        }
        new = waiting - self._seen_waiting
        self._seen_waiting = waiting
        if new and self.app.screen is self:
            self.app.bell()
            self.action_approve()

    def _check_dialog(self) -> None:
        """Close an open approval dialog whose approval was decided elsewhere."""
        dialog = self.app.screen
        if dialog is self or self.detail is None:
            return
        from pipedeck.tui.screens.approval import ApprovalDialog  # imported once one opened

        if not isinstance(dialog, ApprovalDialog):
            return
        for stage, action in self.detail.actions():
            name = f"{dialog.info.run.key}:{stage.name}/{action.action.name}"
            if name == dialog.key and action.approval and action.approval.result:
                dialog.decided_elsewhere(action.approval.result, action.approval.decided_by)
