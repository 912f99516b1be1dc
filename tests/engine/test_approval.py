"""Approvals through the engine API: approve, reject, timeout, cancel, the first decision wins."""

from __future__ import annotations

import asyncio
import getpass

import pytest

from pipedeck.engine import Engine, RequestError
from pipedeck.engine.events import ApprovalRequested, Event
from pipedeck.store import RunRecord, Status
from tests.conftest import RepoMaker

GATED = """
name: ci
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Gate
    actions:
      - {name: ok, kind: approval, message: "Ship #{source.commit_short}?", timeout: TIMEOUT}
  - name: Ship
    actions: [{name: deploy, kind: deploy, run: 'echo shipped'}]
"""


async def start_gated(repo: RepoMaker, engine: Engine, timeout: str = "30s") -> RunRecord:
    repo.pipeline(GATED.replace("TIMEOUT", timeout))
    repo.commit()
    waiting = asyncio.Event()

    def listen(event: Event) -> None:
        if isinstance(event, ApprovalRequested):
            waiting.set()

    engine.bus.subscribe(listen)
    run = await engine.start(engine.project.pipeline("ci"))
    await asyncio.wait_for(waiting.wait(), 10)
    return engine.project.store.run_by_id(run.id)


def statuses(engine: Engine, run: RunRecord) -> dict[str, Status]:
    detail = engine.project.store.detail(run)
    return {a.action.name: a.action.status for _, a in detail.actions()}


async def test_approve_continues_the_run_and_records_who(repo: RepoMaker, engine: Engine) -> None:
    run = await start_gated(repo, engine)
    assert run.status is Status.WAITING
    assert statuses(engine, run)["ok"] is Status.WAITING
    approval = engine.approve(run, "looks good")
    final = await engine.wait(run)
    assert final.status is Status.SUCCEEDED
    assert approval.decided_by == getpass.getuser()
    assert approval.message == f"Ship {run.commit[:7]}?"
    decision = engine.project.store.detail(final).to_dict()["stages"][1]["actions"][0]["decision"]
    assert decision["result"] == "approved"
    assert decision["comment"] == "looks good"
    assert decision["at"].endswith("Z")


async def test_reject_fails_the_run_and_needs_a_reason(repo: RepoMaker, engine: Engine) -> None:
    run = await start_gated(repo, engine)
    with pytest.raises(RequestError, match="needs a reason"):
        engine.reject(run, "  ")
    engine.reject(run, "not on a Friday")
    final = await engine.wait(run)
    assert final.status is Status.FAILED
    assert statuses(engine, final) == {
        "checkout": Status.SUCCEEDED,
        "ok": Status.REJECTED,
        "deploy": Status.SKIPPED,
    }
    assert "not on a Friday" in (final.error or "")


async def test_timeout_fails_the_run_as_timed_out(repo: RepoMaker, engine: Engine) -> None:
    run = await start_gated(repo, engine, timeout="1s")
    final = await engine.wait(run)
    assert final.status is Status.TIMED_OUT
    assert statuses(engine, final)["ok"] is Status.TIMED_OUT
    # Too late: the timeout already decided.
    with pytest.raises(RequestError, match="no approval waiting"):
        engine.approve(final)


async def test_only_the_first_decision_counts(repo: RepoMaker, engine: Engine) -> None:
    run = await start_gated(repo, engine)
    engine.approve(run, "first")
    with pytest.raises(RequestError, match="no approval waiting"):
        engine.reject(run, "second")
    assert (await engine.wait(run)).status is Status.SUCCEEDED


async def test_cancel_while_waiting(repo: RepoMaker, engine: Engine) -> None:
    run = await start_gated(repo, engine)
    engine.cancel(run)
    final = await engine.wait(run)
    assert final.status is Status.CANCELLED
    assert statuses(engine, final)["ok"] is Status.CANCELLED
    assert statuses(engine, final)["deploy"] is Status.SKIPPED


async def test_approving_a_run_that_does_not_wait_is_refused(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline("name: ci\nstages: [{name: S, actions: [{name: a, kind: build, run: 'true'}]}]\n")
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    with pytest.raises(RequestError, match="ci/1 has no approval waiting"):
        engine.approve(run)


async def test_parallel_approvals_are_decided_one_by_one(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Gate
            actions:
              - {name: quick, kind: approval, timeout: 1s}
              - {name: slow, kind: approval, timeout: 30s}
        """
    )
    repo.commit()
    run = await engine.start(engine.project.pipeline("ci"))
    while engine.project.store.waiting_approvals(run.id) < 2:
        await asyncio.sleep(0.02)
    with pytest.raises(RequestError, match=r"2 approvals waiting \(Gate/quick, Gate/slow\)"):
        engine.approve(engine.project.store.run_by_id(run.id))
    # The quick one times out on its own; the slow one is still ours to decide.
    while statuses(engine, run)["quick"] is not Status.TIMED_OUT:
        await asyncio.sleep(0.05)
    assert statuses(engine, run)["slow"] is Status.WAITING
    assert engine.project.store.run_by_id(run.id).status is Status.WAITING
    engine.approve(engine.project.store.run_by_id(run.id), action="Gate/slow")
    final = await engine.wait(run)
    assert statuses(engine, final) == {"quick": Status.TIMED_OUT, "slow": Status.SUCCEEDED}
    assert final.status is Status.TIMED_OUT
