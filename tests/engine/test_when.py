"""`when:` — actions that run after a failure, or whatever happened."""

from __future__ import annotations

import asyncio

from pipedeck.engine import Engine
from pipedeck.store import Status
from tests.conftest import RepoMaker

NOTE = 'echo "$PIPEDECK_ACTION" >> "$PIPEDECK_REPO_ROOT/ran"'


def statuses(engine: Engine, run_id: int) -> dict[str, Status]:
    store = engine.project.store
    detail = store.detail(store.run_by_id(run_id))
    return {f"{s.name}/{a.action.name}": a.action.status for s, a in detail.actions()}


def stage_statuses(engine: Engine, run_id: int) -> dict[str, Status]:
    store = engine.project.store
    detail = store.detail(store.run_by_id(run_id))
    return {s.stage.name: s.stage.status for s in detail.stages}


async def test_after_a_failure_only_what_runs_on_failure_runs_and_the_first_failure_stays(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Test
            actions:
              - {{name: unit, kind: test, run: 'echo boom; exit 4'}}
              - {{name: after-unit, kind: test, run_order: 2, run: '{NOTE}'}}
              - {{name: tidy, kind: test, run_order: 2, when: always, run: '{NOTE}'}}
          - name: Deploy
            actions:
              - {{name: ship, kind: deploy, run: '{NOTE}'}}
          - name: Notify
            actions:
              - {{name: tell, kind: invoke, when: on_failure, run: '{NOTE}; exit 9'}}
              - {{name: cleanup, kind: invoke, when: always, run: '{NOTE}'}}
              - {{name: cheer, kind: invoke, run: '{NOTE}'}}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    # The notice failed too: recorded on it, but the run still says what failed first.
    assert run.error == "Test/unit: exited with code 4"
    assert statuses(engine, run.id) == {
        "Test/unit": Status.FAILED,
        "Test/after-unit": Status.SKIPPED,
        "Test/tidy": Status.SUCCEEDED,
        "Deploy/ship": Status.SKIPPED,
        "Notify/tell": Status.FAILED,
        "Notify/cleanup": Status.SUCCEEDED,
        "Notify/cheer": Status.SKIPPED,
    }
    assert stage_statuses(engine, run.id) == {
        "Test": Status.FAILED,
        "Deploy": Status.SKIPPED,
        "Notify": Status.FAILED,
    }
    assert sorted((repo.root / "ran").read_text().split()) == ["cleanup", "tell", "tidy"]
    logs = engine.project.store.layout(run).root / "logs"
    assert (logs / "Test" / "unit.log").read_text() == "boom\n"


async def test_a_run_that_succeeds_skips_what_runs_on_failure_and_runs_what_runs_always(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Build
            actions:
              - {{name: make, kind: build, run: '{NOTE}'}}
              - {{name: alarm, kind: invoke, run_order: 2, when: on_failure, run: '{NOTE}'}}
          - name: Notify
            actions:
              - {{name: cleanup, kind: invoke, when: always, run: '{NOTE}'}}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    assert statuses(engine, run.id) == {
        "Build/make": Status.SUCCEEDED,
        "Build/alarm": Status.SKIPPED,
        "Notify/cleanup": Status.SUCCEEDED,
    }
    assert stage_statuses(engine, run.id)["Build"] is Status.SUCCEEDED
    assert (repo.root / "ran").read_text().split() == ["make", "cleanup"]


async def test_an_always_action_that_fails_fails_a_run_that_had_succeeded(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Build
            actions:
              - {name: make, kind: build, run: 'true'}
              - {name: cleanup, kind: build, run_order: 2, when: always, run: 'exit 2'}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    assert run.error == "Build/cleanup: exited with code 2"


async def test_a_cancelled_run_runs_nothing_more_not_even_what_runs_always(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Build
            actions:
              - name: slow
                kind: build
                run: 'touch "$PIPEDECK_REPO_ROOT/started"; sleep 60'
          - name: Notify
            actions:
              - {{name: cleanup, kind: invoke, when: always, run: '{NOTE}'}}
              - {{name: tell, kind: invoke, when: on_failure, run: '{NOTE}'}}
        """
    )
    repo.commit()
    run = await engine.start(engine.project.pipeline("ci"))
    started = repo.root / "started"
    while not started.exists():
        await asyncio.sleep(0.02)
    engine.cancel(run)
    run = await engine.wait(run)
    assert run.status is Status.CANCELLED
    assert statuses(engine, run.id)["Notify/cleanup"] is Status.SKIPPED
    assert statuses(engine, run.id)["Notify/tell"] is Status.SKIPPED
    assert not (repo.root / "ran").exists()
