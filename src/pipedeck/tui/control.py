"""What the console asks of the engine, whether it runs the engine or is a client of one.

The console that holds the repository's lock owns the engine and calls it directly. A second
console is a client: it sends the same requests through the store to the engine that owns
the repository. Screens call this object and never need to know which of the two they are.

It is also the console's one place for the engine's refusals: every failure the engine
phrases for a user (`USER_ERRORS`, the same the command line maps) is said as an error toast
in its own words, and the method returns False, so a screen only decides what to do next.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipedeck import engine
from pipedeck.gitrepo.location import user_email
from pipedeck.store import RunRecord

if TYPE_CHECKING:
    from pipedeck.definition import Pipeline
    from pipedeck.engine import Client, Engine, Project

Say = Callable[[str], None]


@dataclass
class Control:
    client: Client
    say: Say
    """Shows a refusal to the user (an error toast)."""
    engine: Engine | None = None
    project: Project | None = None
    """The repository as the engine runs it, once the console has loaded it."""
    holder: str | None = None
    """Who owns the repository when this console is a client (`pid role`)."""
    failure: str | None = None
    """Why this console cannot run pipelines at all (the repository cannot be opened)."""

    @property
    def is_engine(self) -> bool:
        return self.engine is not None

    @property
    def opening(self) -> bool:
        """Not yet known whether this console runs the engine or is a client of one."""
        return self.project is None and self.failure is None

    @contextmanager
    def _refusals(self) -> Iterator[None]:
        try:
            yield
        except engine.USER_ERRORS as exc:
            self.say(str(exc))

    def _settled(self) -> None:
        """Refuse to act before this console knows whether it is the engine: as a client it
        would ask an engine that may turn out to be this very console."""
        if self.opening:
            raise engine.ProjectError("the console is still opening the repository: a moment")

    async def start(self, pipeline: Pipeline, variables: dict[str, str]) -> str | None:
        """Start a run (or ask for one); what to tell the user, or None if refused."""
        with self._refusals():
            self._settled()
            if self.engine is None:
                if self.project is None:
                    raise engine.ProjectError(f"cannot run pipelines here: {self.failure}")
                engine.request_start(self.project, pipeline.name, "HEAD", variables)
                return f"asked the engine ({self.holder}) to start {pipeline.name}"
            run = await self.engine.start(pipeline, variables=variables)
            return f"{run.key} started on {run.commit[:7]}"
        return None

    async def retry(self, run: RunRecord, all_actions: bool) -> str | None:
        with self._refusals():
            self._settled()
            if self.engine is None:
                engine.request_retry(self.client.store, run, all_actions)
                return f"asked the engine ({self.holder}) to retry {run.key}"
            await self.engine.retry(run, all_actions)
            return f"{run.key} retried"
        return None

    async def rollback(self, pipeline: Pipeline, stage: str, target: RunRecord) -> str | None:
        """Roll `stage` back to `target`'s release; what to tell the user, or None."""
        with self._refusals():
            self._settled()
            if self.engine is None:
                engine.request_rollback(self.client.store, pipeline.name, stage, target)
                return f"asked the engine ({self.holder}) to roll {stage} back to {target.key}"
            run = await self.engine.rollback(pipeline, stage, target)
            return f"{run.key} rolls {stage} back to {target.key} ({target.commit[:7]})"
        return None

    async def rerun(self, run: RunRecord) -> str | None:
        """Run `run`'s commit again, on its branch, with its variables and the pipeline file
        as committed in it."""
        with self._refusals():
            self._settled()
            if self.project is None:
                raise engine.ProjectError(f"cannot run pipelines here: {self.failure}")
            if self.engine is None:
                engine.request_start(
                    self.project, run.pipeline, run.commit, run.variables, branch=run.branch
                )
                return f"asked the engine ({self.holder}) to run {run.commit[:7]} again"
            pipeline = self.project.pipeline_at(run.pipeline, run.commit)
            again = await self.engine.start(
                pipeline, run.commit, run.variables, trigger=f"again: {run.key}", branch=run.branch
            )
            return f"{again.key} runs {run.commit[:7]} again, as committed then"
        return None

    def cancel(self, run_id: int, wait: bool) -> bool:
        with self._refusals():
            self._settled()
            run = self.client.store.run_by_id(run_id)
            if self.engine is None:
                engine.cancel(self.client.store, run, wait=wait)
            else:
                self.engine.cancel(run, wait=wait)
            return True
        return False

    def decide(self, run_id: int, approved: bool, comment: str, action: str) -> bool:
        """Approve or reject `action` of the run, as this checkout's git user."""
        with self._refusals():
            self._settled()
            run = self.client.store.run_by_id(run_id)
            email, store = user_email(self.client.root), self.client.store
            if approved:
                if self.engine is None:
                    engine.approve(store, run, comment or None, action=action, email=email)
                else:
                    self.engine.approve(run, comment or None, action=action, email=email)
            elif self.engine is None:
                engine.reject(store, run, comment, action=action, email=email)
            else:
                self.engine.reject(run, comment, action=action, email=email)
            return True
        return False

    def disable_transition(self, pipeline: str, stage: str, reason: str) -> bool:
        with self._refusals():
            engine.disable_transition(self.client.store, pipeline, stage, reason)
            return True
        return False

    def enable_transition(self, pipeline: str, stage: str) -> bool:
        with self._refusals():
            engine.enable_transition(self.client.store, pipeline, stage)
            return True
        return False
