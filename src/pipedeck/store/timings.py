"""How long tests took before: what `pipedeck shard` balances the next run's shards by."""

from __future__ import annotations

import sqlite3

_COPIES = (
    " FROM actions a JOIN stages s ON s.id = a.stage_id JOIN runs r ON r.id = a.run_id"
    " WHERE r.pipeline = ? AND s.name = ? AND COALESCE(a.group_name, a.name) = ?"
    " AND a.run_id < ?"
)
"""The copies of one action (its shards, or itself) in earlier runs."""


class Timings:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def by_classname(
        self, pipeline: str, stage: str, group: str, before_run: int
    ) -> tuple[int | None, dict[str, float]]:
        """The seconds each test class (or module) took in the latest run before
        `before_run` whose copies of `group` left reports, and which run that was.

        Earlier runs only: a shard retried in its own run must get the very files it had,
        whatever its siblings have reported since."""
        args = (pipeline, stage, group, before_run)
        # Through the actions, whose cases are indexed by action: no scan of every case.
        row = self._conn.execute(
            "SELECT MAX(a.run_id)" + _COPIES + " AND EXISTS (SELECT 1 FROM test_cases t"
            " WHERE t.action_id = a.id AND t.attempt = a.attempt)",
            args,
        ).fetchone()
        latest = row[0] if row else None
        if latest is None:
            return None, {}
        rows = self._conn.execute(
            "SELECT t.classname, SUM(COALESCE(t.duration, 0)) FROM test_cases t"
            " JOIN (SELECT a.id, a.attempt" + _COPIES + " AND a.run_id = ?) c"
            " ON t.action_id = c.id AND t.attempt = c.attempt GROUP BY t.classname",
            (*args, latest),
        ).fetchall()
        return latest, {classname: float(total) for classname, total in rows}
