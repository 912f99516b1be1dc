"""Statuses of runs, stages and actions — one vocabulary for every layer, and how each looks.

The icon, colour and words of a status live here, next to the enum, so the command line and
the console cannot drift apart or forget one (a status missing from `LOOKS` fails at import).
Colours are names both Rich and Textual understand; nothing here imports either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    REJECTED = "rejected"
    INTERRUPTED = "interrupted"
    SUPERSEDED = "superseded"
    """A newer run took its place while it waited at a stage boundary."""

    @property
    def active(self) -> bool:
        """Still owned by an engine: not yet a final answer."""
        return self in ACTIVE

    @property
    def ok(self) -> bool:
        return self is Status.SUCCEEDED

    @property
    def look(self) -> Look:
        return LOOKS[self]


ACTIVE = frozenset({Status.QUEUED, Status.RUNNING, Status.WAITING})


@dataclass(frozen=True, slots=True)
class Look:
    icon: str
    """One cell wide, so columns of them line up."""
    colour: str
    words: str
    """How a person reads it; `Status.value` stays the machine's word (`--json`)."""


_TOGETHER = (
    Status.RUNNING,
    Status.WAITING,
    Status.FAILED,
    Status.TIMED_OUT,
    Status.REJECTED,
    Status.CANCELLED,
    Status.INTERRUPTED,
    Status.QUEUED,
    Status.SUPERSEDED,
    Status.SUCCEEDED,
    Status.SKIPPED,
)


def together(statuses: list[Status]) -> Status:
    """What copies of one action (shards, matrix combinations) say as one: one still
    running keeps them running, then any failure shows, and only all succeeded succeed."""
    return next((s for s in _TOGETHER if s in statuses), statuses[0])


LOOKS: dict[Status, Look] = {
    Status.QUEUED: Look("·", "grey50", "queued"),
    Status.RUNNING: Look("▶", "dodger_blue1", "running"),
    Status.WAITING: Look("⏸", "bold yellow", "waiting"),
    Status.SUCCEEDED: Look("✔", "green", "succeeded"),
    Status.FAILED: Look("✘", "red", "failed"),
    Status.CANCELLED: Look("■", "grey62", "cancelled"),
    Status.SKIPPED: Look("-", "grey42", "skipped"),
    Status.TIMED_OUT: Look("⏱", "dark_orange", "timed out"),
    Status.REJECTED: Look("✘", "red", "rejected"),
    Status.INTERRUPTED: Look("!", "magenta", "interrupted"),
    Status.SUPERSEDED: Look("»", "grey62", "superseded"),
}

if set(LOOKS) != set(Status):  # pragma: no cover - a new status must say how it looks
    raise AssertionError(f"statuses without a look: {set(Status) - set(LOOKS)}")
