"""How statuses look in the console: the shared vocabulary (`Status.look`), plus a spinner."""

from __future__ import annotations

from pipedeck.store import Status

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def icon(status: Status, spinner_frame: int = 0) -> str:
    if status is Status.RUNNING:
        return SPINNER[spinner_frame % len(SPINNER)]
    return status.look.icon
