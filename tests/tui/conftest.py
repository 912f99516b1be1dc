"""Console fixtures: the real app on a real repository, driven through Pilot.

`console()` opens the app the CLI opens (a `Client` on a temporary repository, a real engine
with fast settings), waits until it is all there, and, however the test ends, stops the
engine so no action outlives it.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual import events
from textual.pilot import Pilot
from textual.widgets import Static

from pipedeck.engine import Client
from pipedeck.store import RunRecord, Status
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.clock import Clock
from pipedeck.tui.screens.approval import TYPE_AHEAD, ApprovalDialog
from tests.conftest import FAST, RepoMaker

SIZE = (120, 40)


CI = """
name: ci
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - {name: compile, kind: build, inputs: [source], run: 'echo compiled; sleep 0.2'}
      - name: package
        kind: build
        inputs: [source]
        outputs: [app]
        run: 'echo packed > "$PIPEDECK_OUTPUT_APP/app.txt"; echo packaged; sleep 0.2'
  - name: Test
    actions:
      - {name: unit, kind: test, inputs: [source], run: 'echo "3 passed"; sleep 0.2'}
  - name: Approval
    actions:
      - name: gate
        kind: approval
        message: "Ship #{source.commit_short} to staging?"
        timeout: 1h
  - name: Deploy
    actions:
      - {name: staging, kind: deploy, environment: staging, run: 'echo deployed; sleep 0.2'}
"""
"""Source → Build (two parallel actions) → Test → Approval → Deploy, all quick."""
CI_STAGES = ["Source", "Build", "Test", "Approval", "Deploy"]

SLOW = """
name: slow
stages:
  - name: Work
    actions:
      - {name: wait, kind: build, run: 'echo started; sleep 30'}
"""
"""A run that stays active until it is cancelled."""


@pytest.fixture
def ci_repo(repo: RepoMaker) -> RepoMaker:
    repo.commit("Start the shop")
    repo.pipeline(CI)
    repo.commit("Add the delivery pipeline")
    return repo


@asynccontextmanager
async def console(
    root: Path,
    *,
    size: tuple[int, int] = SIZE,
    clock: Clock | None = None,
    toasts: bool = False,
) -> AsyncIterator[tuple[PipedeckApp, Pilot[None]]]:
    """The console on `root`, its pipeline files read and its engine started (or its role as
    a client settled); its engine is closed at the end.

    `toasts`: draw notifications on screen (Textual's test harness keeps them off).
    """
    client = Client.open(root)
    app = PipedeckApp(client, clock=clock, settings=FAST)
    try:
        async with app.run_test(size=size, notifications=toasts) as pilot:
            await until(pilot, app.ready.is_set, "the console to open")
            await pilot.pause()
            try:
                yield app, pilot
            finally:
                await app.close_engine()
                await pilot.pause()
    finally:
        await app.close_engine()
        client.close()


async def until(
    pilot: Pilot[None], condition: Callable[[], bool], what: str, timeout: float = 20.0
) -> None:
    """Let the app run until `condition` holds; fail saying `what` never happened."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def refreshes_pass(pilot: Pilot[None], app: PipedeckApp, count: int = 3) -> None:
    """Let the main screen read the store and redraw `count` more times: for checks that
    something stays as it is, a state to wait for instead of a guessed delay."""
    main = app.main
    seen = main._ticks
    await until(pilot, lambda: main._ticks >= seen + count, f"{count} refreshes")


async def decide(pilot: Pilot[None], key: str) -> None:
    """Press `key` in the approval dialog as a person does, having read it first.

    The dialog takes `a` or `r` typed within `TYPE_AHEAD` of it settling (opening, or the
    focus coming back from the comment box) for typing that went on. Pilot types faster than
    any person, so the key carries the time a person would have pressed it: no test waits.
    """
    app = pilot.app
    dialog = app.screen
    if isinstance(dialog, ApprovalDialog):
        # A person presses keys on a dialog they see: one pushed is drawn once mounted.
        await until(pilot, lambda: dialog.settled_at < math.inf, "the dialog to be drawn")
    event = events.Key(key, key)
    if isinstance(dialog, ApprovalDialog):
        event.time = max(event.time, dialog.settled_at + TYPE_AHEAD)
    app.post_message(event)
    await pilot.pause()


def latest(app: PipedeckApp, pipeline: str = "ci") -> RunRecord | None:
    runs = app.client.store.runs(pipeline, limit=1)
    return runs[0] if runs else None


def status_of(app: PipedeckApp, pipeline: str = "ci") -> Status | None:
    run = latest(app, pipeline)
    return run.status if run else None


def action_statuses(app: PipedeckApp, run: RunRecord) -> dict[str, Status]:
    detail = app.client.store.detail(app.client.store.run_by_id(run.id))
    return {f"{s.name}/{a.action.name}": a.action.status for s, a in detail.actions()}


def text_of(widget: Static) -> str:
    """What a Static shows, markup removed."""
    return str(getattr(widget.visual, "plain", widget.visual))


def notifications(app: PipedeckApp) -> list[str]:
    """The messages of the toasts the app shows now (Textual has no public reader)."""
    return [n.message for n in app._notifications]
