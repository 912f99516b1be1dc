"""Watching a repository's branches and tags: which refs moved, and from where to where.

File events only say that something in the ref storage *may* have changed; the truth is
always a fresh `GitRepo.refs()` compared with the last snapshot. So lock files, the many
writes of one fetch or rebase, and refs that end where they started all collapse into the
real differences: one `RefUpdate` per ref that moved, carrying its newest commit.

Where file events are unavailable (inotify limits, file systems without them), or turned off
with `PIPEDECK_WATCH=poll`, the same comparison runs on a timer instead; `mode` and `reason`
say which and why, so the console can tell the user why it reacts more slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from watchfiles import Change, awatch

from pipedeck.gitrepo.repo import GitRepo

# A batch of file events ends after this much quiet; it is most of a report's latency.
_STEP_MS = 20
# Under a steady stream of writes (a big fetch) a batch still ends after this long.
_DEBOUNCE_MS = 250
# An idle watch thread returns this often; its first return re-checks the refs (see _pump).
_IDLE_MS = 1000
# Git replaces these by rename, so their directory is watched, not the files themselves.
_TOP_LEVEL_FILES = frozenset({"packed-refs", "HEAD"})

RefKind = Literal["branch", "tag", "other"]
WatchMode = Literal["events", "polling"]


DEPLOY_TAG_PREFIX = "pipedeck/"
"""Tags the engine writes to record deploys (`pipedeck/<environment>`): never a trigger."""


@dataclass(frozen=True)
class RefUpdate:
    """One ref that moved: `old` is None for a new ref, `new` is None for a deleted one."""

    ref: str
    old: str | None
    new: str | None

    @property
    def kind(self) -> RefKind:
        if self.ref.startswith("refs/heads/"):
            return "branch"
        if self.ref.startswith("refs/tags/"):
            return "tag"
        return "other"

    @property
    def name(self) -> str:
        """The short name: `main`, `release/1.2`, `v1`."""
        for prefix in ("refs/heads/", "refs/tags/", "refs/"):
            if self.ref.startswith(prefix):
                return self.ref[len(prefix) :]
        return self.ref

    @property
    def created(self) -> bool:
        return self.old is None

    @property
    def deleted(self) -> bool:
        return self.new is None


def diff_refs(old: dict[str, str], new: dict[str, str]) -> list[RefUpdate]:
    """The refs whose commit differs between two snapshots, sorted by ref name."""
    return [
        RefUpdate(ref, old.get(ref), new.get(ref))
        for ref in sorted(old.keys() | new.keys())
        if old.get(ref) != new.get(ref)
    ]


class _EventsUnavailable(Exception):
    """File events could not be set up or broke down; the watcher falls back to polling."""


def _not_a_lock(_change: Change, path: str) -> bool:
    # Git writes `<ref>.lock` and renames it into place; only the rename says anything.
    return not path.endswith(".lock")


def _top_level_ref_file(_change: Change, path: str) -> bool:
    return Path(path).name in _TOP_LEVEL_FILES


class RefWatcher:
    """Reports branch and tag moves of one repository as batches of `RefUpdate`s.

    The snapshot is taken when the watcher is created: what moved before is history, not news.
    Each batch advances the snapshot, so a watcher serves one consumer of `updates()`.
    """

    def __init__(
        self, repo: GitRepo, *, force_polling: bool = False, poll_interval: float = 1.0
    ) -> None:
        self._repo = repo
        self.poll_interval = poll_interval
        self.mode: WatchMode = "events"
        self.reason: str | None = None
        """Why the watcher polls instead of following file events; None while it does not."""
        if force_polling:
            self.mode, self.reason = "polling", "polling was requested"
        elif os.environ.get("PIPEDECK_WATCH", "").strip().lower() == "poll":
            self.mode, self.reason = "polling", "PIPEDECK_WATCH=poll is set"
        self.watching = asyncio.Event()
        """Set once moves are followed: a ref that moves after this is reported by events
        (or the next poll); one that moved before it, since creation, by a first check."""
        self._last = repo.refs()

    def snapshot(self) -> dict[str, str]:
        """The refs every future update is relative to: as of the start or the last batch."""
        return dict(self._last)

    async def updates(self) -> AsyncGenerator[list[RefUpdate], None]:
        """One batch per confirmed change, forever.

        Stop watching by cancelling the task that iterates, or by closing the iterator
        (`contextlib.aclosing`); either way the watch threads end within one step.
        """
        if self.mode == "events":
            try:
                async with aclosing(self._on_events()) as batches:
                    async for batch in batches:
                        yield batch
            except _EventsUnavailable as exc:
                self.mode = "polling"
                self.reason = f"file events are unavailable: {exc}"
                # Whatever moved while the events were being set up is still news.
                if batch := await self._check():
                    yield batch
        self.watching.set()
        while True:
            await asyncio.sleep(self.poll_interval)
            if batch := await self._check():
                yield batch

    async def _check(self) -> list[RefUpdate]:
        # In a thread: the console's event loop must not wait for a git process.
        current = await asyncio.to_thread(self._repo.refs)
        batch = diff_refs(self._last, current)
        self._last = current
        return batch

    async def _on_events(self) -> AsyncGenerator[list[RefUpdate], None]:
        git_dir = self._repo.git_dir
        stores = [git_dir / "refs"]
        if (git_dir / "reftable").is_dir():
            stores.append(git_dir / "reftable")
        # watchfiles loads anyio's asyncio backend on first use, some 60 ms of imports that
        # would freeze the console sharing this loop just as it opens: load it in a thread.
        # Only a warm-up: should anyio move that module, watchfiles still loads what it needs.
        with contextlib.suppress(ImportError):
            await asyncio.to_thread(importlib.import_module, "anyio._backends._asyncio")
        stop = asyncio.Event()
        wake: asyncio.Queue[BaseException | None] = asyncio.Queue()
        # Two watches because one must be recursive (loose refs live in nested folders) and
        # the other must not be: the git dir holds objects/ and pipedeck's own database.
        pumps = [
            asyncio.create_task(_pump(stores, True, _not_a_lock, stop, wake)),
            asyncio.create_task(_pump([git_dir], False, _top_level_ref_file, stop, wake)),
        ]
        try:
            # A pump builds its OS watch before it first waits, so once both have run a step
            # the watch is in place: a ref that moves from here on is in the check below or in
            # an event. (The pumps' first wake checks again, should that ever change.)
            await asyncio.sleep(0)
            signals: list[BaseException | None] = [None]
            while True:
                while not wake.empty():
                    signals.append(wake.get_nowait())
                for signal in signals:
                    if signal is not None:
                        raise _EventsUnavailable(str(signal) or type(signal).__name__) from signal
                self.watching.set()
                if batch := await self._check():
                    yield batch
                signals = [await wake.get()]
        finally:
            # The watch threads look at `stop` every step; cancelling them instead would wait
            # for their idle timeout, since a thread cannot be interrupted.
            stop.set()
            await asyncio.gather(*pumps, return_exceptions=True)


async def _pump(
    paths: list[Path],
    recursive: bool,
    accept: Callable[[Change, str], bool],
    stop: asyncio.Event,
    wake: asyncio.Queue[BaseException | None],
) -> None:
    """Put None on `wake` for every batch of relevant file events; an error if watching fails."""
    first = True
    try:
        async for changes in awatch(
            *paths,
            watch_filter=accept,
            recursive=recursive,
            step=_STEP_MS,
            debounce=_DEBOUNCE_MS,
            rust_timeout=_IDLE_MS,
            yield_on_timeout=True,
            stop_event=stop,
            force_polling=False,
            debug=False,
        ):
            # The first return, even an idle one, proves the watch is in place; checking then
            # catches refs that moved between the snapshot and the watch being set up.
            if changes or first:
                wake.put_nowait(None)
            first = False
    except (OSError, RuntimeError) as exc:
        # watchfiles reports a watcher it cannot create (inotify limits) as a RuntimeError.
        wake.put_nowait(exc)
