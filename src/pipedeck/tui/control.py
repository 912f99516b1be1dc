"""What the console asks of the engine, whether it runs the engine or is a client of one.

The console that holds the repository's lock owns the engine and calls it directly. A second
console is a client: it sends the same requests through the store to the engine that owns
the repository. Screens call this object and never need to know which of the two they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipedeck import engine
from pipedeck.definition import Pipeline
from pipedeck.engine import Engine, Project
from pipedeck.store import RunRecord


@dataclass
class Control:
    project: Project
    engine: Engine | None
    holder: str | None = None
    """Who owns the repository when this console is a client (`pid role`)."""

    @property
    def is_engine(self) -> bool:
        return self.engine is not None

    async def start(self, pipeline: Pipeline, variables: dict[str, str]) -> str:
        """Start a run (or ask for one); returns what to tell the user."""
        if self.engine is None:
            engine.request_start(self.project, pipeline.name, "HEAD", variables)
            return f"asked the engine ({self.holder}) to start {pipeline.name}"
        run = await self.engine.start(pipeline, variables=variables)
        return f"{run.key} started on {run.commit[:7]}"

    async def retry(self, run: RunRecord, all_actions: bool) -> str:
        if self.engine is None:
            engine.request_retry(self.project.store, run, all_actions)
            return f"asked the engine ({self.holder}) to retry {run.key}"
        await self.engine.retry(run, all_actions)
        return f"{run.key} retried"

    def cancel(self, run: RunRecord, wait: bool) -> None:
        if self.engine is None:
            engine.cancel(self.project.store, run, wait=wait)
        else:
            self.engine.cancel(run, wait=wait)

    def approve(self, run: RunRecord, comment: str | None, action: str) -> None:
        email = self._email()
        if self.engine is None:
            engine.approve(self.project.store, run, comment, action=action, email=email)
        else:
            self.engine.approve(run, comment, action=action, email=email)

    def reject(self, run: RunRecord, comment: str, action: str) -> None:
        email = self._email()
        if self.engine is None:
            engine.reject(self.project.store, run, comment, action=action, email=email)
        else:
            self.engine.reject(run, comment, action=action, email=email)

    def _email(self) -> str | None:
        """Who decides, as git knows them in this console's checkout."""
        return self.project.repo.user_email()

    def disable_transition(self, pipeline: str, stage: str, reason: str) -> None:
        engine.disable_transition(self.project.store, pipeline, stage, reason)

    def enable_transition(self, pipeline: str, stage: str) -> None:
        engine.enable_transition(self.project.store, pipeline, stage)
