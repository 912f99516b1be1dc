"""What the engine tells its listeners, as plain frozen values.

The engine publishes these on its `EventBus` and knows nothing of who listens: the CLI prints
them, `--json` writes them as JSON Lines, the console turns them into Textual messages. Log
output travels as `LogLines` batches (whole lines, one chunk of the pipe at a time), never one
event per line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict


class RunRef(TypedDict):
    """The fields every event carries to say which run it is about."""

    run_id: int
    pipeline: str
    number: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, **asdict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent(Event):
    """Something that happened to one run."""

    run_id: int
    pipeline: str
    number: int

    @property
    def run(self) -> str:
        return f"{self.pipeline}/{self.number}"

    def to_dict(self) -> dict[str, Any]:
        return {"event": type(self).__name__, "run": self.run, **asdict(self)}


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(RunEvent):
    commit: str
    branch: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(RunEvent):
    status: str
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StageStarted(RunEvent):
    stage: str


@dataclass(frozen=True, slots=True, kw_only=True)
class StageFinished(RunEvent):
    stage: str
    status: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionStarted(RunEvent):
    stage: str
    action: str
    kind: str
    log_path: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionFinished(RunEvent):
    stage: str
    action: str
    status: str
    exit_code: int | None = None
    error: str | None = None
    artifacts: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class LogLines(RunEvent):
    """A batch of complete lines from one action, newline-terminated, as one string.

    One string rather than a tuple of lines: splitting a million lines costs more than
    writing them, and most listeners either print the batch or keep its tail.
    """

    stage: str
    action: str
    text: str

    def lines(self) -> list[str]:
        return self.text.splitlines()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequested(RunEvent):
    stage: str
    action: str
    message: str
    expires_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalDecided(RunEvent):
    stage: str
    action: str
    result: str
    by: str | None
    comment: str | None


# --- the watcher: not about one run -------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunsPruned(Event):
    """Retention removed old runs' files after a run of `pipeline` ended."""

    pipeline: str
    runs: list[str]
    freed: int
    """Bytes."""
    failed: list[str] = field(default_factory=list)
    """`pipeline/n: why` for each run whose files could not all be removed (tried again
    next time)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchStarted(Event):
    repo: str
    mode: str
    """`events` (file notifications) or `polling`."""
    reason: str | None = None
    """Why it polls, when it does."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TriggerSkipped(Event):
    """A commit would have started a run, but the pipeline file is not trusted (or broken)."""

    pipeline: str
    ref: str
    commit: str
    reason: str
