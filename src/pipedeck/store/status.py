"""Statuses of runs, stages and actions — one vocabulary for every layer."""

from __future__ import annotations

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


ACTIVE = frozenset({Status.QUEUED, Status.RUNNING, Status.WAITING})
