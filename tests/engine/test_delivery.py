"""Environments: continuous delivery or deployment, who may approve, holds, the ledger, tags."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipedeck.engine import Engine, Project, RequestError
from pipedeck.store import RunRecord, Status
from tests.conftest import FAST, RepoMaker, git

AUTHOR = "author@example.invalid"  # the tests' commit author (conftest.git_identity)

DEPLOY = """
name: ci
environments:
  production: RULES
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: make
        kind: build
        inputs: [source]
        outputs: [app]
        run: 'echo "$PIPEDECK_COMMIT" > "$PIPEDECK_OUTPUT_APP/version"'
  - name: Production
    actions:
      - name: ship
        kind: deploy
        inputs: [app]
        run: 'cp version "$PIPEDECK_REPO_ROOT/deployed"'
"""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))


@pytest.fixture
async def clocked(open_project: Callable[[], Project], clock: Clock) -> AsyncIterator[Engine]:
    eng = Engine(open_project(), replace(FAST, clock=clock))
    yield eng
    await eng.close()


def pipeline(repo: RepoMaker, rules: str, text: str = DEPLOY) -> str:
    repo.pipeline(text.replace("RULES", rules))
    return repo.commit()


async def until(condition: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def ship(engine: Engine, run: RunRecord) -> tuple[Status, str | None]:
    store = engine.project.store
    detail = store.detail(store.run_by_id(run.id))
    action = next(a.action for _, a in detail.actions() if a.action.name == "ship")
    return action.status, action.hold


async def waiting_at_ship(engine: Engine, run: RunRecord) -> None:
    await until(lambda: ship(engine, run)[0] is Status.WAITING, "the deploy to wait")


async def test_required_approval_makes_the_deploy_wait_and_a_switch_makes_it_continuous(
    repo: RepoMaker, engine: Engine
) -> None:
    sha = pipeline(repo, "{approval: required}")
    run = await engine.start(engine.project.pipeline("ci"))
    await waiting_at_ship(engine, run)
    store = engine.project.store
    assert store.run_by_id(run.id).status is Status.WAITING
    assert not (repo.root / "deployed").exists()
    gate = store.detail(run).stages[2].actions[0].approval
    assert gate is not None and gate.environment == "production"
    assert gate.message == f"Deploy {sha[:7]} (change) to production?"
    engine.approve(run, "go", by="alice", email="alice@example.invalid")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED
    assert (repo.root / "deployed").read_text().strip() == sha
    current = store.ledger.current("production")
    assert current is not None
    assert (current.run_key, current.commit, current.approved_by) == ("ci/1", sha, "alice")
    assert (current.stage, current.action, current.sequence) == ("Production", "ship", 1)
    assert set(current.artifacts) == {"app"} and len(current.artifacts["app"]) == 64
    assert current.started_at <= (current.finished_at or "")
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production") == sha
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production@1") == sha

    # Continuous deployment from now on, without touching the file; recorded who switched.
    setting = store.ledger.set_approval("production", "none", "bob")
    assert (setting.set_by, setting.approval) == ("bob", "none")
    second = await engine.run(engine.project.pipeline("ci"))
    assert second.status is Status.SUCCEEDED
    assert store.ledger.current("production").run_key == "ci/2"  # type: ignore[union-attr]
    assert store.ledger.current("production").approved_by is None  # type: ignore[union-attr]
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production@2") == sha


async def test_a_gates_message_shows_the_commit_subject_as_written(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(DEPLOY.replace("RULES", "{approval: required}"))
    sha = repo.commit("Use #{pipeline.commit} and #{variables.X}")
    run = await engine.start(engine.project.pipeline("ci"))
    await waiting_at_ship(engine, run)
    gate = engine.project.store.detail(run).stages[2].actions[0].approval
    assert gate is not None
    assert gate.message == (
        f"Deploy {sha[:7]} (Use #{{pipeline.commit}} and #{{variables.X}}) to production?"
    )
    engine.reject(run, "not now", by="alice")
    assert (await engine.wait(run)).status is Status.FAILED


async def test_the_lines_pipedeck_writes_into_a_log_replay_no_control_characters(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(DEPLOY.replace("RULES", "{approval: required}"))
    repo.commit("\x1b]0;retitled\x07\x1b[2Jcleared \x1b[31mred")
    run = await engine.start(engine.project.pipeline("ci"))
    await waiting_at_ship(engine, run)
    engine.approve(run, "\x1b[31mfine\x1b]0;t\x07", by="alice", email="alice@example.invalid")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED
    store = engine.project.store
    ship = next(a.action for _, a in store.detail(run).actions() if a.action.name == "ship")
    assert ship.log_path is not None
    written = Path(ship.log_path).read_bytes()
    assert b"\x1b" not in written and b"\x07" not in written
    text = written.decode()
    assert "(␛]0;retitled␇␛[2Jcleared ␛[31mred) to production?" in text
    assert ": ␛[31mfine␛]0;t␇\n" in text


async def test_an_approval_earlier_in_the_run_counts_for_the_environment(
    repo: RepoMaker, engine: Engine
) -> None:
    text = DEPLOY.replace(
        "  - name: Production\n",
        "  - name: Gate\n    actions: [{name: ok, kind: approval}]\n  - name: Production\n",
    )
    pipeline(repo, "{approval: required, approvers: [alice]}", text)
    run = await engine.start(engine.project.pipeline("ci"))
    store = engine.project.store
    await until(lambda: store.waiting_approvals(run.id) == 1, "the approval")
    # The approval action guards the production deploy after it: its approvers decide it.
    with pytest.raises(RequestError, match="mallory may not decide for production: only alice"):
        engine.approve(run, by="mallory")
    engine.approve(run, by="alice", email="alice@example.invalid")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED
    assert store.ledger.current("production").approved_by == "alice"  # type: ignore[union-attr]


async def test_only_approvers_decide_and_the_author_may_not_approve_their_own_deploy(
    repo: RepoMaker, engine: Engine
) -> None:
    pipeline(repo, "{approval: required, approvers: [alice, carol], prevent_self_approval: true}")
    run = await engine.start(engine.project.pipeline("ci"))
    await waiting_at_ship(engine, run)
    with pytest.raises(RequestError, match="mallory may not decide for production"):
        engine.approve(run, by="mallory", email="mallory@example.invalid")
    with pytest.raises(RequestError, match="wrote this commit and may not approve"):
        engine.approve(run, by="alice", email=AUTHOR.upper())
    with pytest.raises(RequestError, match=r"no git user\.email"):
        engine.approve(run, by="alice")
    assert ship(engine, run)[0] is Status.WAITING  # nothing of that counted
    engine.approve(run, by="carol", email="carol@example.invalid")
    run = await engine.wait(run)
    assert run.status is Status.SUCCEEDED


async def test_the_author_may_still_stop_their_own_deploy(repo: RepoMaker, engine: Engine) -> None:
    pipeline(repo, "{approval: required, prevent_self_approval: true}")
    run = await engine.start(engine.project.pipeline("ci"))
    await waiting_at_ship(engine, run)
    engine.reject(run, "not yet", by="author", email=AUTHOR)
    run = await engine.wait(run)
    assert run.status is Status.FAILED
    assert engine.project.store.ledger.current("production") is None


async def test_a_wait_timer_holds_the_deploy_until_the_clock_passes_it(
    repo: RepoMaker, clocked: Engine, clock: Clock
) -> None:
    pipeline(repo, "{wait_timer: 10m}")
    run = await clocked.start(clocked.project.pipeline("ci"))
    await waiting_at_ship(clocked, run)
    hold = ship(clocked, run)[1]
    local = (clock.moment + timedelta(minutes=10)).astimezone().strftime("%H:%M:%S")
    assert hold == f"waits 10m (until {local})"
    assert clocked.project.store.idle(run.id)  # nothing runs meanwhile
    clock.moment += timedelta(minutes=9)
    await asyncio.sleep(FAST.poll_interval * 4)  # a few polls: it must still hold
    assert ship(clocked, run)[0] is Status.WAITING
    clock.moment += timedelta(minutes=1)
    run = await clocked.wait(run)
    assert run.status is Status.SUCCEEDED
    assert ship(clocked, run) == (Status.SUCCEEDED, None)


async def test_a_wait_timer_goes_on_where_it_was_when_another_engine_takes_the_run_up(
    repo: RepoMaker, open_project: Callable[[], Project], clock: Clock
) -> None:
    pipeline(repo, "{wait_timer: 10m}")
    first = Engine(open_project(), replace(FAST, clock=clock))
    run = await first.start(first.project.pipeline("ci"))
    await waiting_at_ship(first, run)
    local = (clock.moment + timedelta(minutes=10)).astimezone().strftime("%H:%M:%S")
    assert ship(first, run)[1] == f"waits 10m (until {local})"
    clock.moment += timedelta(minutes=6)
    assert [r.key for r in await first.close()] == ["ci/1"]  # left held

    later = Engine(open_project(), replace(FAST, clock=clock))
    try:
        assert [r.key for r in await later.take_up_idle()] == ["ci/1"]
        await waiting_at_ship(later, run)
        assert ship(later, run)[1] == f"waits 10m (until {local})"  # the same deadline
        clock.moment += timedelta(minutes=4)  # ten minutes in all: it goes
        done = await asyncio.wait_for(later.wait(run), 30)  # not ten minutes more
        assert done.status is Status.SUCCEEDED
        assert ship(later, run) == (Status.SUCCEEDED, None)
    finally:
        await later.close()


async def test_a_deploy_window_holds_deploys_outside_it_and_says_when_it_opens(
    repo: RepoMaker, clocked: Engine, clock: Clock
) -> None:
    saturday = datetime(2026, 12, 5, 10, 0).astimezone()
    clock.moment = saturday
    pipeline(repo, "{window: '0 9-17 * * 1-5'}")
    run = await clocked.start(clocked.project.pipeline("ci"))
    await waiting_at_ship(clocked, run)
    assert ship(clocked, run)[1] == "waits for the deploy window (opens Mon 09:00)"
    clock.moment = datetime(2026, 12, 7, 8, 59).astimezone()
    await asyncio.sleep(FAST.poll_interval * 4)
    assert ship(clocked, run)[0] is Status.WAITING
    clock.moment = datetime(2026, 12, 7, 9, 0).astimezone()
    run = await clocked.wait(run)
    assert run.status is Status.SUCCEEDED


async def test_a_deploy_inside_the_window_goes_at_once(
    repo: RepoMaker, clocked: Engine, clock: Clock
) -> None:
    clock.moment = datetime(2026, 12, 7, 17, 59).astimezone()  # a Monday, the last minute
    pipeline(repo, "{window: '0 9-17 * * 1-5'}")
    run = await clocked.run(clocked.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED


async def test_a_deploy_from_another_branch_is_refused_with_the_reason(
    repo: RepoMaker, engine: Engine
) -> None:
    pipeline(repo, "{branches: [main, 'release/*']}")
    git(repo.root, "checkout", "-q", "-b", "feature")
    run = await engine.run(engine.project.pipeline("ci"), rev="feature")
    assert run.status is Status.FAILED
    assert run.error == (
        "Production/ship: production takes deploys only from main, release/*;"
        " this run is of feature"
    )
    assert not (repo.root / "deployed").exists()
    assert engine.project.store.ledger.current("production") is None


async def test_a_failed_deploy_is_in_the_ledger_and_moves_no_tag(
    repo: RepoMaker, engine: Engine
) -> None:
    first = pipeline(repo, "{}")
    assert (await engine.run(engine.project.pipeline("ci"))).status is Status.SUCCEEDED
    repo.pipeline(DEPLOY.replace("RULES", "{}").replace("cp version", "exit 5; cp version"))
    repo.commit("broken deploy")
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    ledger = engine.project.store.ledger
    newest, older = ledger.history("production")
    assert (newest.status, newest.sequence, newest.commit_subject) == (
        Status.FAILED,
        None,
        "broken deploy",
    )
    assert older.status is Status.SUCCEEDED
    assert ledger.current("production").commit == first  # type: ignore[union-attr]
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production") == first
