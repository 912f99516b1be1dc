"""Preparing a finished run for a retry: archive the attempts being replaced, reset the rest.

A retry keeps the run's number. The failed stage's failed actions (or all of its actions)
and every later stage go back to `queued`; each action that had started keeps its earlier
attempt in `action_attempts`, log path included, so no log is ever overwritten.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pipedeck.store.db import transaction
from pipedeck.store.status import Status

# A retry needs a run that ended without succeeding, and was not replaced by a newer one.
RETRYABLE = frozenset(
    {Status.FAILED, Status.CANCELLED, Status.TIMED_OUT, Status.INTERRUPTED, Status.REJECTED}
)


class RetryError(Exception):
    """The run cannot be retried, phrased for the user."""


@dataclass(frozen=True, slots=True)
class RetryPlan:
    stage: str
    stage_position: int
    actions: list[str]
    """Names of the failed stage's actions that run again."""
    stale_artifacts: list[Path]
    """Artifacts of those actions from the earlier attempt, to remove before re-running."""


def reset_for_retry(
    conn: sqlite3.Connection, run_id: int, all_actions: bool, engine_id: str | None
) -> RetryPlan:
    with transaction(conn) as c:
        run = c.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        key = f"{run['pipeline']}/{run['number']}"
        if Status(run["status"]) not in RETRYABLE:
            raise RetryError(f"{key} is {run['status']}; only a run that failed can be retried")
        stages = c.execute(
            "SELECT * FROM stages WHERE run_id = ? ORDER BY position", (run_id,)
        ).fetchall()
        failed = next((s for s in stages if Status(s["status"]) is not Status.SUCCEEDED), None)
        if failed is None:
            raise RetryError(f"{key} has no failed stage to retry")
        plan_actions: list[str] = []
        stale: list[Path] = []
        for stage in stages[failed["position"] :]:
            actions = c.execute(
                "SELECT * FROM actions WHERE stage_id = ? ORDER BY position", (stage["id"],)
            ).fetchall()
            for action in actions:
                again = (
                    stage["id"] != failed["id"]
                    or all_actions
                    or Status(action["status"]) is not Status.SUCCEEDED
                )
                if not again:
                    continue
                if stage["id"] == failed["id"]:
                    plan_actions.append(action["name"])
                stale += _reset_action(c, action)
            c.execute(
                "UPDATE stages SET status = ?, started_at = NULL, finished_at = NULL WHERE id = ?",
                (Status.QUEUED, stage["id"]),
            )
        c.execute(
            "UPDATE runs SET status = ?, finished_at = NULL, error = NULL, waiting_for = NULL,"
            " cancel_requested = 0, cancel_mode = 'now', engine_id = ? WHERE id = ?",
            (Status.QUEUED, engine_id, run_id),
        )
    return RetryPlan(failed["name"], failed["position"], plan_actions, stale)


def reset_stage(conn: sqlite3.Connection, stage_id: int, all_actions: bool) -> list[Path]:
    """Make a stage that just failed, inside a run still in progress, ready to run again
    (`on_failure: {retry: …}`): its failed actions (or all of them) go back to `queued`,
    each earlier attempt kept. Returns the artifacts of those attempts, to remove."""
    stale: list[Path] = []
    with transaction(conn) as c:
        actions = c.execute(
            "SELECT * FROM actions WHERE stage_id = ? ORDER BY position", (stage_id,)
        ).fetchall()
        for action in actions:
            status = Status(action["status"])
            if all_actions or status not in (Status.SUCCEEDED, Status.SKIPPED):
                stale += _reset_action(c, action)
            elif status is Status.SKIPPED:  # skipped for the failure: it gets its turn now
                c.execute(
                    "UPDATE actions SET status = ? WHERE id = ?", (Status.QUEUED, action["id"])
                )
        c.execute(
            "UPDATE stages SET status = ?, finished_at = NULL WHERE id = ?",
            (Status.RUNNING, stage_id),
        )
    return stale


def _reset_action(c: sqlite3.Connection, action: sqlite3.Row) -> list[Path]:
    if action["started_at"] is not None or action["log_path"] is not None:
        c.execute(
            "INSERT INTO action_attempts (action_id, attempt, status, started_at, finished_at,"
            " exit_code, log_path, error) VALUES (?,?,?,?,?,?,?,?)",
            (
                action["id"],
                action["attempt"],
                action["status"],
                action["started_at"],
                action["finished_at"],
                action["exit_code"],
                action["log_path"],
                action["error"],
            ),
        )
        attempt = action["attempt"] + 1
    else:
        attempt = action["attempt"]
    stale = [
        Path(row["path"])
        for row in c.execute("SELECT path FROM artifacts WHERE action_id = ?", (action["id"],))
    ]
    c.execute("DELETE FROM artifacts WHERE action_id = ?", (action["id"],))
    c.execute("DELETE FROM approvals WHERE action_id = ?", (action["id"],))
    c.execute(
        "UPDATE actions SET status = ?, attempt = ?, started_at = NULL, finished_at = NULL,"
        " exit_code = NULL, pid = NULL, log_path = NULL, error = NULL, output_variables = '{}'"
        " WHERE id = ?",
        (Status.QUEUED, attempt, action["id"]),
    )
    return stale
