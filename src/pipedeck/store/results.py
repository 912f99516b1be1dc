"""Test results: the cases read from actions' JUnit reports, and what was wrong with reports.

Kept per action and attempt, so a retry's results stand beside the first attempt's.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from pipedeck.store.db import transaction


@dataclass(frozen=True, slots=True)
class CaseResult:
    stage: str
    action: str
    attempt: int
    report: str
    suite: str
    classname: str
    name: str
    duration: float | None
    outcome: str
    message: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "attempt": self.attempt,
            "report": self.report,
            "suite": self.suite,
            "classname": self.classname,
            "name": self.name,
            "duration": self.duration,
            "outcome": self.outcome,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class ReportProblem:
    stage: str
    action: str
    attempt: int
    report: str
    problem: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "attempt": self.attempt,
            "report": self.report,
            "problem": self.problem,
        }


_JOIN = " JOIN actions a ON a.id = t.action_id JOIN stages s ON s.id = a.stage_id"


class Results:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def record(
        self,
        run_id: int,
        action_id: int,
        attempt: int,
        cases: list[tuple[str, str, str, str, float | None, str, str | None]],
        problems: list[tuple[str, str]],
    ) -> None:
        """An attempt's results: cases as (report, suite, classname, name, duration,
        outcome, message), problems as (report, problem); replaces that attempt's."""
        with transaction(self._conn) as c:
            for table in ("test_cases", "report_problems"):
                c.execute(
                    f"DELETE FROM {table} WHERE action_id = ? AND attempt = ?",
                    (action_id, attempt),
                )
            c.executemany(
                "INSERT INTO test_cases (run_id, action_id, attempt, report, suite, classname,"
                " name, duration, outcome, message) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [(run_id, action_id, attempt, *case) for case in cases],
            )
            c.executemany(
                "INSERT INTO report_problems (run_id, action_id, attempt, report, problem)"
                " VALUES (?,?,?,?,?)",
                [(run_id, action_id, attempt, *problem) for problem in problems],
            )

    def cases(self, run_id: int) -> list[CaseResult]:
        """Every case of each action's current attempt, in stage, action and report order."""
        rows = self._conn.execute(
            "SELECT t.*, s.name AS stage, a.name AS action FROM test_cases t" + _JOIN
            + " WHERE t.run_id = ? AND t.attempt = a.attempt"
            " ORDER BY s.position, a.position, t.id",
            (run_id,),
        ).fetchall()  # fmt: skip
        return [
            CaseResult(
                stage=r["stage"],
                action=r["action"],
                attempt=r["attempt"],
                report=r["report"],
                suite=r["suite"],
                classname=r["classname"],
                name=r["name"],
                duration=r["duration"],
                outcome=r["outcome"],
                message=r["message"],
            )
            for r in rows
        ]

    def problems(self, run_id: int) -> list[ReportProblem]:
        rows = self._conn.execute(
            "SELECT t.*, s.name AS stage, a.name AS action FROM report_problems t" + _JOIN
            + " WHERE t.run_id = ? AND t.attempt = a.attempt"
            " ORDER BY s.position, a.position, t.id",
            (run_id,),
        ).fetchall()  # fmt: skip
        return [
            ReportProblem(r["stage"], r["action"], r["attempt"], r["report"], r["problem"])
            for r in rows
        ]
