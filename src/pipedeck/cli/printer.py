"""Turning engine events into terminal output: prefixed log lines, or JSON Lines.

Log lines go to stdout as `stage/action | line`, so a pipe gets the build output; what
happens to the run (an action starting, ending, an approval waiting) goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import TextIO

from pipedeck.engine import (
    ActionFinished,
    ActionStarted,
    ApprovalDecided,
    ApprovalRequested,
    Event,
    LogLines,
    RunFinished,
    RunsPruned,
    RunStarted,
    TriggerSkipped,
    WatchStarted,
    human_size,
)
from pipedeck.store import Status
from pipedeck.terminal import prefix_lines, shown_for
from pipedeck.visible import visible


class _Printer:
    """Stops printing quietly when the reader goes away (`pipedeck run … | head`); the run
    itself goes on, and its full log is on disk."""

    closed = False

    def __call__(self, event: Event) -> None:
        if self.closed:
            return
        try:
            self.print(event)
        except BrokenPipeError:
            self.closed = True
            # Point stdout at /dev/null so the interpreter's final flush does not complain.
            with contextlib.suppress(OSError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                os.close(devnull)

    def print(self, event: Event) -> None:
        raise NotImplementedError


class HumanPrinter(_Printer):
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.shown = shown_for(self.out)

    def print(self, event: Event) -> None:
        if isinstance(event, LogLines):
            text = self.shown(event.text)
            self.out.write(prefix_lines(f"{event.stage}/{event.action} | ", text))
            return
        line = self._describe(event)
        if line:
            self.out.flush()
            # Names, messages and errors quote the repository: shown, never obeyed. (Log
            # lines above are the build's own output: on a terminal, its colours only.)
            self.err.write(visible(line, lines=True) + "\n")
            self.err.flush()

    def _describe(self, event: Event) -> str | None:
        match event:
            case RunStarted():
                branch = f" on {event.branch}" if event.branch else ""
                return f"==> {event.run} started for {event.commit[:7]}{branch}"
            case ActionStarted():
                return f"--> {event.stage}/{event.action} ({event.kind})"
            case ActionFinished():
                why = f": {event.error}" if event.error else ""
                return f"<-- {event.stage}/{event.action} {_words(event.status)}{why}"
            case ApprovalRequested():
                return (
                    f"??? {event.stage}/{event.action} waits for approval: {event.message}\n"
                    f"    approve: pipedeck approve {event.run} [--comment TEXT]\n"
                    f"    reject:  pipedeck reject {event.run} --comment TEXT"
                )
            case ApprovalDecided():
                said = f": {event.comment}" if event.comment else ""
                return f"!!! {event.stage}/{event.action} {event.result} by {event.by}{said}"
            case RunFinished():
                why = f" ({event.error})" if event.error else ""
                return f"==> {event.run} {_words(event.status)}{why}"
            case WatchStarted(mode="events"):
                return f"watching {event.repo} for commits (Ctrl-C stops)"
            case WatchStarted():
                return f"watching {event.repo} by polling: {event.reason} (Ctrl-C stops)"
            case TriggerSkipped():
                return (
                    f"not run: {event.pipeline} for {event.ref} {event.commit[:7]}: {event.reason}"
                )
            case RunsPruned():
                notes: list[str] = []
                if event.runs:
                    count = len(event.runs)
                    notes.append(
                        f"retention: {count} old run{'s' * (count != 1)} of {event.pipeline}"
                        f" pruned, {human_size(event.freed)} freed"
                    )
                notes += [f"retention could not remove all of {why}" for why in event.failed]
                return "\n".join(notes) or None
        return None


def _words(status: str) -> str:
    return Status(status).look.words


class JsonPrinter(_Printer):
    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout

    def print(self, event: Event) -> None:
        self.out.write(json.dumps(event.to_dict()) + "\n")
        if not isinstance(event, LogLines):
            self.out.flush()
