"""How statuses look: one icon and one colour each, shared by every widget."""

from __future__ import annotations

from pipedeck.store import Status

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

ICONS = {
    Status.QUEUED: "·",
    Status.RUNNING: "▶",
    Status.WAITING: "⏸",
    Status.SUCCEEDED: "✔",
    Status.FAILED: "✘",
    Status.CANCELLED: "■",
    Status.SKIPPED: "-",
    Status.TIMED_OUT: "⏱",
    Status.REJECTED: "✘",
    Status.INTERRUPTED: "!",
    Status.SUPERSEDED: "»",
}

COLOURS = {
    Status.QUEUED: "grey50",
    Status.RUNNING: "dodger_blue1",
    Status.WAITING: "bold yellow",
    Status.SUCCEEDED: "green",
    Status.FAILED: "red",
    Status.CANCELLED: "grey62",
    Status.SKIPPED: "grey42",
    Status.TIMED_OUT: "dark_orange",
    Status.REJECTED: "red",
    Status.INTERRUPTED: "magenta",
    Status.SUPERSEDED: "grey62",
}


def icon(status: Status, spinner_frame: int = 0) -> str:
    if status is Status.RUNNING:
        return SPINNER[spinner_frame % len(SPINNER)]
    return ICONS[status]
