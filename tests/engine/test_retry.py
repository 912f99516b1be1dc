"""Retry re-runs the failed part of a run in place; cancel can let running actions finish."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipedeck.engine import Engine, EngineError
from pipedeck.store import RunDetail, Status
from tests.conftest import RepoMaker
from tests.engine.test_modes import HOLD, hold, until

PIPELINE = """
name: ci
stages:
  - name: Build
    actions:
      - name: compile
        kind: build
        outputs: [app]
        run: |
          echo "compiled $(date +%s%N)" > "$PIPEDECK_OUTPUT_APP/app.txt"
          echo VERSION=1.2.$PIPEDECK_RUN_NUMBER >> "$PIPEDECK_VARIABLES_FILE"
  - name: Test
    actions:
      - {name: unit, kind: test, inputs: [app], run: 'echo unit ran; cat app.txt'}
      - name: flaky
        kind: test
        inputs: [app]
        run: 'echo flaky ran; test -e "$PIPEDECK_REPO_ROOT/fixed"'
  - name: Deploy
    actions:
      - name: ship
        kind: deploy
        inputs: [app]
        run: 'echo shipping #{compile.VERSION}; cat app.txt'
"""


def actions(detail: RunDetail) -> dict[str, tuple[Status, int, str | None]]:
    return {
        a.action.name: (a.action.status, a.action.attempt, a.action.log_path)
        for _, a in detail.actions()
    }


async def failed_run(repo: RepoMaker, engine: Engine) -> tuple[int, RunDetail]:
    repo.pipeline(PIPELINE)
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    return run.id, engine.project.store.detail(run)


async def test_retry_reruns_the_failed_action_and_goes_on(repo: RepoMaker, engine: Engine) -> None:
    run_id, before = await failed_run(repo, engine)
    store = engine.project.store
    built = (store.layout(before.run).artifact("app") / "app.txt").read_text()
    first_flaky_log = Path(actions(before)["flaky"][2] or "")
    (repo.root / "fixed").touch()
    retried = await engine.retry(store.run_by_id(run_id))
    done = await engine.wait(retried)
    assert done.status is Status.SUCCEEDED
    assert (done.id, done.number) == (before.run.id, before.run.number)
    after = store.detail(done)
    seen = actions(after)
    assert seen["compile"][:2] == (Status.SUCCEEDED, 1)
    assert seen["unit"][:2] == (Status.SUCCEEDED, 1)  # it had passed: not run again
    assert seen["flaky"][:2] == (Status.SUCCEEDED, 2)
    assert seen["ship"][:2] == (Status.SUCCEEDED, 1)
    # The artifact of the first attempt is the one deployed; the variable it exported too.
    ship_log = Path(seen["ship"][2] or "").read_text()
    assert built.strip() in ship_log
    assert f"shipping 1.2.{done.number}" in ship_log
    # Both attempts' logs are kept, each in its own file.
    flaky = next(a for _, a in after.actions() if a.action.name == "flaky")
    assert [e.attempt for e in flaky.earlier] == [1]
    assert flaky.earlier[0].status is Status.FAILED
    assert flaky.earlier[0].log_path == str(first_flaky_log)
    assert "flaky ran" in first_flaky_log.read_text()
    assert Path(seen["flaky"][2] or "") != first_flaky_log
    assert "flaky ran" in Path(seen["flaky"][2] or "").read_text()


async def test_retry_all_reruns_every_action_of_the_stage(repo: RepoMaker, engine: Engine) -> None:
    run_id, _ = await failed_run(repo, engine)
    (repo.root / "fixed").touch()
    store = engine.project.store
    done = await engine.wait(await engine.retry(store.run_by_id(run_id), all_actions=True))
    assert done.status is Status.SUCCEEDED
    seen = actions(store.detail(done))
    assert seen["unit"][:2] == (Status.SUCCEEDED, 2)
    assert seen["flaky"][:2] == (Status.SUCCEEDED, 2)
    assert seen["compile"][1] == 1


async def test_a_failed_retry_can_be_retried_again(repo: RepoMaker, engine: Engine) -> None:
    run_id, _ = await failed_run(repo, engine)
    store = engine.project.store
    again = await engine.wait(await engine.retry(store.run_by_id(run_id)))
    assert again.status is Status.FAILED
    (repo.root / "fixed").touch()
    done = await engine.wait(await engine.retry(store.run_by_id(run_id)))
    assert done.status is Status.SUCCEEDED
    flaky = next(a for _, a in store.detail(done).actions() if a.action.name == "flaky")
    assert [e.attempt for e in flaky.earlier] == [1, 2]
    assert flaky.action.attempt == 3


async def test_retry_refuses_runs_that_did_not_fail(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(PIPELINE)
    repo.commit()
    (repo.root / "fixed").touch()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    with pytest.raises(EngineError, match="only a run that failed"):
        await engine.retry(run)


async def test_retry_refuses_when_the_stages_changed(repo: RepoMaker, engine: Engine) -> None:
    run_id, _ = await failed_run(repo, engine)
    repo.pipeline(PIPELINE.replace("name: ship", "name: release"))
    with pytest.raises(EngineError, match="changed since"):
        await engine.retry(engine.project.store.run_by_id(run_id))


async def test_cancel_wait_lets_running_actions_finish_and_stops_before_the_next_group(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Build
            actions:
              - {{name: slow, kind: build, run: '{HOLD}; echo slow finished'}}
              - {{name: after, kind: build, run_order: 2, run: 'echo must not run'}}
          - name: Deploy
            actions:
              - {{name: ship, kind: deploy, run: 'echo must not run'}}
        """
    )
    repo.commit()
    gate = hold(repo.root, "Build")
    store = engine.project.store
    run = await engine.start(engine.project.pipeline("ci"))
    await until(
        lambda: any(
            a.action.status is Status.RUNNING
            for _, a in store.detail(store.run_by_id(run.id)).actions()
        ),
        "slow running",
    )
    engine.cancel(store.run_by_id(run.id), wait=True)
    await until(lambda: store.run_by_id(run.id).cancel_mode == "wait", "request recorded")
    gate.unlink()
    done = await engine.wait(run)
    assert done.status is Status.CANCELLED
    seen = actions(store.detail(done))
    assert seen["slow"][0] is Status.SUCCEEDED
    assert "slow finished" in Path(seen["slow"][2] or "").read_text()
    assert seen["after"][0] is Status.SKIPPED
    assert seen["ship"][0] is Status.SKIPPED


