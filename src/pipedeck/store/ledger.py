"""The ledger: every deploy to every environment, and the settings people change by hand.

An entry is written when a deploy starts and finished when it ends, so a deploy cut short
by a crash shows as such rather than vanishing. The release an environment runs now is its
newest successful entry, a rollback's included: the ledger, like the moving tag
`pipedeck/<env>`, follows what is deployed, not what was built last.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from pipedeck.store.db import now, transaction
from pipedeck.store.records import Deployment
from pipedeck.store.status import Status

_SELECT = (
    "SELECT d.*, r.number AS run_number FROM deployments d LEFT JOIN runs r ON r.id = d.run_id"
)


@dataclass(frozen=True, slots=True)
class EnvironmentSetting:
    """An environment's approval rule as switched by a person, over the pipeline file's."""

    environment: str
    approval: str
    set_by: str
    set_at: str


@dataclass(frozen=True, slots=True)
class DeployStart:
    run_id: int
    action_id: int
    pipeline: str
    stage: str
    action: str
    environment: str
    commit: str
    commit_subject: str
    artifacts: dict[str, str]
    approved_by: str | None
    rollback: bool


class Ledger:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def begin(self, start: DeployStart) -> int:
        cursor = self._conn.execute(
            "INSERT INTO deployments (run_id, action_id, environment, commit_sha, deployed_at,"
            " pipeline, stage, action, commit_subject, status, approved_by, artifacts,"
            " rollback) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                start.run_id,
                start.action_id,
                start.environment,
                start.commit,
                now(),
                start.pipeline,
                start.stage,
                start.action,
                start.commit_subject,
                Status.RUNNING,
                start.approved_by,
                json.dumps(start.artifacts, sort_keys=True),
                int(start.rollback),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish(self, deployment_id: int, status: Status) -> Deployment:
        """End the entry; a success takes the environment's next release number."""
        with transaction(self._conn) as c:
            sequence = None
            if status is Status.SUCCEEDED:
                sequence = c.execute(
                    "SELECT COALESCE(MAX(sequence), 0) + 1 FROM deployments WHERE environment ="
                    " (SELECT environment FROM deployments WHERE id = ?)",
                    (deployment_id,),
                ).fetchone()[0]
            c.execute(
                "UPDATE deployments SET status = ?, finished_at = ?, sequence = ? WHERE id = ?",
                (status, now(), sequence, deployment_id),
            )
        return self.get(deployment_id)

    def get(self, deployment_id: int) -> Deployment:
        row = self._conn.execute(f"{_SELECT} WHERE d.id = ?", (deployment_id,)).fetchone()
        return Deployment.from_row(row)

    def current(self, environment: str) -> Deployment | None:
        """What `environment` runs now: its newest successful deploy."""
        row = self._conn.execute(
            f"{_SELECT} WHERE d.environment = ? AND d.status = 'succeeded'"
            " ORDER BY d.sequence DESC LIMIT 1",
            (environment,),
        ).fetchone()
        return Deployment.from_row(row) if row else None

    def history(self, environment: str | None = None, limit: int = 200) -> list[Deployment]:
        """Newest first; every environment's when `environment` is None."""
        rows = self._conn.execute(
            f"{_SELECT} WHERE ? IS NULL OR d.environment = ? ORDER BY d.id DESC LIMIT ?",
            (environment, environment, limit),
        )
        return [Deployment.from_row(r) for r in rows]

    def releases(self, environment: str, limit: int) -> list[Deployment]:
        """The newest `limit` successful deploys of `environment`, newest first."""
        rows = self._conn.execute(
            f"{_SELECT} WHERE d.environment = ? AND d.status = 'succeeded'"
            " ORDER BY d.sequence DESC LIMIT ?",
            (environment, limit),
        )
        return [Deployment.from_row(r) for r in rows]

    def environments(self) -> list[str]:
        """Every environment deployed to (or tried), by name."""
        rows = self._conn.execute("SELECT DISTINCT environment FROM deployments ORDER BY 1")
        return [name for (name,) in rows]

    def on_the_way(self, environment: str) -> list[int]:
        """Ids of active runs with a deploy to `environment` still to come or under way."""
        rows = self._conn.execute(
            "SELECT DISTINCT a.run_id FROM actions a JOIN runs r ON r.id = a.run_id"
            " WHERE a.environment = ? AND a.status IN ('queued','running','waiting')"
            " AND r.status IN ('queued','running','waiting') ORDER BY a.run_id",
            (environment,),
        )
        return [run_id for (run_id,) in rows]

    # --- settings switched by a person ------------------------------------------------------

    def set_approval(self, environment: str, approval: str, by: str) -> EnvironmentSetting:
        self._conn.execute(
            "INSERT OR REPLACE INTO environment_settings (environment, approval, set_by, set_at)"
            " VALUES (?,?,?,?)",
            (environment, approval, by, now()),
        )
        found = self.setting(environment)
        assert found is not None
        return found

    def setting(self, environment: str) -> EnvironmentSetting | None:
        row = self._conn.execute(
            "SELECT * FROM environment_settings WHERE environment = ?", (environment,)
        ).fetchone()
        return EnvironmentSetting(**dict(row)) if row else None

    def settings(self) -> dict[str, EnvironmentSetting]:
        rows = self._conn.execute("SELECT * FROM environment_settings")
        return {row["environment"]: EnvironmentSetting(**dict(row)) for row in rows}
