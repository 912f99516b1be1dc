"""Execution modes and transitions: which runs enter a stage, which wait, which are replaced.

Actions hold the stage open until the test removes a file (`hold-<stage>`), so every
interleaving below is made on purpose, not by timing luck.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

from pipedeck.engine import Engine
from pipedeck.store import RunRecord, Status
from tests.conftest import RepoMaker

HOLD = 'while [ -e "$PIPEDECK_REPO_ROOT/hold-$PIPEDECK_STAGE" ]; do sleep 0.02; done'


def two_stage(mode: str) -> str:
    return f"""
    name: ci
    execution_mode: {mode}
    stages:
      - name: Build
        actions:
          - {{name: compile, kind: build, run: '{HOLD}; echo built $PIPEDECK_RUN'}}
      - name: Deploy
        actions:
          - {{name: ship, kind: deploy, run: '{HOLD}; echo shipped $PIPEDECK_RUN'}}
    """


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def hold(root: Path, stage: str) -> Path:
    path = root / f"hold-{stage}"
    path.touch()
    return path


def status_of(engine: Engine, run: RunRecord) -> Status:
    return engine.project.store.run_by_id(run.id).status


def waiting_for(engine: Engine, run: RunRecord) -> str | None:
    return engine.project.store.run_by_id(run.id).waiting_for


def action_status(engine: Engine, run: RunRecord, name: str) -> Status:
    store = engine.project.store
    actions = dict((a.action.name, a.action.status) for _, a in store.detail(run).actions())
    return actions[name]


async def test_superseded_replaces_the_run_waiting_but_never_the_one_inside(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(two_stage("superseded"))
    repo.commit()
    build = hold(repo.root, "Build")
    ci = engine.project.pipeline("ci")
    first = await engine.start(ci)
    await until(lambda: action_status(engine, first, "compile") is Status.RUNNING, "first in")
    second = await engine.start(ci)
    await until(lambda: waiting_for(engine, second) == "Build", "second waiting at Build")
    assert status_of(engine, second) is Status.QUEUED
    third = await engine.start(ci)
    second_done = await engine.wait(second)
    assert second_done.status is Status.SUPERSEDED
    assert "superseded by ci/3" in (second_done.error or "")
    assert action_status(engine, second, "compile") is Status.SKIPPED
    assert action_status(engine, first, "compile") is Status.RUNNING
    assert engine.gates.inside("ci", "Build") == 1
    build.unlink()
    assert (await engine.wait(first)).status is Status.SUCCEEDED
    assert (await engine.wait(third)).status is Status.SUCCEEDED


async def test_superseded_at_a_later_stage_boundary(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(two_stage("superseded"))
    repo.commit()
    deploy = hold(repo.root, "Deploy")
    ci = engine.project.pipeline("ci")
    first = await engine.start(ci)
    await until(lambda: action_status(engine, first, "ship") is Status.RUNNING, "first deploys")
    second = await engine.start(ci)
    await until(lambda: waiting_for(engine, second) == "Deploy", "second waits for Deploy")
    # Waiting between stages: it built, and it is still a running run.
    assert action_status(engine, second, "compile") is Status.SUCCEEDED
    third = await engine.start(ci)
    assert (await engine.wait(second)).status is Status.SUPERSEDED
    await until(lambda: waiting_for(engine, third) == "Deploy", "third waits for Deploy")
    deploy.unlink()
    assert (await engine.wait(first)).status is Status.SUCCEEDED
    assert (await engine.wait(third)).status is Status.SUCCEEDED


async def test_queued_runs_one_at_a_time_in_order_none_skipped(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(two_stage("queued"))
    repo.commit()
    build = hold(repo.root, "Build")
    ci = engine.project.pipeline("ci")
    runs = [await engine.start(ci) for _ in range(4)]
    await until(lambda: all(waiting_for(engine, r) == "Build" for r in runs[1:]), "queue")
    build.unlink()
    done = [await engine.wait(r) for r in runs]
    assert [r.status for r in done] == [Status.SUCCEEDED] * 4
    store = engine.project.store
    spans = []
    for run in runs:
        stage = store.detail(run).stages[0].stage
        spans.append((stage.started_at, stage.finished_at))
    # In order of arrival, and never two inside Build at once.
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None and start is not None and end <= start


async def test_parallel_runs_overlap(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(two_stage("parallel"))
    repo.commit()
    build = hold(repo.root, "Build")
    ci = engine.project.pipeline("ci")
    first, second = await engine.start(ci), await engine.start(ci)
    await until(
        lambda: all(action_status(engine, r, "compile") is Status.RUNNING for r in (first, second)),
        "both inside Build",
    )
    assert engine.gates.inside("ci", "Build") == 2
    build.unlink()
    assert (await engine.wait(first)).status is Status.SUCCEEDED
    assert (await engine.wait(second)).status is Status.SUCCEEDED


async def test_disabled_transition_holds_runs_and_the_newest_goes_on(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(two_stage("superseded"))
    repo.commit()
    store = engine.project.store
    store.transitions.disable("ci", "Deploy", "release freeze", "ada")
    ci = engine.project.pipeline("ci")
    first = await engine.start(ci)
    await until(lambda: waiting_for(engine, first) == "Deploy", "first held before Deploy")
    second = await engine.start(ci)
    assert (await engine.wait(first)).status is Status.SUPERSEDED
    await until(lambda: waiting_for(engine, second) == "Deploy", "second held")
    assert action_status(engine, second, "ship") is Status.QUEUED
    store.transitions.enable("ci", "Deploy")
    assert (await engine.wait(second)).status is Status.SUCCEEDED


async def test_queued_runs_held_at_a_transition_all_go_on_in_order(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(two_stage("queued"))
    repo.commit()
    store = engine.project.store
    store.transitions.disable("ci", "Deploy", "wait for the window", "ada")
    ci = engine.project.pipeline("ci")
    first, second = await engine.start(ci), await engine.start(ci)
    await until(
        lambda: all(waiting_for(engine, r) == "Deploy" for r in (first, second)), "both held"
    )
    store.transitions.enable("ci", "Deploy")
    done = [await engine.wait(first), await engine.wait(second)]
    assert [r.status for r in done] == [Status.SUCCEEDED, Status.SUCCEEDED]
    ships = [store.detail(r).stages[1].stage for r in done]
    assert ships[0].finished_at is not None and ships[1].started_at is not None
    assert ships[0].finished_at <= ships[1].started_at


async def test_cancelling_a_waiting_run_starts_nothing(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(two_stage("queued"))
    repo.commit()
    build = hold(repo.root, "Build")
    ci = engine.project.pipeline("ci")
    first = await engine.start(ci)
    second = await engine.start(ci)
    await until(lambda: waiting_for(engine, second) == "Build", "second waiting")
    engine.cancel(engine.project.store.run_by_id(second.id))
    done = await engine.wait(second)
    assert done.status is Status.CANCELLED
    assert done.waiting_for is None
    assert action_status(engine, second, "compile") is Status.SKIPPED
    build.unlink()
    assert (await engine.wait(first)).status is Status.SUCCEEDED
