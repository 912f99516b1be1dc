"""What every action of one run shares: the run, its files, its variables, its signals."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipedeck.definition.model import Action, ActionKind, Pipeline, Stage
from pipedeck.engine.bus import EventBus
from pipedeck.engine.environment import action_base, command_shim, copy_env
from pipedeck.engine.events import Event, RunRef
from pipedeck.engine.markers import ACTION_TOKEN_VAR, RUN_TOKEN_VAR
from pipedeck.engine.variables import Variables
from pipedeck.gitrepo import Commit, GitRepo
from pipedeck.store import ActionRecord, RunLayout, RunRecord, StageRecord, Store


@dataclass
class Settings:
    kill_grace: float = 5.0
    """Seconds between SIGTERM and SIGKILL when an action is stopped."""
    poll_interval: float = 0.2
    """How often a run looks in the store for requests from other processes."""
    default_timeout: float = 3600.0
    """Script actions without `timeout:` (CodeBuild's default is an hour too)."""
    approval_timeout: float = 7 * 86400.0
    """Approvals without `timeout:` (CodePipeline's 7 days)."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """What time it is, for wait timers and deploy windows (tests set their own)."""


@dataclass
class RunContext:
    run: RunRecord
    pipeline: Pipeline
    commit: Commit
    repo: GitRepo
    store: Store
    bus: EventBus
    settings: Settings
    variables: Variables
    token: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    """Stop now: running actions are ended."""
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    """Stop after the running group: its actions finish, nothing after it starts."""
    decision_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    spawning: asyncio.Lock = field(default_factory=asyncio.Lock)
    """One process starts at a time, engine-wide. Starting one blocks the event loop for about
    2 ms (fork, exec, pipes); a stage of eight parallel actions starting in one loop turn froze
    the console that shares the loop for a whole frame. Taking turns lets it draw between."""
    artifacts: dict[str, Path] = field(default_factory=dict)
    _inherited: dict[str, str] | None = None
    """The environment every action starts from (`environment.action_base`)."""
    parking: bool = False
    """The engine stops while the run only waits: leave it waiting, as it is, for the next."""

    @property
    def layout(self) -> RunLayout:
        return self.store.layout(self.run)

    def event_fields(self) -> RunRef:
        return {"run_id": self.run.id, "pipeline": self.run.pipeline, "number": self.run.number}

    def publish(self, event: Event) -> None:
        self.bus.publish(event)

    def action_token(self, stage: Stage, action: Action) -> str:
        return f"{self.token}/{stage.name}/{action.name}"

    def variables_of(self, action: Action) -> Variables:
        """What `#{…}` means in `action`: the run's variables, and its matrix values."""
        expansion = action.expansion
        if expansion is None or expansion.cell is None:
            return self.variables
        return self.variables.with_namespace("matrix", expansion.values)

    def base_env(self, stage: Stage, action: Action) -> dict[str, str]:
        if self._inherited is None:
            # Once per run: resolving every PATH entry for every action adds up.
            self._inherited = action_base(self.repo.root)
        env = dict(self._inherited)
        env.update(self.variables.namespace("variables"))
        env.update(
            {
                "PIPEDECK_PIPELINE": self.run.pipeline,
                "PIPEDECK_RUN": self.run.key,
                "PIPEDECK_RUN_NUMBER": str(self.run.number),
                "PIPEDECK_STAGE": stage.name,
                "PIPEDECK_ACTION": action.name,
                "PIPEDECK_COMMIT": self.commit.sha,
                "PIPEDECK_BRANCH": self.run.branch or "",
                "PIPEDECK_REPO_ROOT": str(self.repo.root),
                RUN_TOKEN_VAR: self.token,
                ACTION_TOKEN_VAR: self.action_token(stage, action),
            }
        )
        if action.kind is ActionKind.DEPLOY:
            # One deploy script can serve every environment it is pointed at.
            env["PIPEDECK_ENVIRONMENT"] = self.pipeline.environment_of(stage, action)
        if self.run.kind == "rollback":
            env["PIPEDECK_ROLLBACK"] = "1"
        env.update(copy_env(action))
        # `pipedeck shard` (and any pipedeck command) from inside an action reaches this
        # run's history, whichever virtualenv the action's own PATH leads to.
        env["PIPEDECK_STATE_DIR"] = str(self.store.state_dir)
        shim = command_shim(self.store.state_dir)
        env["PATH"] = os.pathsep.join(p for p in (str(shim), env.get("PATH")) if p)
        return env


@dataclass(frozen=True)
class ActionJob:
    """One action to run: its definition and its rows in the store."""

    stage: Stage
    action: Action
    stage_record: StageRecord
    record: ActionRecord
    halt: asyncio.Event | None = None
    """Stops this action alone: set when a sibling copy fails under `fail_fast`, and when
    the whole run is cancelled. None: only the run's cancel stops it."""
