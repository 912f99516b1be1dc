"""Stage gates: CodePipeline's execution modes and disabled transitions.

Every stage of a pipeline has a gate a run passes on its way in and out.

- `superseded` (the default): one run inside a stage at a time. A run that finds the stage
  busy waits at its boundary; a newer run arriving there replaces it, and the older one ends
  `superseded`. A run inside a stage is never interrupted by a newer one.
- `queued`: one run inside a stage at a time; waiting runs go in order of arrival, none
  skipped.
- `parallel`: runs are independent; gates hold nothing back.

A disabled transition into a stage holds every run at that boundary, whatever the mode; once
enabled, the waiting runs go in by the mode's rule (under `superseded` only the newest is left
waiting by then, which is CodePipeline's "the newest waiting run proceeds").

Gates live in the engine's memory: only one engine runs pipelines for a repository, so the
gates it keeps are the whole truth. What a waiting run waits for is mirrored into the store
(`runs.waiting_for`) for every console to show.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from pipedeck.definition.model import ExecutionMode
from pipedeck.engine.context import RunContext
from pipedeck.store import RunRecord


class Superseded(Exception):
    """A newer run took this run's place at a stage boundary."""

    def __init__(self, by: RunRecord, stage: str) -> None:
        super().__init__(f"superseded by {by.key} while waiting for {stage}")
        self.by = by
        self.stage = stage


class StoppedWhileWaiting(Exception):
    """The run was cancelled while it waited at a stage boundary."""


@dataclass(eq=False)
class _Waiter:
    ctx: RunContext
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    superseded_by: RunRecord | None = None


@dataclass
class _Gate:
    inside: set[int] = field(default_factory=set)
    waiting: list[_Waiter] = field(default_factory=list)

    def wake_all(self) -> None:
        for waiter in self.waiting:
            waiter.wake.set()


class StageGates:
    def __init__(self) -> None:
        self._gates: dict[tuple[str, str], _Gate] = {}

    def _gate(self, pipeline: str, stage: str) -> _Gate:
        return self._gates.setdefault((pipeline, stage), _Gate())

    def inside(self, pipeline: str, stage: str) -> int:
        """How many runs are inside the stage now (benchmarks and tests check it)."""
        return len(self._gate(pipeline, stage).inside)

    async def enter(self, ctx: RunContext, stage: str) -> None:
        """Return once the run may enter `stage`; raise `Superseded` or `StoppedWhileWaiting`."""
        mode = ctx.pipeline.execution_mode
        gate = self._gate(ctx.pipeline.name, stage)
        me = _Waiter(ctx)
        if mode is ExecutionMode.SUPERSEDED:
            # Newer beats older, whichever arrives last (a retried old run may arrive late).
            newer = [w.ctx.run for w in gate.waiting if w.ctx.run.number > ctx.run.number]
            if newer:
                raise Superseded(newer[0], stage)
            for older in gate.waiting:
                older.superseded_by = ctx.run
                older.wake.set()
            gate.waiting.clear()
        gate.waiting.append(me)
        shown_waiting = False
        try:
            while True:
                if me.superseded_by is not None:
                    raise Superseded(me.superseded_by, stage)
                if ctx.cancel.is_set() or ctx.stopping.is_set():
                    raise StoppedWhileWaiting
                if self._may_enter(gate, me, mode) and not self._held(ctx, stage):
                    break
                if not shown_waiting:
                    ctx.store.set_run_waiting(ctx.run.id, stage)
                    shown_waiting = True
                me.wake.clear()
                # Transitions are changed by other processes through the store: look again
                # at the poll interval even when nothing here wakes us.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(me.wake.wait(), ctx.settings.poll_interval)
        finally:
            with contextlib.suppress(ValueError):
                gate.waiting.remove(me)
            if shown_waiting and not ctx.parking:  # a run left to the next engine still waits
                ctx.store.set_run_waiting(ctx.run.id, None)
        gate.inside.add(ctx.run.id)

    def leave(self, ctx: RunContext, stage: str) -> None:
        gate = self._gate(ctx.pipeline.name, stage)
        gate.inside.discard(ctx.run.id)
        gate.wake_all()

    def wake(self, run_id: int) -> None:
        """A cancel arrived for a run that may be waiting: let it notice now."""
        for gate in self._gates.values():
            for waiter in gate.waiting:
                if waiter.ctx.run.id == run_id:
                    waiter.wake.set()

    @staticmethod
    def _may_enter(gate: _Gate, me: _Waiter, mode: ExecutionMode) -> bool:
        if mode is ExecutionMode.PARALLEL:
            return True
        return not gate.inside and gate.waiting[0] is me

    @staticmethod
    def _held(ctx: RunContext, stage: str) -> bool:
        return ctx.store.transitions.disabled(ctx.pipeline.name, stage) is not None
