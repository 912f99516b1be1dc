"""Being a client: hand a request to the engine that owns the repository, then follow it.

Only one process runs pipelines for a repository. When another holds the lock (a console,
`pipedeck watch`), `pipedeck run` and `pipedeck retry` leave a request in the store, wait
for that engine to take it, and follow the run from the store and the log files, printing
what they would have printed had they run it themselves.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Callable

from pipedeck import engine
from pipedeck.cli.context import fail, left_waiting, say
from pipedeck.cli.printer import HumanPrinter, JsonPrinter
from pipedeck.engine import (
    REQUEST_PATIENCE,
    Project,
    RepoLock,
    RequestError,
    RunFollower,
    lock_holder,
)
from pipedeck.store import RunRecord, Status
from pipedeck.store.control import Request
from pipedeck.store.db import now

TAKE_TIMEOUT = REQUEST_PATIENCE
"""How long to wait for the engine to take a request before giving up on it."""


def wait_taken(project: Project, request: Request, holder: str) -> RunRecord | None:
    """The run the engine started for `request`; exits with its reason if it refused.

    None when the engine went away before taking it (a `pipedeck run` that just ended): the
    request is withdrawn and the caller may become the engine itself.
    """
    store = project.store
    deadline = time.monotonic() + TAKE_TIMEOUT
    while True:
        current = store.requests.get(request.id)
        if current.error is not None:
            fail(current.error)
        if current.result_run_id is not None:
            return store.run_by_id(current.result_run_id)
        engine_gone = lock_holder(project.state_dir) is None
        if current.taken_at is None:
            if engine_gone and store.requests.withdraw(request.id):
                return None
            if time.monotonic() > deadline and store.requests.withdraw(request.id):
                fail(f"the engine ({holder}) did not take the request within {TAKE_TIMEOUT:g}s")
        elif engine_gone and not store.requests.get(request.id).done:
            fail(f"the engine ({holder}) stopped before answering; see `pipedeck runs`")
        time.sleep(0.05)


def follow(project: Project, run: RunRecord, since: str, as_json: bool) -> RunRecord:
    """Print the run as it goes; the first Ctrl-C asks the engine to cancel it."""
    printer = JsonPrinter() if as_json else HumanPrinter()
    follower = RunFollower(project.store, run, printer, since)
    follower.on_left = lambda left: say(
        f"pipedeck: the engine stopped; {left_waiting(project.store, left)}", err=True
    )

    async def _follow() -> RunRecord:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _cancel, project, run)
        return await follower.follow()

    return asyncio.run(_follow())


def _cancel(project: Project, run: RunRecord) -> None:
    current = project.store.run_by_id(run.id)
    if not current.status.active:
        return
    if current.cancel_requested:
        print("\npipedeck: leaving; the engine goes on stopping the run", file=sys.stderr)
        sys.exit(130)
    print("\npipedeck: asking the engine to cancel… (again to stop following)", file=sys.stderr)
    try:
        engine.cancel(project.store, current)
    except RequestError as exc:
        print(f"pipedeck: {exc}", file=sys.stderr)


def engine_or_hand_over(
    project: Project, role: str, submit: Callable[[], Request], as_json: bool
) -> RepoLock:
    """Take the repository's lock and return it (the caller is the engine), or hand the
    request `submit` makes to the engine that holds it, follow the run, and exit with it."""
    while (lock := RepoLock.acquire(project.state_dir, role)) is None:
        since = now()
        request = submit()
        holder = lock_holder(project.state_dir) or "another process"
        started = wait_taken(project, request, holder)
        if started is not None:
            result = follow(project, started, since, as_json)
            sys.exit(0 if result.status is Status.SUCCEEDED else 1)
        # The engine went away before taking it: try to be the engine ourselves.
    return lock
