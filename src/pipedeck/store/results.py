"""Test results: the cases read from actions' JUnit reports, and what was wrong with reports.

Kept per action and attempt, so a retry's results stand beside the first attempt's. A test
is one (stage, group, classname, name): the shards of `unit` are one action, so a test is
the same test whichever shard ran it.

A test is flaky when its outcome changed with nothing that should change it:

- in one run, an action's attempt failed it (or errored) and a later attempt of the same
  action (the same shard or matrix combination) passed it;
- or, over the last `HISTORY` runs of the pipeline on the run's branch that have results
  from the stage and group (up to and including the run), it failed in some and passed in
  others in a way no commit explains: on the same commit, or back and forth three times or
  more. A commit that broke it and one that fixed it are a failure and a fix, not
  flakiness. A run's outcome for a test is its action's final attempt: failed if any copy
  failed it, passed if the copies that ran it passed it. So a test that always fails on one
  matrix combination and passes on another is failing, not flaky. A run on no branch
  (detached) has no such history.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from pipedeck.store.db import transaction

HISTORY = 20
"""Runs of a pipeline on one branch looked at for a test's flakiness."""

FAILING = ("failed", "error")

TestKey = tuple[str, str, str, str]
"""(stage, group, classname, name): one test, whichever copy of its action ran it."""


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
    group: str = ""
    """The action as written in the file (`unit` for the shard `unit.2`)."""
    label: str | None = None
    """How the copy is shown (`unit 2/3`); None for an action that is not a copy."""
    flaky: bool = False
    """It failed and passed with nothing changed that should change it (the module's doc)."""

    @property
    def key(self) -> TestKey:
        return (self.stage, self.group or self.action, self.classname, self.name)

    @property
    def failing(self) -> bool:
        return self.outcome in FAILING

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "group": self.group or self.action,
            "label": self.label,
            "attempt": self.attempt,
            "report": self.report,
            "suite": self.suite,
            "classname": self.classname,
            "name": self.name,
            "duration": self.duration,
            "outcome": self.outcome,
            "message": self.message,
            "flaky": self.flaky,
        }


@dataclass(frozen=True, slots=True)
class ReportProblem:
    stage: str
    action: str
    attempt: int
    report: str
    problem: str
    group: str = ""
    """The action as written in the file (`unit` for the shard `unit.2`)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "action": self.action,
            "group": self.group or self.action,
            "attempt": self.attempt,
            "report": self.report,
            "problem": self.problem,
        }


_JOIN = " JOIN actions a ON a.id = t.action_id JOIN stages s ON s.id = a.stage_id"

_RETRIED = """
SELECT s.name, COALESCE(a.group_name, a.name), t.classname, t.name
FROM actions a JOIN stages s ON s.id = a.stage_id JOIN test_cases t ON t.action_id = a.id
WHERE a.run_id = :run AND a.attempt > 1
GROUP BY a.id, t.classname, t.name
HAVING MAX(CASE WHEN t.outcome = 'passed' THEN t.attempt END)
     > MIN(CASE WHEN t.outcome IN ('failed', 'error') THEN t.attempt END)
"""
"""Tests an attempt of an action failed and a later attempt of that same action passed."""

_FLIPPED = """
WITH me AS (SELECT pipeline, branch, number FROM runs WHERE id = :run),
mine AS (
    SELECT DISTINCT s.name AS stage, COALESCE(a.group_name, a.name) AS grp
    FROM actions a JOIN stages s ON s.id = a.stage_id
    WHERE a.run_id = :run
      AND EXISTS (SELECT 1 FROM test_cases t WHERE t.action_id = a.id AND t.attempt = a.attempt)
),
recent AS (
    SELECT m.stage, m.grp, r.id AS run_id FROM mine m JOIN runs r ON r.id IN (
        SELECT o.id FROM runs o, me
        WHERE o.pipeline = me.pipeline AND o.branch = me.branch AND o.number <= me.number
          AND EXISTS (
              SELECT 1 FROM actions a JOIN stages s ON s.id = a.stage_id
              WHERE a.run_id = o.id AND s.name = m.stage
                AND COALESCE(a.group_name, a.name) = m.grp
                AND EXISTS (SELECT 1 FROM test_cases t
                            WHERE t.action_id = a.id AND t.attempt = a.attempt))
        ORDER BY o.number DESC LIMIT :history)
),
outcomes AS (
    SELECT w.stage, w.grp, t.classname, t.name, w.run_id,
           MAX(t.outcome IN ('failed', 'error')) AS failed,
           MAX(t.outcome = 'passed') AS passed
    FROM recent w
    JOIN actions a ON a.run_id = w.run_id AND COALESCE(a.group_name, a.name) = w.grp
    JOIN stages s ON s.id = a.stage_id AND s.name = w.stage
    JOIN test_cases t ON t.action_id = a.id AND t.attempt = a.attempt
    GROUP BY w.stage, w.grp, t.classname, t.name, w.run_id
)
SELECT o.stage, o.grp, o.classname, o.name, r.number, r.commit_sha, o.failed
FROM outcomes o JOIN runs r ON r.id = o.run_id
WHERE EXISTS (SELECT 1 FROM outcomes m WHERE m.run_id = :run AND m.stage = o.stage
              AND m.grp = o.grp AND m.classname = o.classname AND m.name = o.name)
  AND (o.failed OR o.passed)
