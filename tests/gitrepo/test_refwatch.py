"""The ref watcher against real repositories changed by the real git CLI.

Every test runs with file events, with polling asked for by the caller, and with polling set
by `PIPEDECK_WATCH`. That nothing else was reported is shown without clocks: a marker tag is
made afterwards, and the very next batch must be that tag alone.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import aclosing, asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from pipedeck.gitrepo import GitRepo, refwatch
from pipedeck.gitrepo.refwatch import RefUpdate, RefWatcher
from tests.conftest import RepoMaker, git

Batches = asyncio.Queue[list[RefUpdate]]


@pytest.fixture
def base(repo: RepoMaker) -> str:
    return repo.commit("initial")


@pytest.fixture(params=["events", "forced", "env"])
def watch(
    request: pytest.FixtureRequest, repo: RepoMaker, base: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[], RefWatcher]]:
    """Creates the watcher under test; after the test, checks it kept the expected mode."""
    watchers: list[RefWatcher] = []
    if request.param == "env":
        monkeypatch.setenv("PIPEDECK_WATCH", "poll")
    else:
        monkeypatch.delenv("PIPEDECK_WATCH", raising=False)

    def make() -> RefWatcher:
        watcher = RefWatcher(
            GitRepo.open(repo.root), force_polling=request.param == "forced", poll_interval=0.05
        )
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        if request.param == "events":
            assert (watcher.mode, watcher.reason) == ("events", None)
        else:
            assert watcher.mode == "polling"
            assert watcher.reason is not None


@asynccontextmanager
async def following(watcher: RefWatcher) -> AsyncIterator[Batches]:
    """Batches as the console gets them: from a task, stopped by cancelling it (so every
    test also fails if the watch does not stop when its consumer is cancelled)."""
    batches: Batches = asyncio.Queue()

    async def consume() -> None:
        async for batch in watcher.updates():
            batches.put_nowait(batch)

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(watcher.watching.wait(), 10)
        yield batches
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)
        assert task.cancelled()


async def next_batch(batches: Batches) -> list[RefUpdate]:
    return await asyncio.wait_for(batches.get(), 10)


async def nothing_else(batches: Batches, repo: RepoMaker) -> None:
    """The next batch is a marker tag made now: nothing was pending before it."""
    git(repo.root, "tag", "marker")
    head = git(repo.root, "rev-parse", "HEAD")
    assert await next_batch(batches) == [RefUpdate("refs/tags/marker", None, head)]


async def test_commit_on_main_is_reported(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    watcher = watch()
    async with following(watcher) as batches:
        new = repo.commit("second")
        [update] = await next_batch(batches)
        assert update == RefUpdate("refs/heads/main", base, new)
        assert not update.created and not update.deleted
        assert watcher.snapshot()["refs/heads/main"] == new
        await nothing_else(batches, repo)


async def test_commits_before_the_watcher_are_not_reported(
    repo: RepoMaker, watch: Callable[[], RefWatcher]
) -> None:
    repo.commit("before 1")
    before = repo.commit("before 2")
    watcher = watch()
    assert watcher.snapshot()["refs/heads/main"] == before
    async with following(watcher) as batches:
        after = repo.commit("after")
        assert await next_batch(batches) == [RefUpdate("refs/heads/main", before, after)]


async def test_a_commit_between_creating_and_iterating_is_reported(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    watcher = watch()
    new = repo.commit("before the first step of the iterator")
    # Iterated directly and stopped by closing it, the other way a consumer may stop.
    async with aclosing(watcher.updates()) as updates:
        batch = await asyncio.wait_for(anext(updates), 10)
        assert batch == [RefUpdate("refs/heads/main", base, new)]
        git(repo.root, "tag", "marker")
        batch = await asyncio.wait_for(anext(updates), 10)
        assert batch == [RefUpdate("refs/tags/marker", None, new)]


async def test_each_move_is_its_own_batch(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    # More moves than a watch has first wakes: with file events, only events can report them.
    watcher = watch()
    async with following(watcher) as batches:
        old = base
        for n in range(4):
            new = repo.commit(f"commit {n}")
            assert await next_batch(batches) == [RefUpdate("refs/heads/main", old, new)]
            old = new


def five_ahead(repo: RepoMaker, where: Path) -> str:
    for n in range(5):
        (where / f"f{n}.txt").write_text(f"{n}\n")
        git(where, "add", "-A")
        git(where, "commit", "-q", "-m", f"commit {n}")
    return git(where, "rev-parse", "HEAD")


@pytest.mark.parametrize("how", ["merge", "reset", "fetch", "push"])
async def test_many_commits_at_once_are_one_update(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher], tmp_path: Path, how: str
) -> None:
    if how in ("merge", "reset"):
        git(repo.root, "switch", "-q", "-c", "feature")
        newest = five_ahead(repo, repo.root)
        git(repo.root, "switch", "-q", "main")
        ref = "refs/heads/main"
    else:
        git(repo.root, "branch", "incoming")
        clone = tmp_path / "clone"
        git(tmp_path, "clone", "-q", str(repo.root), str(clone))
        newest = five_ahead(repo, clone)
        ref = "refs/heads/incoming"
    watcher = watch()
    async with following(watcher) as batches:
        if how == "merge":
            git(repo.root, "merge", "-q", "--ff-only", "feature")
        elif how == "reset":
            git(repo.root, "reset", "-q", "--hard", newest)
        elif how == "fetch":
            git(repo.root, "fetch", "-q", str(clone), "main:incoming")
        else:
            git(clone, "push", "-q", "origin", "main:incoming")
        assert await next_batch(batches) == [RefUpdate(ref, base, newest)]
        await nothing_else(batches, repo)


async def test_new_tags_are_reported_peeled(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    head = repo.commit("second")
    watcher = watch()
    async with following(watcher) as batches:
        git(repo.root, "tag", "v1")
        [light] = await next_batch(batches)
        assert light == RefUpdate("refs/tags/v1", None, head)
        assert (light.kind, light.name, light.created) == ("tag", "v1", True)
        git(repo.root, "tag", "-a", "v0.9", "-m", "the first one", base)
        assert await next_batch(batches) == [RefUpdate("refs/tags/v0.9", None, base)]


async def test_branch_creation_and_deletion(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    watcher = watch()
    async with following(watcher) as batches:
        # A name with a slash makes git create a folder the watch has not seen yet.
        git(repo.root, "branch", "release/1.2")
        [created] = await next_batch(batches)
        assert created == RefUpdate("refs/heads/release/1.2", None, base)
        assert (created.name, created.created) == ("release/1.2", True)
        git(repo.root, "branch", "-D", "release/1.2")
        [deleted] = await next_batch(batches)
        assert deleted == RefUpdate("refs/heads/release/1.2", base, None)
        assert (deleted.deleted, deleted.created) == (True, False)
        await nothing_else(batches, repo)


async def test_a_rebase_yields_the_final_commit(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    git(repo.root, "switch", "-q", "-c", "feature")
    repo.write("feature.txt", "one\n")
    repo.commit("feature 1")
    repo.write("feature.txt", "two\n")
    before = repo.commit("feature 2")
    git(repo.root, "switch", "-q", "main")
    repo.write("main.txt", "main\n")
    repo.commit("main moves on")
    watcher = watch()
    async with following(watcher) as batches:
        git(repo.root, "rebase", "-q", "main", "feature")
        after = git(repo.root, "rev-parse", "feature")
        assert after != before
        assert await next_batch(batches) == [RefUpdate("refs/heads/feature", before, after)]
        await nothing_else(batches, repo)


async def test_packed_refs_are_seen(
    repo: RepoMaker, base: str, watch: Callable[[], RefWatcher]
) -> None:
    for name in ("side", "gone-1", "gone-2", "gone-3"):
        git(repo.root, "branch", name)
    watcher = watch()
    async with following(watcher) as batches:
        # Packing moves no ref: the next batch is the commit after it, nothing before.
        git(repo.root, "pack-refs", "--all")
        assert not (repo.root / ".git/refs/heads/main").exists()
        new = repo.commit("after packing")
        assert await next_batch(batches) == [RefUpdate("refs/heads/main", base, new)]
        git(repo.root, "update-ref", "refs/heads/side", new)
        assert await next_batch(batches) == [RefUpdate("refs/heads/side", base, new)]
        # Deleting a ref that lives only in packed-refs rewrites nothing but that file (and a
        # lock); more of them than a watch has first wakes, so only watching the file works.
        for name in ("gone-1", "gone-2", "gone-3"):
            git(repo.root, "branch", "-D", name)
            assert await next_batch(batches) == [RefUpdate(f"refs/heads/{name}", base, None)]
        await nothing_else(batches, repo)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "inotify watch limit reached"),
        RuntimeError("Error creating recommended watcher: Too many open files (os error 24)"),
    ],
)
async def test_falls_back_to_polling_when_file_events_fail(
    repo: RepoMaker,
    base: str,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    async def unavailable(*_paths: Any, **_options: Any) -> AsyncIterator[set[Any]]:
        raise error  # as watchfiles does when it cannot create the OS watcher
        yield set()

    monkeypatch.delenv("PIPEDECK_WATCH", raising=False)
    monkeypatch.setattr(refwatch, "awatch", unavailable)
    watcher = RefWatcher(GitRepo.open(repo.root), poll_interval=0.05)
    assert watcher.mode == "events"
    # Made before the failure shows: the fallback compares with the snapshot, so it counts.
    first = repo.commit("first")
    async with following(watcher) as batches:
        assert await next_batch(batches) == [RefUpdate("refs/heads/main", base, first)]
        assert watcher.mode == "polling"
        assert watcher.reason is not None
        assert str(error) in watcher.reason
        second = repo.commit("second")
        assert await next_batch(batches) == [RefUpdate("refs/heads/main", first, second)]


def test_refs_lists_branches_and_peeled_tags(repo: RepoMaker, base: str) -> None:
    head = repo.commit("second")
    git(repo.root, "branch", "release/1.2", base)
    git(repo.root, "tag", "light")
    git(repo.root, "tag", "-a", "annotated", "-m", "a tag", base)
    git(repo.root, "tag", "-a", "nested", "-m", "a tag of a tag", "annotated")
    git(repo.root, "update-ref", "refs/notes/other", head)  # neither a branch nor a tag
    assert GitRepo.open(repo.root).refs() == {
        "refs/heads/main": head,
        "refs/heads/release/1.2": base,
        "refs/tags/light": head,
        "refs/tags/annotated": base,
        "refs/tags/nested": base,
    }


def test_refs_of_a_repository_without_commits(tmp_path: Path) -> None:
    assert GitRepo.open(RepoMaker(tmp_path / "empty").root).refs() == {}


@pytest.mark.parametrize(
    ("ref", "kind", "name"),
    [
        ("refs/heads/main", "branch", "main"),
        ("refs/heads/release/1.2", "branch", "release/1.2"),
        ("refs/tags/v1", "tag", "v1"),
        ("refs/remotes/origin/main", "other", "remotes/origin/main"),
    ],
)
def test_update_kind_and_name(ref: str, kind: str, name: str) -> None:
    update = RefUpdate(ref, None, "a" * 40)
    assert (update.kind, update.name) == (kind, name)