async def test_cancel_now_ends_the_running_action(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Build
            actions:
              - {{name: slow, kind: build, run: '{HOLD}'}}
        """
    )
    repo.commit()
    hold(repo.root, "Build")
    store = engine.project.store
    run = await engine.start(engine.project.pipeline("ci"))
    await until(
        lambda: actions(store.detail(store.run_by_id(run.id)))["slow"][0] is Status.RUNNING,
        "slow running",
    )
    engine.cancel(store.run_by_id(run.id))
    done = await engine.wait(run)
    assert done.status is Status.CANCELLED
    assert actions(store.detail(done))["slow"][0] is Status.CANCELLED


async def test_retry_after_a_source_stage_keeps_the_source_variables(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Source
            actions:
              - {name: checkout, kind: source, outputs: [src]}
          - name: Build
            actions:
              - name: compile
                kind: build
                inputs: [src]
                run: 'echo "building #{src.commit_short}"; test -e "$PIPEDECK_REPO_ROOT/fixed"'
        """
    )
    sha = repo.commit()
    store = engine.project.store
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    (repo.root / "fixed").touch()
    done = await engine.wait(await engine.retry(store.run_by_id(run.id)))
    assert done.status is Status.SUCCEEDED, done.error
    log = Path(actions(store.detail(done))["compile"][2] or "").read_text()
    assert f"building {sha[:7]}" in log


async def test_retry_refuses_a_run_a_newer_one_went_past(repo: RepoMaker, engine: Engine) -> None:
    run_id, _ = await failed_run(repo, engine)
    (repo.root / "fixed").touch()
    newer = await engine.run(engine.project.pipeline("ci"))
    assert newer.status is Status.SUCCEEDED
    with pytest.raises(EngineError, match="ci/2 already went through Test"):
        await engine.retry(engine.project.store.run_by_id(run_id))
    assert engine.project.store.run_by_id(run_id).status is Status.FAILED
