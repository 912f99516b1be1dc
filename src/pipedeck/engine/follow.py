"""Following a run another process executes: the store and the log files, replayed as events.

A client (`pipedeck run` while a watcher owns the repository, `pipedeck retry`) prints the
same output as if it ran the run itself: it polls the run's rows and tails its action logs,
and publishes the engine's own event types to the same printers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from pipedeck.engine.events import (
    ActionFinished,
    ActionStarted,
    ApprovalDecided,
    ApprovalRequested,
    Event,
    LogLines,
    RunFinished,
    RunRef,
    RunStarted,
    StageFinished,
    StageStarted,
)
from pipedeck.engine.liveness import engine_alive
from pipedeck.engine.recovery import recover
from pipedeck.store import ActionDetail, RunRecord, Status, Store
from pipedeck.store.logs import LogTail

Publish = Callable[[Event], None]


class RunFollower:
    def __init__(self, store: Store, run: RunRecord, publish: Publish, since: str) -> None:
        """`since`: parts of the run that ended before this moment are history, not news
        (a retried run keeps the stages that already succeeded)."""
        self.store = store
        self.run_id = run.id
        self.publish = publish
        self.since = since
        self._said: set[tuple[object, ...]] = set()
        self._said_left = False
        self.on_left: Callable[[RunRecord], None] = lambda run: None
        """Told once that the run's engine left it waiting."""
        self._tails: dict[int, LogTail] = {}

    def _once(self, *key: object) -> bool:
        """True the first time `key` is seen: each event is published once."""
        if key in self._said:
            return False
        self._said.add(key)
        return True

    def _old(self, finished_at: str | None) -> bool:
        return finished_at is not None and finished_at < self.since

    def poll(self) -> RunRecord:
        """Publish what changed since the last poll; return the run as it is now."""
        run = self.store.run_by_id(self.run_id)
        fields: RunRef = {"run_id": run.id, "pipeline": run.pipeline, "number": run.number}
        if run.status is not Status.QUEUED and self._once("run", run.id):
            self.publish(RunStarted(**fields, commit=run.commit, branch=run.branch))
        for stage in self.store.detail(run).stages:
            s = stage.stage
            if self._old(s.finished_at) or s.status in (Status.QUEUED, Status.SKIPPED):
                continue
            if self._once("stage", s.id, s.started_at):
                self.publish(StageStarted(**fields, stage=s.name))
            for action in stage.actions:
                self._action(fields, s.name, action)
            if not s.status.active and self._once("stage-end", s.id, s.finished_at):
                self.publish(StageFinished(**fields, stage=s.name, status=s.status.value))
        if not run.status.active and self._once("run-end", run.id):
            self.publish(RunFinished(**fields, status=run.status.value, error=run.error))
        return run

    def _action(self, fields: RunRef, stage: str, detail: ActionDetail) -> None:
        a = detail.action
        if self._old(a.finished_at) or a.status in (Status.QUEUED, Status.SKIPPED):
            return
        if a.log_path is None:
            return
        if self._once("action", a.id, a.attempt):
            self.publish(
                ActionStarted(
                    **fields, stage=stage, action=a.name, kind=a.kind, log_path=a.log_path
                )
            )
            self._tails[a.id] = LogTail(Path(a.log_path))
        done = not a.status.active
        lines = self._tails[a.id].read_new(final=done)
        if lines:
            text = "\n".join(lines) + "\n"
            self.publish(LogLines(**fields, stage=stage, action=a.name, text=text))
        approval = detail.approval
        if approval is not None and self._once("asked", a.id, a.attempt):
            self.publish(
                ApprovalRequested(
                    **fields,
                    stage=stage,
                    action=a.name,
                    message=approval.message,
                    expires_at=approval.expires_at or "",
                )
            )
        if approval is not None and approval.result and self._once("decided", a.id, a.attempt):
            self.publish(
                ApprovalDecided(
                    **fields,
                    stage=stage,
                    action=a.name,
                    result=approval.result,
                    by=approval.decided_by,
                    comment=approval.comment,
                )
            )
        if done and self._once("action-end", a.id, a.attempt):
            self.publish(
                ActionFinished(
                    **fields,
                    stage=stage,
                    action=a.name,
                    status=a.status.value,
                    exit_code=a.exit_code,
                    error=a.error,
                    artifacts=tuple(detail.artifacts),
                )
            )

    async def follow(self, interval: float = 0.1) -> RunRecord:
        """Poll until the run ends; return its final record.

        If the engine running it dies while it is at work, the run is recovered here (marked
        `interrupted`, its processes ended) rather than followed forever. A run its engine
        left waiting (for an approval) goes on when another engine takes it up: it is
        followed until then, and `on_left` is called once to say so.
        """
        polls = 0
        while True:
            run = self.poll()
            if not run.status.active:
                return run
            polls += 1
            if polls % 10 == 0 and not engine_alive(self.store.state_dir, run.engine_id):
                if not self.store.idle(run.id):
                    recover(self.store)
                    continue
                if not self._said_left:
                    self._said_left = True
                    self.on_left(run)
            await asyncio.sleep(interval)
