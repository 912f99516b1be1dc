"""Rolling a stage back: a new run of that stage only, with an earlier run's artifacts."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable

import pytest

from pipedeck.engine import Engine, EngineError, Project
from pipedeck.store import Status
from tests.conftest import FAST, RepoMaker, git

PIPELINE = """
name: ci
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
          echo built >> "$PIPEDECK_REPO_ROOT/builds"
          cp version.txt "$PIPEDECK_OUTPUT_APP/version"
  - name: Production
    RULEactions:
      - name: ship
        kind: deploy
        inputs: [app]
        run: |
          left="$PIPEDECK_REPO_ROOT/failures-left"
          if [ -s "$left" ]; then
            n=$(cat "$left"); echo $((n - 1)) > "$left"; [ "$n" -le 0 ] || exit 7
          fi
          cp version "$PIPEDECK_REPO_ROOT/deployed"
          echo "$PIPEDECK_ENVIRONMENT ${PIPEDECK_ROLLBACK:-no}" >> "$PIPEDECK_REPO_ROOT/deploys"
"""


def write(repo: RepoMaker, version: str, rule: str = "") -> str:
    repo.pipeline(PIPELINE.replace("RULE", f"on_failure: {rule}\n    " if rule else ""))
    repo.write("version.txt", f"{version}\n")
    return repo.commit(f"version {version}")


def fail_deploys(repo: RepoMaker, times: int) -> None:
    """The next `times` deploys fail (whichever run's pipeline file they come from)."""
    (repo.root / "failures-left").write_text(f"{times}\n")


def deployed(repo: RepoMaker) -> str:
    return (repo.root / "deployed").read_text().strip()


def builds(repo: RepoMaker) -> int:
    return len((repo.root / "builds").read_text().splitlines())


async def two_releases(repo: RepoMaker, engine: Engine, rule: str = "") -> tuple[str, str]:
    first = write(repo, "1", rule)
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    second = write(repo, "2", rule)
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    assert deployed(repo) == "2"
    return first, second


async def test_a_rollback_redeploys_the_earlier_artifact_without_building_it_again(
    repo: RepoMaker, engine: Engine
) -> None:
    first, _ = await two_releases(repo, engine)
    store = engine.project.store
    original = store.ledger.history("production")[-1]
    run = await engine.rollback(engine.project.pipeline("ci"), "Production")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED
    assert (run.kind, run.number, run.commit, run.trigger) == (
        "rollback",
        3,
        first,
        "rollback to ci/1",
    )
    assert store.run_by_id(run.rollback_of or 0).key == "ci/1"
    assert [s.stage.name for s in store.detail(run).stages] == ["Production"]
    assert deployed(repo) == "1"
    assert builds(repo) == 2  # nothing was built for the rollback
    # The deploy script is told where it deploys, and that this time it is a rollback.
    deploys = (repo.root / "deploys").read_text().splitlines()
    assert deploys == ["production no", "production no", "production 1"]
    current = store.ledger.current("production")
    assert current is not None
    assert (current.run_key, current.commit, current.rollback, current.sequence) == (
        "ci/3",
        first,
        True,
        3,
    )
    assert current.artifacts == original.artifacts  # the very artifact deployed then
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production") == first
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production@3") == first
    decorated = git(repo.root, "log", "--decorate", "--format=%D", "-n1", first)
    assert "tag: pipedeck/production@1" in decorated and "tag: pipedeck/production@3" in decorated

    # The next rollback by default goes further back than what now runs: there is nothing.
    with pytest.raises(EngineError, match="no run before ci/1 succeeded in Production"):
        await engine.rollback(engine.project.pipeline("ci"), "Production")


async def test_what_a_rollback_refuses_and_why(repo: RepoMaker, engine: Engine) -> None:
    await two_releases(repo, engine)
    store = engine.project.store
    pipeline = engine.project.pipeline("ci")
    with pytest.raises(EngineError, match="Source is a source stage"):
        await engine.rollback(pipeline, "Source")
    with pytest.raises(EngineError, match=r"ci has no stage 'Nope' \(stages: Source, Build"):
        await engine.rollback(pipeline, "Nope")
    fail_deploys(repo, 1)
    failed = await engine.run(pipeline)
    assert failed.status is Status.FAILED
    with pytest.raises(EngineError, match=r"ci/3 did not succeed in Production \(failed\)"):
        await engine.rollback(pipeline, "Production", store.find_run("ci/3"))
    back = await engine.wait(await engine.rollback(pipeline, "Production"))
    assert back.status is Status.SUCCEEDED
    with pytest.raises(EngineError, match=r"ci/4 is itself a rollback.*\(ci/1\)"):
        await engine.rollback(pipeline, "Production", back)

    shutil.rmtree(store.layout(store.find_run("ci/2")).artifact("app"))
    with pytest.raises(EngineError, match=r"ci/2's artifacts were pruned \(app\)"):
        await engine.rollback(pipeline, "Production", store.find_run("ci/2"))

    repo.pipeline(
        PIPELINE.replace("RULE", "").replace(
            "      - name: ship\n",
            "      - {name: smoke, kind: test, run_order: 2, run: 'true'}\n      - name: ship\n",
        )
    )
    repo.commit("add a smoke test")
    changed = engine.project.pipeline("ci")
    with pytest.raises(
        EngineError, match=r"Production changed since ci/1 ran \(action smoke added\)"
    ):
        await engine.rollback(changed, "Production", store.find_run("ci/1"))

    # The deploy now goes to another environment: rolling back would send the old release
    # there, not back where it was.
    repo.pipeline(
        PIPELINE.replace("RULE", "").replace(
            "        kind: deploy\n", "        kind: deploy\n        environment: live\n"
        )
    )
    repo.commit("rename the environment")
    renamed = engine.project.pipeline("ci")
    with pytest.raises(
        EngineError,
        match=r"Production changed since ci/1 ran \(ship: environment production → live\)",
    ):
        await engine.rollback(renamed, "Production", store.find_run("ci/1"))


async def test_a_stage_that_fails_rolls_itself_back_once(repo: RepoMaker, engine: Engine) -> None:
    first = write(repo, "1", "rollback")
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    write(repo, "2", "rollback")
    fail_deploys(repo, 2)
    failed = await engine.run(engine.project.pipeline("ci"))
    assert failed.status is Status.FAILED
    store = engine.project.store
    assert failed.error == "Production/ship: exited with code 7; rolled back by ci/3"
    back = store.find_run("ci/3")
    assert (back.kind, back.commit, back.rollback_of) == (
        "rollback",
        first,
        store.find_run("ci/1").id,
    )
    back = await engine.wait(back)
    # The rollback deploys too, and the deploy is still broken: it fails, and is not rolled
    # back in turn.
    assert back.status is Status.FAILED
    assert back.error == "Production/ship: exited with code 7"
    assert [r.key for r in store.runs("ci")] == ["ci/3", "ci/2", "ci/1"]


async def test_a_rollback_restores_the_release_when_the_new_one_fails(
    repo: RepoMaker, engine: Engine
) -> None:
    write(repo, "1", "rollback")
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    write(repo, "2", "rollback")
    fail_deploys(repo, 1)
    failed = await engine.run(engine.project.pipeline("ci"))
    assert failed.status is Status.FAILED
    back = await engine.wait(engine.project.store.find_run("ci/3"))
    assert back.status is Status.SUCCEEDED
    assert deployed(repo) == "1"
    assert builds(repo) == 2


async def test_a_stage_retries_before_it_gives_up(repo: RepoMaker, engine: Engine) -> None:
    write(repo, "1", "{retry: failed_actions, attempts: 2}")
    fail_deploys(repo, 2)
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    store = engine.project.store
    ship = store.detail(run).stages[2].actions[0]
    assert ship.action.attempt == 3
    assert [e.status for e in ship.earlier] == [Status.FAILED, Status.FAILED]
    assert builds(repo) == 1  # only the stage ran again
    logs = store.layout(run).root / "logs" / "Production"
    assert sorted(p.name for p in logs.glob("*.log")) == [
        "ship.attempt-2.log",
        "ship.attempt-3.log",
        "ship.log",
    ]


async def test_retries_then_a_rollback(repo: RepoMaker, engine: Engine) -> None:
    write(repo, "1", "{retry: all_actions, attempts: 1, rollback: true}")
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    write(repo, "2", "{retry: all_actions, attempts: 1, rollback: true}")
    fail_deploys(repo, 2)
    failed = await engine.run(engine.project.pipeline("ci"))
    assert failed.status is Status.FAILED
    store = engine.project.store
    assert store.detail(failed).stages[2].actions[0].action.attempt == 2
    back = await engine.wait(store.find_run("ci/3"))
    assert back.status is Status.SUCCEEDED  # the third try of the deploy script passes
    assert deployed(repo) == "1"


async def test_the_environment_s_approval_rule_applies_to_a_rollback(
    repo: RepoMaker, engine: Engine
) -> None:
    await two_releases(repo, engine)
    store = engine.project.store
    store.ledger.set_approval("production", "required", "ops")
    run = await engine.rollback(engine.project.pipeline("ci"), "Production")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while store.waiting_approvals(run.id) != 1:
        assert loop.time() < deadline, "the rollback never waited for its approval"
        await asyncio.sleep(0.02)
    assert deployed(repo) == "2"
    engine.approve(run, by="ops")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED and deployed(repo) == "1"


async def test_a_rollback_taken_up_by_another_engine_obeys_todays_gate(
    repo: RepoMaker, open_project: Callable[[], Project]
) -> None:
    """The rollback runs the target's file, which had no gate; production has one now.
    The engine that takes the waiting rollback up must ask for it too."""
    first = await releases_then_a_gate(repo, open_project)
    project = open_project()
    engine = Engine(project, FAST)
    store = project.store
    run = await engine.rollback(project.pipeline("ci"), "Production", store.find_run("ci/1"))
    while not store.waiting_approvals(run.id):
        await asyncio.sleep(0.02)
    assert [r.key for r in await engine.close()] == [run.key]  # left waiting at the gate

    later = Engine(open_project(), FAST)
    try:
        assert [r.key for r in await later.take_up_idle()] == [run.key]
        store = later.project.store
        while not store.waiting_approvals(run.id) and store.run_by_id(run.id).status.active:
            await asyncio.sleep(0.02)
        assert store.waiting_approvals(run.id) == 1
        assert deployed(repo) == "2"  # nothing went out without the decision
        later.approve(store.run_by_id(run.id), None, by="alice", email="alice@example.invalid")
        done = await later.wait(store.run_by_id(run.id))
        assert done.status is Status.SUCCEEDED and deployed(repo) == "1"
        current = store.ledger.current("production")
        assert current is not None
        assert (current.commit, current.approved_by) == (first, "alice")
    finally:
        await later.close()


async def releases_then_a_gate(repo: RepoMaker, open_project: Callable[[], Project]) -> str:
    """Two releases with no gate, then production requires approval; returns ci/1's SHA."""
    project = open_project()
    engine = Engine(project, FAST)
    try:
        first, _ = await two_releases(repo, engine)
    finally:
        await engine.close()
    repo.pipeline(
        "environments:\n  production: {approval: required}\n" + PIPELINE.replace("RULE", "")
    )
    repo.commit("production needs a person now")
    return first
