"""The one engine of a repository at work: carrying out clients' requests, and watching.

A console or `pipedeck watch` that holds the repository's lock runs this beside its engine.
It takes the requests other processes leave in the store (start a run, retry one) and, when
watching, turns new commits on the refs into runs — only of pipelines whose trigger accepts
the commit and whose file the user has trusted with its exact content.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipedeck.definition import DefinitionError
from pipedeck.definition.loader import load_source
from pipedeck.definition.model import Pipeline
from pipedeck.engine.engine import Engine
from pipedeck.engine.errors import EngineError, ProjectError, TrustError
from pipedeck.engine.events import TriggerSkipped, WatchStarted
from pipedeck.engine.recovery import recover
from pipedeck.engine.triggers import changed_paths_for, decide
from pipedeck.engine.trust import TrustStore
from pipedeck.gitrepo import GitError
from pipedeck.gitrepo.refwatch import RefUpdate, RefWatcher
from pipedeck.store import RunRecord, StoreError
from pipedeck.store.control import Request
from pipedeck.store.db import format_time

log = logging.getLogger(__name__)

REQUEST_PATIENCE = 30.0
"""Seconds a client waits for an engine to take its request before giving up on it."""
TAKE_UP_EVERY = 1.0
"""Seconds between looks for runs left waiting with no engine (see `_take_up_left`)."""


class EngineService:
    def __init__(
        self,
        engine: Engine,
        *,
        watch: bool = True,
        force_polling: bool = False,
        poll_interval: float = 1.0,
        trust: TrustStore | None = None,
        take_up: bool = True,
    ) -> None:
        self.engine = engine
        self.take_up = take_up
        """Carry on the runs an engine that stopped left waiting (a console, `watch`)."""
        self.trust = trust or TrustStore()
        # Made now, so commits from here on are news and the console can say how it watches.
        self.watcher = (
            RefWatcher(
                engine.project.repo, force_polling=force_polling, poll_interval=poll_interval
            )
            if watch
            else None
        )

    async def serve(self) -> None:
        """Run until cancelled."""
        store = self.engine.project.store
        # Whoever becomes the engine (a console taking over, too) first settles the runs of
        # an engine that died: they end `interrupted`, their processes are ended.
        recover(store)
        if self.take_up:
            await self.engine.take_up_idle()
        # A request older than a client waits was made while no engine ran: its client gave
        # up (or died). Younger ones were made just as we took the lock: carry them out.
        stale = format_time(datetime.now(UTC) - timedelta(seconds=REQUEST_PATIENCE))
        store.requests.abandon_untaken("no engine took the request in time", stale)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._take_requests())
            if self.watcher is not None:
                tasks.create_task(self._follow_refs(self.watcher))
                tasks.create_task(self._report_mode(self.watcher))

    # --- requests from other processes ----------------------------------------------------

    async def _take_requests(self) -> None:
        store = self.engine.project.store
        loop = asyncio.get_running_loop()
        looked = loop.time()
        while True:
            while (request := store.requests.take_next()) is not None:
                await self.carry_out(request)
            if loop.time() - looked >= TAKE_UP_EVERY:
                looked = loop.time()
                await self._take_up_left()
            await asyncio.sleep(self.engine.settings.poll_interval)

    async def _take_up_left(self) -> None:
        """Runs left waiting with no engine: all of them (a console, `watch`), or those that
        have their answer — a decision, a cancel, a deadline passed — so that a decision from
        another shell is carried out by whichever engine holds the repository."""
        store = self.engine.project.store
        for run in self.engine.left_idle():
            if self.take_up or store.answered(run.id):
                await self.engine.take_up(run)

    async def carry_out(self, request: Request) -> RunRecord | None:
        """Start what `request` asks for; whatever happens, its client gets an answer."""
        engine, store = self.engine, self.engine.project.store
        try:
            if request.kind == "start" and request.pipeline:
                pipeline = self._requested(request)
                run = await engine.start(
                    pipeline,
                    request.rev or "HEAD",
                    request.variables,
                    trigger=f"started by {request.requested_by}",
                    branch=request.branch,
                )
            elif request.kind == "retry" and request.run_id is not None:
                run = await engine.retry(store.run_by_id(request.run_id), request.all_actions)
            elif request.kind == "rollback" and request.pipeline and request.stage:
                target = store.run_by_id(request.run_id) if request.run_id is not None else None
                pipeline = engine.project.pipeline(request.pipeline)
                run = await engine.rollback(pipeline, request.stage, target)
            else:
                raise EngineError(f"unknown request {request.kind!r}")
        except (EngineError, ProjectError, StoreError) as exc:
            store.requests.finish(request.id, error=str(exc))
            return None
        except Exception as exc:
            log.exception("request %s failed inside the engine", request.id)
            store.requests.finish(request.id, error=f"internal error: {exc!r}")
            return None
        except BaseException:
            store.requests.finish(request.id, error="the engine stopped before starting it")
            raise
        store.requests.finish(request.id, run_id=run.id)
        return run

    def _requested(self, request: Request) -> Pipeline:
        """The pipeline file the client chose (its worktree's), else the commit's own."""
        project = self.engine.project
        assert request.pipeline is not None
        source = project.store.source(request.definition_sha) if request.definition_sha else None
        if source is None or request.definition_path is None:
            return project.pipeline_at(request.pipeline, request.rev or "HEAD")
        try:
            return load_source(Path(request.definition_path), source)
        except DefinitionError as exc:
            raise ProjectError(str(exc)) from None

    # --- watching -------------------------------------------------------------------------

    async def _report_mode(self, watcher: RefWatcher) -> None:
        """Say how the repository is watched, and again if it falls back to polling."""
        shown: tuple[str, str | None] | None = None
        while True:
            if (watcher.mode, watcher.reason) != shown:
                shown = (watcher.mode, watcher.reason)
                self.engine.bus.publish(
                    WatchStarted(
                        repo=str(self.engine.project.repo.root),
                        mode=watcher.mode,
                        reason=watcher.reason,
                    )
                )
            await asyncio.sleep(1.0)

    async def _follow_refs(self, watcher: RefWatcher) -> None:
        while True:
            try:
                # aclosing: when the service stops mid-batch, the watch threads stop now,
                # not at garbage collection.
                async with contextlib.aclosing(watcher.updates()) as batches:
                    async for batch in batches:
                        await self.on_updates(batch)
            except (GitError, OSError) as exc:
                # A git that fails once (a repository mid-rewrite) must not end the
                # watching for good: the watcher's snapshot still knows where it was.
                log.warning("watching stopped on an error, starting again: %s", exc)
                await asyncio.sleep(1.0)

    async def on_updates(self, batch: list[RefUpdate]) -> list[RunRecord]:
        """Start the runs a batch of ref moves calls for; one per pipeline and ref."""
        project = self.engine.project
        current = project.repo.current_branch()
        started = []
        # Each commit runs its own pipeline files, as committed (what trust is checked on).
        at: dict[str, list[Pipeline]] = {}
        for update in batch:
            if update.new is not None and update.new not in at:
                try:
                    at[update.new] = project.load_at(update.new).pipelines
                except ProjectError as exc:
                    log.warning("cannot read the pipelines of %s: %s", update.new[:12], exc)
                    at[update.new] = []
        for update in batch:
            for pipeline in at.get(update.new or "", []):
                if update.new is None:
                    continue
                base = self._last_commit(pipeline, update.name) or update.old
                new = update.new
                reason = decide(
                    pipeline,
                    update,
                    current_branch=current,
                    changed_paths=functools.partial(changed_paths_for, project.repo, base, new),
                )
                if reason is None or not self._trusted(pipeline, update):
                    continue
                try:
                    started.append(
                        await self.engine.start(
                            pipeline,
                            update.new,
                            trigger=reason,
                            branch=update.name if update.kind == "branch" else None,
                        )
                    )
                except EngineError as exc:
                    log.warning("could not start %s: %s", pipeline.name, exc)
        return started

    def _last_commit(self, pipeline: Pipeline, branch: str) -> str | None:
        """The commit of the pipeline's last run of `branch`: what `paths` are compared with."""
        runs = self.engine.project.store.runs(pipeline.name, limit=50)
        return next((r.commit for r in runs if r.branch == branch), None)

    def _trusted(self, pipeline: Pipeline, update: RefUpdate) -> bool:
        path = pipeline.path
        assert path is not None
        try:
            # The digest of the bytes that were parsed: what runs is what is checked.
            state = self.trust.check(path, digest=pipeline.sha256)
        except (TrustError, OSError) as exc:
            why = str(exc)
        else:
            if state.trusted:
                return True
            what = "is new" if state.state == "new" else "changed since it was trusted"
            name = _shown(path, self.engine.project.repo.root)
            why = f"{name} {what}; review it with `pipedeck trust`"
        self.engine.bus.publish(
            TriggerSkipped(
                pipeline=pipeline.name, ref=update.ref, commit=update.new or "", reason=why
            )
        )
        return False


def _shown(path: Path, root: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(root))
    return str(path)
