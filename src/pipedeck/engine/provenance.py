"""Who decides a gate, and from where: a person's OS account, never a run of the repository.

The approver is the account the deciding process runs as (`pwd.getpwuid(os.getuid())`):
`$LOGNAME` and `$USER` are whatever the caller's environment says, so they name nobody.

An action must not approve its own gate — nor any gate of its repository — through
`pipedeck approve` or the request functions. A decision is refused when the deciding process
or any of its ancestors carries the run marker of this state directory in its environment
(an action that cleared its environment still has a parent that carries it), or when it or
an ancestor is in the session or process group of an action running now (every action starts
its own session, so even a marker overwritten by the pipeline's `env:` is caught). Markers of
other repositories' runs do not count: a pipeline whose tests drive pipedeck on a scratch
repository decides that repository's gates, not its own.

This guards against accidents and a pipeline deciding its own gate through pipedeck; actions
run as the user, with the user's rights, and pipedeck is not a sandbox.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from pipedeck.engine import procfs
from pipedeck.engine.markers import RUN_TOKEN_VAR

MAX_ANCESTORS = 64


def current_user() -> str:
    """The OS account of this process."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # an account without a passwd entry (some containers)
        return f"uid {os.getuid()}"


def decided_from_a_run(state_dir: Path, action_sessions: set[int]) -> str | None:
    """Why this process may not decide a gate of the runs in `state_dir`, or None.

    `action_sessions`: the process groups (and sessions) of the actions running now.
    """
    marker = f"{RUN_TOKEN_VAR}={state_dir.resolve()}#".encode()
    own = os.environ.get(RUN_TOKEN_VAR, "")
    if own.startswith(f"{state_dir.resolve()}#"):
        return f"this process runs inside a pipedeck run ({RUN_TOKEN_VAR} is set)"
    if not procfs.AVAILABLE:
        return None
    pid, seen = os.getpid(), 0
    while pid > 1 and seen < MAX_ANCESTORS:
        seen += 1
        info = procfs.ancestry(pid)
        if info is None:
            return None
        parent, group, session = info
        if action_sessions & {pid, group, session}:
            return f"process {pid} belongs to an action that is running now"
        if pid != os.getpid() and any(
            entry.startswith(marker) for entry in procfs.environment(pid).split(b"\0")
        ):
            return f"process {pid}, an ancestor of this one, runs inside a pipedeck run"
        pid = parent
    return None
