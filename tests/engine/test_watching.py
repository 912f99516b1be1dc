"""The engine at work: new commits start runs of trusted pipelines; clients' requests run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pipedeck.engine import Engine
from pipedeck.engine.events import Event, TriggerSkipped, WatchStarted
from pipedeck.engine.service import EngineService
from pipedeck.engine.trust import TrustStore
from pipedeck.store import RunRecord, Status
from tests.conftest import RepoMaker, git
from tests.engine.test_modes import until

QUICK = """
name: {name}
{trigger}
stages:
  - name: Build
    actions:
      - {{name: compile, kind: build, run: 'echo built $PIPEDECK_COMMIT'}}
"""


def add_pipeline(repo: RepoMaker, name: str, trigger: str = "", trusted: bool = True) -> Path:
    path = repo.pipeline(QUICK.format(name=name, trigger=trigger), name=name)
    if trusted:
        TrustStore().trust(path)
    return path


@contextlib.asynccontextmanager
async def serving(
    engine: Engine, **options: bool
) -> AsyncIterator[tuple[EngineService, list[Event]]]:
    seen: list[Event] = []
    engine.bus.subscribe(seen.append, logs=False)
    service = EngineService(engine, poll_interval=0.1, **options)
    task = asyncio.create_task(service.serve())
    try:
        yield service, seen
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def runs(engine: Engine, name: str = "ci") -> list[RunRecord]:
    return list(reversed(engine.project.store.runs(name)))


async def settled(engine: Engine, name: str = "ci") -> list[RunRecord]:
    await until(lambda: not any(r.status.active for r in runs(engine, name)), "runs to end")
    return runs(engine, name)


@pytest.mark.parametrize("polling", [False, True])
async def test_a_commit_on_the_current_branch_starts_one_run(
    repo: RepoMaker, engine: Engine, polling: bool
) -> None:
    add_pipeline(repo, "ci")
    repo.commit("pipeline")
    async with serving(engine, force_polling=polling) as (service, seen):
        assert service.watcher is not None
        new = repo.commit("feature")
        await until(lambda: len(runs(engine)) == 1, "a run for the commit")
        (run,) = await settled(engine)
    assert (run.commit, run.branch, run.status) == (new, "main", Status.SUCCEEDED)
    assert run.trigger.startswith("push to main")
    modes = [e.mode for e in seen if isinstance(e, WatchStarted)]
    assert modes[0] == ("polling" if polling else "events")


async def test_commits_made_before_watching_are_not_replayed(
    repo: RepoMaker, engine: Engine
) -> None:
    add_pipeline(repo, "ci")
    repo.commit("pipeline")
    repo.commit("while nobody watched")
    async with serving(engine):
        await asyncio.sleep(0.5)
        assert runs(engine) == []
        new = repo.commit("now")
        await until(lambda: len(runs(engine)) == 1, "one run")
    assert runs(engine)[0].commit == new


async def test_a_burst_of_commits_starts_one_run_for_the_newest(
    repo: RepoMaker, engine: Engine
) -> None:
    add_pipeline(repo, "ci")
    repo.commit("pipeline")
    base = git(repo.root, "rev-parse", "HEAD")
    git(repo.root, "checkout", "-q", "-b", "topic")
    for i in range(5):
        repo.commit(f"topic {i}")
    newest = git(repo.root, "rev-parse", "HEAD")
    git(repo.root, "checkout", "-q", "main")
    assert git(repo.root, "rev-parse", "HEAD") == base
    async with serving(engine):
        git(repo.root, "merge", "-q", "--ff-only", "topic")
        await until(lambda: len(runs(engine)) == 1, "a run")
        await asyncio.sleep(0.5)
        assert [r.commit for r in runs(engine)] == [newest]


async def test_untrusted_or_changed_pipelines_do_not_run_by_themselves(
    repo: RepoMaker, engine: Engine
) -> None:
    path = add_pipeline(repo, "ci", trusted=False)
    repo.commit("pipeline")
    async with serving(engine) as (_, seen):
        repo.commit("one")
        await until(lambda: any(isinstance(e, TriggerSkipped) for e in seen), "a refusal")
        assert runs(engine) == []
        skipped = next(e for e in seen if isinstance(e, TriggerSkipped))
        assert "pipelines/ci.yml is new" in skipped.reason
        TrustStore().trust(path)
        repo.commit("two")
        await until(lambda: len(runs(engine)) == 1, "a run once trusted")
        path.write_text(path.read_text().replace("echo built", "echo BUILT"))
        repo.commit("three")
        await until(lambda: sum(isinstance(e, TriggerSkipped) for e in seen) == 2, "refused again")
        reasons = [e.reason for e in seen if isinstance(e, TriggerSkipped)]
        assert "changed since it was trusted" in reasons[-1]
        await settled(engine)
        assert len(runs(engine)) == 1


async def test_triggers_pick_the_pipelines_a_commit_runs(repo: RepoMaker, engine: Engine) -> None:
    add_pipeline(repo, "ci")  # no trigger: the current branch
    add_pipeline(repo, "docs", "trigger: {paths: {include: ['docs/**'], exclude: ['**/*.tmp']}}")
    add_pipeline(repo, "manual", "trigger: manual")
    add_pipeline(repo, "release", "trigger: {tags: ['v*']}")
    add_pipeline(repo, "topic", "trigger: {branches: ['topic/*']}")
    repo.commit("pipelines")
    async with serving(engine):
        repo.write("src/app.py", "print(1)\n")
        repo.commit("code")
        await until(lambda: len(runs(engine, "ci")) == 1, "ci for code")
        repo.write("docs/guide.md", "# Guide\n")
        repo.commit("docs")
        await until(lambda: len(runs(engine, "docs")) == 1, "docs for docs")
        repo.write("docs/scratch.tmp", "x\n")
        repo.commit("only an excluded file")
        git(repo.root, "tag", "v1.0")
        await until(lambda: len(runs(engine, "release")) == 1, "release for the tag")
        git(repo.root, "branch", "topic/x")
        await until(lambda: len(runs(engine, "topic")) == 1, "topic for the branch")
        await until(lambda: len(runs(engine, "ci")) == 3, "ci for every commit on main")
        await asyncio.sleep(0.5)
        for name in ("ci", "docs", "release", "topic"):
            await settled(engine, name)
    assert len(runs(engine, "docs")) == 1
    assert runs(engine, "manual") == []
    assert runs(engine, "release")[0].branch is None
    assert runs(engine, "release")[0].trigger == "tag v1.0"
    assert runs(engine, "topic")[0].branch == "topic/x"


async def test_requests_from_clients_are_carried_out(repo: RepoMaker, engine: Engine) -> None:
    add_pipeline(repo, "ci")
    repo.commit("pipeline")
    store = engine.project.store
    async with serving(engine, watch=False) as (service, _):
        assert service.watcher is None
        request = store.requests.add_start("ci", "HEAD", {}, "grace")
        await until(lambda: store.requests.get(request.id).done, "request answered")
        run = store.run_by_id(store.requests.get(request.id).result_run_id or 0)
        assert run.trigger == "started by grace"
        refused = store.requests.add_start("nope", "HEAD", {}, "grace")
        await until(lambda: store.requests.get(refused.id).done, "refusal")
        assert "no pipeline named 'nope'" in (store.requests.get(refused.id).error or "")
        await settled(engine)


async def test_requests_left_while_no_engine_ran_are_refused_not_run(
    repo: RepoMaker, engine: Engine
) -> None:
    add_pipeline(repo, "ci")
    repo.commit("pipeline")
    store = engine.project.store
    stale = store.requests.add_start("ci", "HEAD", {}, "grace")
    # Made a minute ago: its client gave up waiting long since.
    store.connection().execute(
        "UPDATE requests SET created_at = '2000-01-01T00:00:00.000Z' WHERE id = ?", (stale.id,)
    )
    # Made just before this engine started (it saw the lock taken): it is carried out.
    fresh = store.requests.add_start("ci", "HEAD", {}, "alan")
    async with serving(engine, watch=False):
        await until(lambda: store.requests.get(fresh.id).done, "the fresh request answered")
        await settled(engine)
    assert store.requests.get(stale.id).error == "no engine took the request in time"
    assert [r.trigger for r in runs(engine)] == ["started by alan"]


async def test_paths_are_compared_with_the_last_run_of_the_same_branch(
    repo: RepoMaker, engine: Engine
) -> None:
    add_pipeline(repo, "code", "trigger: {branches: ['main', 'release'], paths: ['src/**']}")
    repo.commit("pipeline")
    git(repo.root, "branch", "release")
    async with serving(engine):
        # One batch: main gets a code change, release only a docs change.
        repo.write("src/app.py", "print(1)\n")
        main_sha = repo.commit("code on main")
        git(repo.root, "checkout", "-q", "release")
        repo.write("docs/notes.md", "notes\n")
        git(repo.root, "add", "-A")
        git(repo.root, "commit", "-qm", "docs on release")
        git(repo.root, "checkout", "-q", "main")
        await until(lambda: len(runs(engine, "code")) >= 1, "the run for main")
        await asyncio.sleep(0.5)
        await settled(engine, "code")
    assert [(r.commit, r.branch) for r in runs(engine, "code")] == [(main_sha, "main")]


async def test_a_commit_runs_its_own_pipeline_file_not_the_working_tree_s(
    repo: RepoMaker, engine: Engine
) -> None:
    """As GitHub Actions and GitLab do; and trust is checked on the committed bytes."""
    path = add_pipeline(repo, "ci")
    repo.commit("pipeline")
    # Edited and trusted in the working tree, never committed: a commit does not run it.
    path.write_text(path.read_text().replace("echo built", "echo UNCOMMITTED"))
    TrustStore().trust(path)
    async with serving(engine) as (_, seen):
        git(repo.root, "commit", "-q", "--allow-empty", "-m", "code")
        await until(lambda: any(isinstance(e, TriggerSkipped) for e in seen), "a refusal")
    skipped = next(e for e in seen if isinstance(e, TriggerSkipped))
    # The committed file is not the trusted one (the working tree's is): it does not run.
    assert "changed since it was trusted" in skipped.reason
    assert runs(engine) == []

    git(repo.root, "stash", "-q")
    TrustStore().trust(path)
    async with serving(engine):
        new = repo.commit("more")
        await until(lambda: len(runs(engine)) == 1, "a run of the committed file")
        (run,) = await settled(engine)
    log = engine.project.store.detail(run).stages[0].actions[0].action.log_path
    assert log is not None and Path(log).read_text() == f"built {new}\n"
    assert run.definition_origin == "commit"
