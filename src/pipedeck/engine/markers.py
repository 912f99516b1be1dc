"""The names pipedeck marks every action's environment with.

Kept apart from the run context so that the processes that only read the store (recovery, the
provenance check of a decision) can find a run's processes without loading the engine.
"""

from __future__ import annotations

RUN_TOKEN_VAR = "PIPEDECK_RUN_TOKEN"
"""Set in every action's environment; recovery finds a dead run's processes by it, even ones
that left the process group (`setsid`)."""
ACTION_TOKEN_VAR = "PIPEDECK_ACTION_TOKEN"
"""Set in one action's environment: what the action leaves alive when it ends is found by it."""
