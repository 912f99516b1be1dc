"""Waiting outlives the engine: a run that only waits is left waiting, and taken up again.

An engine that stops (a console quitting, `pipedeck watch` stopped) cancels what is at work
but leaves a run waiting for an approval — or at a stage boundary — in the store, as it is.
The next engine carries it on with the pipeline file the run started with: a decision made
meanwhile finishes the approval, a timeout that passed meanwhile ends it `timed_out`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from pipedeck.engine import Engine, Project, requests
from pipedeck.engine.events import ApprovalRequested, Event
from pipedeck.store import RunRecord, Status
from tests.conftest import FAST, RepoMaker

GATED = """
name: ci
execution_mode: MODE
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: make
        kind: build
        inputs: [source]
        outputs: [app]
        run: |
          echo "built $PIPEDECK_COMMIT" > "$PIPEDECK_OUTPUT_APP/app.txt"
          echo "v=1" >> "$PIPEDECK_VARIABLES_FILE"
  - name: Gate
    actions:
      - {name: ok, kind: approval, message: "Ship #{make.v}?", timeout: TIMEOUT}
  - name: Ship
    actions:
      - name: deploy
        kind: deploy
        inputs: [app]
        run: 'cat app.txt; echo "version #{make.v}"'
"""


def gated(timeout: str = "1h", mode: str = "superseded") -> str:
    return GATED.replace("TIMEOUT", timeout).replace("MODE", mode)


async def until_waiting(engine: Engine, run: RunRecord) -> RunRecord:
    store = engine.project.store
    for _ in range(400):
        current = store.run_by_id(run.id)
        if current.status is Status.WAITING:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"{run.key} never waited (it is {store.run_by_id(run.id).status})")


async def left_waiting(open_project: Callable[[], Project], repo: RepoMaker) -> RunRecord:
    """A run started by one engine, waiting at its gate, and that engine closed."""
    repo.pipeline(gated())
    repo.commit("Gate it")
    first = Engine(open_project(), FAST)
    run = await first.start(first.project.pipeline("ci"))
    await until_waiting(first, run)
    left = await first.close()
    assert [r.key for r in left] == ["ci/1"]
    return left[0]


async def carried_on(
    open_project: Callable[[], Project], run: RunRecord
) -> tuple[Engine, RunRecord]:
    """A new engine takes up what was left waiting and carries `run` to its end."""
    engine = Engine(open_project(), FAST)
    try:
        await engine.take_up_idle()
        final = await asyncio.wait_for(engine.wait(run), 60)
    finally:
        await engine.close()
    return engine, final


def log_of(engine: Engine, run: RunRecord, action: str) -> str:
    detail = engine.project.store.detail(engine.project.store.run_by_id(run.id))
    for _, a in detail.actions():
        if a.action.name == action and a.action.log_path:
            with open(a.action.log_path) as f:
                return f.read()
    return ""


async def test_closing_the_engine_leaves_a_waiting_run_waiting(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    run = await left_waiting(open_project, repo)
    store = open_project().store
    current = store.run_by_id(run.id)
    assert current.status is Status.WAITING
    assert current.engine_id is None
    detail = store.detail(current)
    assert [s.stage.status for s in detail.stages] == [
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.RUNNING,
        Status.QUEUED,
    ]
    gate = detail.stages[2].actions[0]
    assert gate.action.status is Status.WAITING
    assert gate.approval is not None and gate.approval.result is None


async def test_the_next_engine_takes_it_up_and_a_decision_finishes_it(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    run = await left_waiting(open_project, repo)
    second = Engine(open_project(), FAST)
    asked: list[Event] = []
    second.bus.subscribe(lambda e: asked.append(e) if isinstance(e, ApprovalRequested) else None)
    try:
        assert [r.key for r in await second.take_up_idle()] == ["ci/1"]
        assert second.project.store.run_by_id(run.id).engine_id == second.engine_id
        # The console of the new engine is asked again, with the same message.
        for _ in range(400):
            if asked:
                break
            await asyncio.sleep(0.05)
        assert len(asked) == 1 and isinstance(asked[0], ApprovalRequested)
        assert asked[0].message == "Ship 1?"
        second.approve(second.project.store.run_by_id(run.id), "after the restart")
        final = await second.wait(run)
    finally:
        await second.close()
    assert final.status is Status.SUCCEEDED
    # What the earlier engine made is what ships: the artifact and the exported variable.
    shipped = log_of(second, run, "deploy")
    assert f"built {run.commit}" in shipped
    assert "version 1" in shipped
    assert "taken up again" in log_of(second, run, "ok")


async def test_a_decision_made_while_no_engine_ran_is_carried_out(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    run = await left_waiting(open_project, repo)
    store = open_project().store
    requests.reject(store, store.run_by_id(run.id), "not today", by="carol")
    second, final = await carried_on(open_project, run)
    assert final.status is Status.FAILED
    detail = second.project.store.detail(final)
    assert detail.stages[2].actions[0].action.status is Status.REJECTED
    assert detail.stages[3].actions[0].action.status is Status.SKIPPED


async def test_an_approval_that_expired_while_nobody_watched_times_out(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    repo.pipeline(gated(timeout="1s"))
    repo.commit("Gate it briefly")
    first = Engine(open_project(), FAST)
    run = await first.start(first.project.pipeline("ci"))
    await until_waiting(first, run)
    await first.close()
    store = open_project().store
    # Wait for the deadline by the store's own clock, not by sleeping a guessed time.
    for _ in range(600):
        if store.expired(run.id):
            break
        await asyncio.sleep(0.05)
    assert store.expired(run.id)
    second, final = await carried_on(open_project, run)
    assert final.status is Status.TIMED_OUT
    gate = second.project.store.detail(final).stages[2].actions[0]
    assert gate.action.status is Status.TIMED_OUT
    assert gate.approval is not None and gate.approval.result == "timed_out"


async def test_a_changed_pipeline_file_does_not_change_a_taken_up_run(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    run = await left_waiting(open_project, repo)
    repo.pipeline(gated().replace('echo "version #{make.v}"', "echo tampered"))
    second = Engine(open_project(), FAST)
    try:
        await second.take_up_idle()
        second.approve(second.project.store.run_by_id(run.id))
        final = await second.wait(run)
    finally:
        await second.close()
    assert final.status is Status.SUCCEEDED
    shipped = log_of(second, run, "deploy")
    assert "version 1" in shipped
    assert "tampered" not in shipped


async def test_a_run_waiting_at_a_stage_boundary_is_left_waiting_and_waits_again(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    """Two runs in queued mode: #1 waits at the gate, #2 waits to enter it. Both are left
    waiting; the next engine puts #1 back in the stage first, so #2 still waits for it."""
    repo.pipeline(gated(mode="queued"))
    repo.commit("Gate it")
    first = Engine(open_project(), FAST)
    one = await first.start(first.project.pipeline("ci"))
    await until_waiting(first, one)
    two = await first.start(first.project.pipeline("ci"))
    store = first.project.store
    for _ in range(400):
        if store.run_by_id(two.id).waiting_for == "Gate":
            break
        await asyncio.sleep(0.05)
    assert store.run_by_id(two.id).waiting_for == "Gate"
    left = await first.close()
    assert sorted(r.key for r in left) == ["ci/1", "ci/2"]
    assert store.run_by_id(two.id).waiting_for == "Gate"

    second = Engine(open_project(), FAST)
    try:
        await second.take_up_idle()
        current = second.project.store
        for _ in range(400):
            if second.gates.inside("ci", "Gate"):
                break
            await asyncio.sleep(0.05)
        assert second.gates.inside("ci", "Gate") == 1
        for _ in range(100):
            if current.run_by_id(two.id).waiting_for == "Gate":
                break
            await asyncio.sleep(0.05)
        assert current.run_by_id(two.id).waiting_for == "Gate"
        second.approve(current.run_by_id(one.id))
        assert (await second.wait(one)).status is Status.SUCCEEDED
        await until_waiting(second, two)
        second.approve(current.run_by_id(two.id))
        assert (await second.wait(two)).status is Status.SUCCEEDED
    finally:
        await second.close()