"""
"""What the run's tests did in the recent runs of its branch: run number, commit, failed.
The runs are found newest first through `runs_by_branch`, and their cases through
their actions (`actions_by_run`, `test_cases_by_action`): no scan of every case."""


def _flipped(runs: list[tuple[int, str, bool]]) -> bool:
    """Whether a test's outcomes over recent runs (number, commit, failed) say it is flaky:
    it failed and passed on one commit, or it changed outcome three times or more (passed,
    failed, passed, failed). A commit that broke it and one that fixed it change it twice:
    a failure and its fix, not flakiness."""
    by_commit: dict[str, set[bool]] = {}
    for _, commit, failed in runs:
        by_commit.setdefault(commit, set()).add(failed)
    if any(len(seen) == 2 for seen in by_commit.values()):
        return True
    outcomes = [failed for _, _, failed in sorted(runs)]
    changes = sum(a != b for a, b in itertools.pairwise(outcomes))
    return changes >= 3


def in_words(counts: dict[str, int]) -> str:
    """`✔ 297 passed` or `✘ 2 failed of 297` (errors count as failed): cases by outcome in
    the words the graph, the history and `pipedeck runs` use; empty for none."""
    total = sum(counts.values())
    if not total:
        return ""
    failing = sum(counts.get(outcome, 0) for outcome in FAILING)
    if failing:
        return f"✘ {failing} failed of {total}"
    return f"✔ {counts.get('passed', 0)} passed"


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
        """Every case of each action's current attempt, in stage, action and report order,
        each marked flaky or not (see the module's docstring)."""
        # By the run's actions (`actions_by_run`), whose cases are indexed by action.
        rows = self._conn.execute(
            "SELECT t.*, s.name AS stage, a.name AS action, a.group_name, a.label"
            " FROM test_cases t" + _JOIN + " WHERE a.run_id = ? AND t.attempt = a.attempt"
            " ORDER BY s.position, a.position, t.id",
            (run_id,),
        ).fetchall()
        flaky = self.flaky(run_id) if rows else set()
        cases = []
        for r in rows:
            group = r["group_name"] or r["action"]
            cases.append(
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
                    group=group,
                    label=r["label"],
                    flaky=(r["stage"], group, r["classname"], r["name"]) in flaky,
                )
            )
        return cases

    def flaky(self, run_id: int) -> set[TestKey]:
        """The run's tests that are flaky (see the module's docstring), as
        (stage, group, classname, name)."""
        args = {"run": run_id, "history": HISTORY}
        found: set[TestKey] = {(r[0], r[1], r[2], r[3]) for r in self._conn.execute(_RETRIED, args)}
        history: dict[TestKey, list[tuple[int, str, bool]]] = {}
        for stage, group, classname, name, number, commit, failed in self._conn.execute(
            _FLIPPED, args
        ):
            history.setdefault((stage, group, classname, name), []).append(
                (number, commit, bool(failed))
            )
        found.update(key for key, runs in history.items() if _flipped(runs))
        return found

    def counts(self, run_ids: list[int]) -> dict[int, dict[str, int]]:
        """Run id → outcome → how many cases its actions' current attempts reported, for
        the runs that have any; one query for them all."""
        if not run_ids:
            return {}
        rows = self._conn.execute(
            "SELECT a.run_id, t.outcome, COUNT(*) FROM actions a"
            " JOIN test_cases t ON t.action_id = a.id AND t.attempt = a.attempt"
            " WHERE a.run_id IN (SELECT value FROM json_each(?))"
            " GROUP BY a.run_id, t.outcome",
            (json.dumps(run_ids),),
        )
        counts: dict[int, dict[str, int]] = {}
        for run_id, outcome, n in rows:
            counts.setdefault(run_id, {})[outcome] = n
        return counts

    def problems(self, run_id: int) -> list[ReportProblem]:
        rows = self._conn.execute(
            "SELECT t.*, s.name AS stage, a.name AS action, a.group_name"
            " FROM report_problems t" + _JOIN
            + " WHERE a.run_id = ? AND t.attempt = a.attempt"
            " ORDER BY s.position, a.position, t.id",
            (run_id,),
        ).fetchall()  # fmt: skip
        return [
            ReportProblem(
                r["stage"],
                r["action"],
                r["attempt"],
                r["report"],
                r["problem"],
                r["group_name"] or r["action"],
            )
            for r in rows
        ]
