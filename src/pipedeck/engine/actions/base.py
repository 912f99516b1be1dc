"""What an action returns, and the log helper every kind shares."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipedeck.engine.context import ActionJob, RunContext
from pipedeck.engine.events import LogLines
from pipedeck.store import Status
from pipedeck.store.logs import LogWriter
from pipedeck.visible import visible


@dataclass(frozen=True, slots=True)
class Outcome:
    status: Status
    exit_code: int | None = None
    error: str | None = None
    artifacts: tuple[str, ...] = ()


class ActionFailure(Exception):
    """A failure the action reports in its own words (bad output path, unknown variable…)."""


def log_path(ctx: RunContext, job: ActionJob) -> Path:
    return ctx.layout.log(job.stage.name, job.action.name, job.record.attempt)


def write_log(ctx: RunContext, job: ActionJob, text: str) -> None:
    """Append engine-written lines (`text` ends with a newline) to the action's log.

    They quote outside words (a commit subject, a decision's comment): their control
    characters are written as visible stand-ins, so the log replays none of them, on a
    terminal or through a pipe. The build's own output keeps its colours; these lines have
    none to keep."""
    text = visible(text, lines=True)
    try:
        writer = LogWriter(log_path(ctx, job))
    except OSError:
        writer = None  # a full disk: the line is lost, the event below still tells
    if writer is not None:
        try:
            writer.write(text.encode())
        except OSError:
            pass
        finally:
            writer.close()
    if ctx.bus.wants_logs:
        ctx.publish(
            LogLines(**ctx.event_fields(), stage=job.stage.name, action=job.action.name, text=text)
        )