TWO_GATES = """
name: ci
stages:
  - name: Gate
    actions:
      - {name: security, kind: approval, timeout: 1h}
      - {name: product, kind: approval, timeout: 1h}
      - {name: check, kind: test, run: 'echo checked >> "$PIPEDECK_REPO_ROOT/checks"; exit 3'}
  - name: Ship
    actions:
      - {name: deploy, kind: deploy, run: 'echo shipped'}
"""


async def test_what_ended_before_the_engine_stopped_keeps_its_result(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    """A rejection stays a rejection and a failed sibling is not run again: taken up, a run
    goes on only with what still waits, and the stage fails as it would have."""
    repo.pipeline(TWO_GATES)
    repo.commit("Two gates and a check")
    first = Engine(open_project(), FAST)
    run = await first.start(first.project.pipeline("ci"))
    store = first.project.store

    def status_of(name: str) -> Status:
        detail = store.detail(store.run_by_id(run.id))
        return next(a.action.status for _, a in detail.actions() if a.action.name == name)

    for _ in range(400):
        if status_of("check") is Status.FAILED and store.waiting_approvals(run.id) == 2:
            break
        await asyncio.sleep(0.05)
    assert status_of("check") is Status.FAILED
    first.reject(store.run_by_id(run.id), "not safe", action="Gate/security")
    for _ in range(400):
        if status_of("security") is Status.REJECTED:
            break
        await asyncio.sleep(0.05)
    assert [r.key for r in await first.close()] == ["ci/1"]

    second = Engine(open_project(), FAST)
    try:
        await second.take_up_idle()
        for _ in range(400):
            if second.project.store.waiting_approvals(run.id) == 1 and second.busy:
                break
            await asyncio.sleep(0.05)
        second.approve(second.project.store.run_by_id(run.id), action="Gate/product")
        # Bounded: a rejection reopened as a fresh approval would wait here for an hour.
        final = await asyncio.wait_for(second.wait(run), 60)
    finally:
        await second.close()
    assert final.status is Status.FAILED
    assert status_of("security") is Status.REJECTED
    assert status_of("check") is Status.FAILED
    assert status_of("product") is Status.SUCCEEDED
    assert status_of("deploy") is Status.SKIPPED
    assert (repo.root / "checks").read_text() == "checked\n"  # it ran once, not again
    approval = store.detail(final).stages[0].actions[0].approval
    assert approval is not None and (approval.result, approval.comment) == ("rejected", "not safe")
