"""Requests to the engine and stage transitions: rows any process writes, the engine obeys.

Only one engine runs pipelines for a repository. Every other process — a second console,
`pipedeck run` while a watcher runs, `pipedeck retry` — asks it for a run by inserting a row
in `requests`; the engine takes each row once (a conditional UPDATE), carries it out and
writes back the run it started or why it could not. Transitions are per pipeline and stage:
a disabled one holds every run before that stage until someone enables it again.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from pipedeck.store.db import now


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    kind: str
    """`start` (pipeline, rev, variables), `retry` (run_id, all_actions) or `rollback`
    (pipeline, stage, run_id: the target)."""
    pipeline: str | None
    rev: str | None
    branch: str | None
    variables: dict[str, str]
    run_id: int | None
    all_actions: bool
    requested_by: str
    created_at: str
    taken_at: str | None
    result_run_id: int | None
    error: str | None
    definition_sha: str | None = None
    """The pipeline file the client chose (kept in the store's pipeline sources)."""
    definition_path: str | None = None
    stage: str | None = None
    """A rollback's stage (`run_id` is its target)."""

    @property
    def done(self) -> bool:
        return self.result_run_id is not None or self.error is not None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Request:
        values: dict[str, Any] = {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row
        values["variables"] = json.loads(values["variables"])
        values["all_actions"] = bool(values["all_actions"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Transition:
    """A disabled transition into `stage` of `pipeline`."""

    pipeline: str
    stage: str
    disabled_by: str
    reason: str
    disabled_at: str


class Requests:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def add_start(
        self,
        pipeline: str,
        rev: str,
        variables: dict[str, str],
        by: str,
        branch: str | None = None,
        definition: tuple[str, str] | None = None,
    ) -> Request:
        """`rev` is resolved by the client (a SHA), so the engine runs what the client saw,
        even from another worktree; `branch` is the branch that commit is of, if any;
        `definition` (sha256 of a kept source, its path) the pipeline file to run."""
        sha, path = definition or (None, None)
        return self._add(
            "start",
            by,
            pipeline=pipeline,
            rev=rev,
            branch=branch,
            variables=json.dumps(variables),
            definition_sha=sha,
            definition_path=path,
        )

    def add_retry(self, run_id: int, all_actions: bool, by: str) -> Request:
        return self._add("retry", by, run_id=run_id, all_actions=int(all_actions))

    def add_rollback(self, pipeline: str, stage: str, target_id: int | None, by: str) -> Request:
        return self._add("rollback", by, pipeline=pipeline, stage=stage, run_id=target_id)

    def _add(self, kind: str, by: str, **columns: object) -> Request:
        names = ["kind", "requested_by", "created_at", *columns]
        values = [kind, by, now(), *columns.values()]
        cursor = self._conn.execute(
            f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            values,
        )
        assert cursor.lastrowid is not None
        return self.get(cursor.lastrowid)

    def get(self, request_id: int) -> Request:
        row = self._conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
        return Request.from_row(row)

    def take_next(self) -> Request | None:
        """Claim the oldest request not yet taken; one at a time, so a taker that stops
        leaves the others untouched for the next one."""
        while True:
            row = self._conn.execute(
                "SELECT id FROM requests WHERE taken_at IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            claimed = self._conn.execute(
                "UPDATE requests SET taken_at = ? WHERE id = ? AND taken_at IS NULL",
                (now(), row[0]),
            ).rowcount
            if claimed:
                return self.get(row[0])

    def finish(
        self, request_id: int, *, run_id: int | None = None, error: str | None = None
    ) -> None:
        self._conn.execute(
            "UPDATE requests SET result_run_id = ?, error = ? WHERE id = ?",
            (run_id, error, request_id),
        )

    def withdraw(self, request_id: int) -> bool:
        """Take back a request no engine took; False if one took it meanwhile."""
        return bool(
            self._conn.execute(
                "UPDATE requests SET taken_at = ?, error = 'withdrawn' WHERE id = ?"
                " AND taken_at IS NULL",
                (now(), request_id),
            ).rowcount
        )

    def abandon_untaken(self, reason: str, made_before: str) -> int:
        """Answer requests made before `made_before` that nobody took: their clients gave up
        (or died) long ago, and carrying them out now would surprise everyone."""
        return self._conn.execute(
            "UPDATE requests SET taken_at = ?, error = ? WHERE taken_at IS NULL AND created_at < ?",
            (now(), reason, made_before),
        ).rowcount


class Transitions:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def disable(self, pipeline: str, stage: str, reason: str, by: str) -> Transition:
        self._conn.execute(
            "INSERT OR REPLACE INTO transitions (pipeline, stage, disabled_by, reason,"
            " disabled_at) VALUES (?,?,?,?,?)",
            (pipeline, stage, by, reason, now()),
        )
        found = self.disabled(pipeline, stage)
        assert found is not None
        return found

    def enable(self, pipeline: str, stage: str) -> bool:
        """Enable it again; False if it was not disabled."""
        return bool(
            self._conn.execute(
                "DELETE FROM transitions WHERE pipeline = ? AND stage = ?", (pipeline, stage)
            ).rowcount
        )

    def disabled(self, pipeline: str, stage: str) -> Transition | None:
        row = self._conn.execute(
            "SELECT * FROM transitions WHERE pipeline = ? AND stage = ?", (pipeline, stage)
        ).fetchone()
        return Transition(**dict(row)) if row else None

    def of_pipeline(self, pipeline: str) -> dict[str, Transition]:
        return {t.stage: t for t in self.listed(pipeline)}

    def listed(self, pipeline: str | None = None) -> list[Transition]:
        rows = self._conn.execute(
            "SELECT * FROM transitions WHERE ? IS NULL OR pipeline = ? ORDER BY pipeline, stage",
            (pipeline, pipeline),
        )
        return [Transition(**dict(row)) for row in rows]
