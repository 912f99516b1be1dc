"""Run history: the single source of truth for what happened, shared by every process.

An engine writes here as a run progresses; any other process (a second console,
`pipedeck runs`, `pipedeck approve` from another shell) reads the same file and sends its
requests (a decision, a cancel) by writing rows the engine polls. Decisions are taken with a
conditional UPDATE so that a person approving and a timeout firing at the same moment can
never both win.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from pipedeck.store.control import Requests, Transitions
from pipedeck.store.db import connect, now, transaction
from pipedeck.store.layout import DB_NAME, RunLayout
from pipedeck.store.ledger import Ledger
from pipedeck.store.records import (
    ActionDetail,
    ActionRecord,
    ApprovalRecord,
    AttemptRecord,
    RunDetail,
    RunRecord,
    StageDetail,
    StageRecord,
)
from pipedeck.store.results import Results
from pipedeck.store.retries import RetryPlan, reset_for_retry, reset_stage
from pipedeck.store.status import Status
from pipedeck.store.timings import Timings


class StoreError(Exception):
    """A request the store cannot satisfy, phrased for the user (unknown run, not waiting…)."""


def _refuse_lost_history(db: Path) -> None:
    """A missing or empty database beside earlier runs' folders is history lost, not a new
    start: starting over would number runs from 1 again and append to old runs' logs."""
    wal = db.with_name(db.name + "-wal")
    if db.exists() and (db.stat().st_size > 0 or (wal.exists() and wal.stat().st_size > 0)):
        return
    runs = db.parent / "runs"
    if runs.is_dir() and any(runs.iterdir()):
        what = "empty" if db.exists() else "missing"
        raise StoreError(
            f"{db} is {what}, but {runs} holds earlier runs: the run history was lost or moved."
            f" Restore {db.name} from a backup, or move {runs} aside to start a new history"
        )


def _keep_source(c: sqlite3.Connection, source: bytes) -> str:
    # Kept once per version of the file, however many runs and requests name it.
    digest = hashlib.sha256(source).hexdigest()
    c.execute(
        "INSERT OR IGNORE INTO pipeline_sources (sha256, source) VALUES (?, ?)", (digest, source)
    )
    return digest


def _may_decide(row: sqlite3.Row, by: str, email: str | None, approving: bool) -> None:
    """An environment's gate: only its approvers decide, and the commit's own author may
    not approve (stopping their own deploy is fine)."""
    where = f" for {row['environment']}" if row["environment"] else ""
    if row["approvers"] is not None:
        allowed = json.loads(row["approvers"])
        if by not in allowed:
            raise StoreError(
                f"{by} may not decide{where}: only {', '.join(allowed)} may"
                f" ({row['stage']}/{row['name']})"
            )
    author = row["author_email"]
    if author and approving:
        if not email:
            raise StoreError(
                f"the commit's author may not approve its deploy{where}, and this checkout has"
                " no git user.email to tell who you are; set one (git config user.email)"
            )
        if email.strip().casefold() == author.strip().casefold():
            raise StoreError(
                f"{email} wrote this commit and may not approve its deploy{where}"
                " (prevent_self_approval); someone else must decide"
            )


class PlannedAction(NamedTuple):
    name: str
    kind: str
    run_order: int
    environment: str | None = None
    """A deploy's environment."""
    group: str | None = None
    """A shard's or matrix combination's action as written (`unit` of `unit.2`)."""
    label: str | None = None
    """How a shard or combination is shown (`unit 2/3`)."""


class PlannedStage(NamedTuple):
    name: str
    actions: Sequence[PlannedAction]


class Store:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        db = state_dir / DB_NAME
        _refuse_lost_history(db)
        try:
            self._conn = connect(db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"{db}: the run history is damaged ({exc}). It is left as it is: move it aside"
                " to start a new history (the runs' logs stay in runs/), or restore it from a"
                " backup"
            ) from None
        self.requests = Requests(self._conn)
        self.transitions = Transitions(self._conn)
        self.ledger = Ledger(self._conn)
        self.results = Results(self._conn)
        self.timings = Timings(self._conn)

    def close(self) -> None:
        self._conn.close()

    def layout(self, run: RunRecord) -> RunLayout:
        return RunLayout.of(self.state_dir, run.pipeline, run.number)

    # --- creating and advancing runs (the engine) ------------------------------------------

    def create_run(
        self,
        pipeline: str,
        stages: Sequence[PlannedStage],
        *,
        commit: str,
        commit_subject: str,
        branch: str | None,
        variables: dict[str, str],
        trigger: str = "manual",
        engine_id: str | None = None,
        definition: bytes | None = None,
        definition_origin: str | None = None,
        definition_path: str | None = None,
        kind: str = "run",
        rollback_of: int | None = None,
    ) -> RunRecord:
        """Allocate the next number of `pipeline` and record every stage and action queued.

        `definition`: the pipeline file's bytes as parsed for this run, kept so an engine that
        takes the run up later (after an approval outlived its console) runs what it began.
        """
        created = now()
        with transaction(self._conn) as c:
            number = c.execute(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM runs WHERE pipeline = ?", (pipeline,)
            ).fetchone()[0]
            run_id = c.execute(
                "INSERT INTO runs (pipeline, number, status, commit_sha, commit_subject, branch,"
                " trigger, variables, created_at, engine_id, definition_origin, definition_path,"
                " kind, rollback_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    pipeline,
                    number,
                    Status.QUEUED,
                    commit,
                    commit_subject,
                    branch,
                    trigger,
                    json.dumps(variables),
                    created,
                    engine_id,
                    definition_origin,
                    definition_path,
                    kind,
                    rollback_of,
                ),
            ).lastrowid
            if definition is not None:
                digest = _keep_source(c, definition)
                c.execute(
                    "INSERT INTO run_definitions (run_id, sha256) VALUES (?, ?)",
                    (run_id, digest),
                )
            for s_pos, stage in enumerate(stages):
                stage_id = c.execute(
                    "INSERT INTO stages (run_id, position, name, status) VALUES (?,?,?,?)",
                    (run_id, s_pos, stage.name, Status.QUEUED),
                ).lastrowid
                c.executemany(
                    "INSERT INTO actions (run_id, stage_id, position, name, kind, run_order,"
                    " status, environment, group_name, label) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (
                            run_id,
                            stage_id,
                            a_pos,
                            a.name,
                            a.kind,
                            a.run_order,
                            Status.QUEUED,
                            a.environment,
                            a.group,
                            a.label,
                        )
                        for a_pos, a in enumerate(stage.actions)
                    ],
                )
        assert run_id is not None
        return self.run_by_id(run_id)

    def set_run_status(self, run_id: int, status: Status, error: str | None = None) -> None:
        self._set_status("runs", run_id, status, error=error)

    def set_stage_status(self, stage_id: int, status: Status) -> None:
        self._set_status("stages", stage_id, status)

    def set_action_status(
        self,
        action_id: int,
        status: Status,
        *,
        exit_code: int | None = None,
        error: str | None = None,
    ) -> None:
        self._set_status("actions", action_id, status, error=error, exit_code=exit_code)

    def keep_source(self, source: bytes) -> str:
        """Keep a pipeline file's bytes (a client's choice, for the engine); its sha256."""
        with transaction(self._conn) as c:
            return _keep_source(c, source)

    def source(self, sha256: str) -> bytes | None:
        row = self._conn.execute(
            "SELECT source FROM pipeline_sources WHERE sha256 = ?", (sha256,)
        ).fetchone()
        return bytes(row[0]) if row is not None else None

    def definition(self, run_id: int) -> bytes | None:
        """The pipeline file's bytes the run started with (None for runs older than that)."""
        row = self._conn.execute(
            "SELECT p.source FROM run_definitions r JOIN pipeline_sources p USING (sha256)"
            " WHERE r.run_id = ?",
            (run_id,),
        ).fetchone()
        return bytes(row[0]) if row is not None else None

    # --- runs no engine is working on ----------------------------------------------------

    def idle(self, run_id: int) -> bool:
        """True when nothing of the run is at work: it waits for a person (an approval) or
        at a stage boundary, and no action runs. Such a run loses nothing when its engine
        stops: it is left waiting for the next engine, not cancelled."""
        row = self._conn.execute(
            "SELECT status, waiting_for FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None or not Status(row["status"]).active:
            return False
        if Status(row["status"]) is not Status.WAITING and row["waiting_for"] is None:
            return False
        busy = self._conn.execute(
            "SELECT COUNT(*) FROM actions WHERE run_id = ? AND status = ?",
            (run_id, Status.RUNNING),
        ).fetchone()[0]
        return int(busy) == 0

    def expired(self, run_id: int) -> bool:
        """Whether one of the run's waiting approvals is past its deadline (and so waits only
        for an engine to record `timed_out`)."""
        row = self._conn.execute(
            "SELECT COUNT(*) FROM approvals ap JOIN actions a ON a.id = ap.action_id"
            " WHERE ap.run_id = ? AND ap.result IS NULL AND a.status = ? AND ap.expires_at <= ?",
            (run_id, Status.WAITING, now()),
        ).fetchone()
        return int(row[0]) > 0

    def answered(self, run_id: int) -> bool:
        """Whether a run left waiting has what it waited for: a decision recorded on one of
        its waiting approvals, a cancel asked for, or a deadline passed."""
        decided = self._conn.execute(
            "SELECT COUNT(*) FROM approvals ap JOIN actions a ON a.id = ap.action_id"
            " WHERE ap.run_id = ? AND ap.result IS NOT NULL AND a.status = ?",
            (run_id, Status.WAITING),
        ).fetchone()[0]
        return bool(decided) or self.cancel_requested(run_id) is not None or self.expired(run_id)

    def release(self, run_id: int) -> None:
        """The engine stops and leaves the idle run for the next one."""
        self._conn.execute("UPDATE runs SET engine_id = NULL WHERE id = ?", (run_id,))

    def claim(self, run_id: int, engine_id: str, previous: str | None) -> bool:
        """Take up a run another engine left; False if someone else took it first."""
        cursor = self._conn.execute(
            "UPDATE runs SET engine_id = ? WHERE id = ? AND engine_id IS ?"
            " AND status IN ('queued','running','waiting')",
            (engine_id, run_id, previous),
        )
        return cursor.rowcount == 1

    def set_run_waiting(self, run_id: int, stage: str | None) -> None:
        self._conn.execute("UPDATE runs SET waiting_for = ? WHERE id = ?", (stage, run_id))

    def set_action_variables(self, action_id: int, values: dict[str, str]) -> None:
        self._conn.execute(
            "UPDATE actions SET output_variables = ? WHERE id = ?",
            (json.dumps(values), action_id),
        )

    def reset_for_retry(
        self, run: RunRecord, all_actions: bool, engine_id: str | None
    ) -> RetryPlan:
        """Make a failed run ready to run again from its failed stage (see `retries`)."""
        return reset_for_retry(self._conn, run.id, all_actions, engine_id)

    def reset_stage(self, stage_id: int, all_actions: bool) -> list[Path]:
        """A failed stage of a run in progress, ready to run again (see `retries`)."""
        return reset_stage(self._conn, stage_id, all_actions)

    def mark_pruned(self, run_id: int) -> None:
        self._conn.execute("UPDATE runs SET pruned_at = ? WHERE id = ?", (now(), run_id))

    def set_action_pid(self, action_id: int, pid: int) -> None:
        self._conn.execute("UPDATE actions SET pid = ? WHERE id = ?", (pid, action_id))

    def set_action_log(self, action_id: int, log_path: Path) -> None:
        self._conn.execute(
            "UPDATE actions SET log_path = ? WHERE id = ?", (str(log_path), action_id)
        )

    def _set_status(self, table: str, row_id: int, status: Status, **extra: object) -> None:
        # started_at is set once, on the first move to running; finished_at on a final status.
        sets = ["status = ?"]
        args: list[object] = [status.value]
        if status in (Status.RUNNING, Status.WAITING):
            sets.append("started_at = COALESCE(started_at, ?)")
            args.append(now())
        elif not status.active and status is not Status.SKIPPED:
            sets.append("finished_at = ?")
            args.append(now())
            if table == "actions":
                sets.append("hold = NULL, hold_until = NULL")  # one that ended holds nothing
        for column, value in extra.items():
            if value is not None:
                sets.append(f"{column} = ?")
                args.append(value)
        args.append(row_id)
        self._conn.execute(f"UPDATE {table} SET {', '.join(sets)} WHERE id = ?", args)

    def add_artifact(self, run_id: int, action_id: int, name: str, path: Path) -> None:
        self._conn.execute(
            "INSERT INTO artifacts (run_id, action_id, name, path) VALUES (?,?,?,?)",
            (run_id, action_id, name, str(path)),
        )

    def set_action_hold(self, action_id: int, hold: str | None) -> None:
        self._conn.execute("UPDATE actions SET hold = ? WHERE id = ?", (hold, action_id))

    def set_hold_until(self, action_id: int, until: str) -> None:
        """When the deploy's wait timer ends (kept until the action ends)."""
        self._conn.execute("UPDATE actions SET hold_until = ? WHERE id = ?", (until, action_id))

    # --- approvals and cancel: requests any process may write ------------------------------

    def open_approval(
        self,
        action_id: int,
        run_id: int,
        message: str,
        expires_at: str,
        *,
        environment: str | None = None,
        approvers: Sequence[str] | None = None,
        author_email: str | None = None,
    ) -> None:
        """`approvers`: who may decide (None: anyone); `author_email`: refused as approver."""
        self._conn.execute(
            "INSERT OR REPLACE INTO approvals (action_id, run_id, message, requested_at,"
            " expires_at, environment, approvers, author_email) VALUES (?,?,?,?,?,?,?,?)",
            (
                action_id,
                run_id,
                message,
                now(),
                expires_at,
                environment,
                json.dumps(list(approvers)) if approvers is not None else None,
                author_email,
            ),
        )

    def decide(
        self,
        run: RunRecord,
        result: str,
        by: str,
        comment: str | None,
        *,
        action: str | None = None,
        action_id: int | None = None,
        email: str | None = None,
    ) -> ApprovalRecord:
        """Record a decision on a waiting approval of the run; the first decision wins.

        `action` (`STAGE/ACTION` or `ACTION`) or `action_id` picks one approval; without them
        the run must have exactly one waiting. People cannot decide after the approval
        expired; only the timeout itself (`timed_out`) can.
        """
        with transaction(self._conn) as c:
            rows = c.execute(
                "SELECT ap.action_id, s.name AS stage, a.name, ap.expires_at, ap.approvers,"
                " ap.author_email, ap.environment"
                " FROM approvals ap JOIN actions a ON a.id = ap.action_id"
                " JOIN stages s ON s.id = a.stage_id"
                " WHERE ap.run_id = ? AND ap.result IS NULL AND a.status = ?"
                " ORDER BY s.position, a.position",
                (run.id, Status.WAITING),
            ).fetchall()
            if action_id is not None:
                rows = [r for r in rows if r["action_id"] == action_id]
            elif action is not None:
                rows = [r for r in rows if action in (r["name"], f"{r['stage']}/{r['name']}")]
            if not rows:
                which = f" {action}" if action else ""
                raise StoreError(f"{run.key} has no approval{which} waiting (run is {run.status})")
            if len(rows) > 1:
                names = ", ".join(f"{r['stage']}/{r['name']}" for r in rows)
                raise StoreError(f"{run.key} has {len(rows)} approvals waiting ({names}); name one")
            row = rows[0]
            stamp = now()
            if result != "timed_out" and row["expires_at"] and row["expires_at"] <= stamp:
                raise StoreError(f"the approval of {run.key} expired at {row['expires_at']}")
            if result != "timed_out":
                _may_decide(row, by, email, approving=result == "approved")
            c.execute(
                "UPDATE approvals SET result = ?, decided_by = ?, decided_at = ?, comment = ?,"
                " decided_email = ? WHERE action_id = ?",
                (result, by, stamp, comment, email, row["action_id"]),
            )
        return self.approval(row["action_id"])

    def hold_of(self, run_id: int) -> str | None:
        """Why a deploy of the run is held (a wait timer, a deploy window), if one is."""
        row = self._conn.execute(
            "SELECT hold FROM actions WHERE run_id = ? AND status = ? AND hold IS NOT NULL",
            (run_id, Status.WAITING),
        ).fetchone()
        return None if row is None else str(row[0])

    def waiting_approvals(self, run_id: int) -> int:
        """Approvals of the run waiting for a person: approval actions, and deploys that
        wait at their environment's gate."""
        return int(
            self._conn.execute(
                "SELECT COUNT(*) FROM approvals ap JOIN actions a ON a.id = ap.action_id"
                " WHERE ap.run_id = ? AND ap.result IS NULL AND a.status = ?",
                (run_id, Status.WAITING),
            ).fetchone()[0]
        )

    def action_sessions(self) -> set[int]:
        """Process groups of the actions running now (each action leads its own session)."""
        rows = self._conn.execute(
            "SELECT pid FROM actions WHERE status = ? AND pid IS NOT NULL", (Status.RUNNING,)
        )
        return {int(row[0]) for row in rows}

    def approval(self, action_id: int) -> ApprovalRecord:
        row = self._conn.execute(
            "SELECT * FROM approvals WHERE action_id = ?", (action_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"no approval for action {action_id}")
        return ApprovalRecord.from_row(row)

    def request_cancel(self, run: RunRecord, mode: str = "now") -> None:
        """`now` ends running actions; `wait` lets them finish. A later `now` overrides."""
        current = self.run_by_id(run.id)
        if not current.status.active:
            raise StoreError(f"{run.key} is not active (it is {current.status})")
        self._conn.execute(
            "UPDATE runs SET cancel_requested = 1, cancel_mode = ? WHERE id = ?"
            " AND NOT (cancel_requested = 1 AND cancel_mode = 'now')",
            (mode, run.id),
        )

    def cancel_requested(self, run_id: int) -> str | None:
        """The requested cancel mode (`now` or `wait`), or None."""
        row = self._conn.execute(
            "SELECT cancel_requested, cancel_mode FROM runs WHERE id = ?", (run_id,)
        ).fetchone()
        return str(row[1]) if row and row[0] else None

    # --- reading history -----------------------------------------------------------------

    def run_by_id(self, run_id: int) -> RunRecord:
        row = self._conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"no run with id {run_id}")
        return RunRecord.from_row(row)

    def find_run(self, ref: str) -> RunRecord:
        """`release/12`, or `release` for its latest run."""
        pipeline, slash, number = ref.rpartition("/") if "/" in ref else (ref, "", "")
        if slash:
            if not (number.isascii() and number.isdigit()):
                raise StoreError(f"{ref!r} is not a run; write PIPELINE/NUMBER or PIPELINE")
            if int(number) >= 2**63:  # beyond SQLite's integers: no run has such a number
                raise StoreError(f"no run {ref!r}")
            row = self._conn.execute(
                "SELECT * FROM runs WHERE pipeline = ? AND number = ?", (pipeline, int(number))
            ).fetchone()
        else:
            row = self._conn.execute(
                "SELECT * FROM runs WHERE pipeline = ? ORDER BY number DESC LIMIT 1", (pipeline,)
            ).fetchone()
        if row is None:
            raise StoreError(f"no run {ref!r}")
        return RunRecord.from_row(row)

    def runs(self, pipeline: str | None = None, limit: int | None = None) -> list[RunRecord]:
        sql = "SELECT * FROM runs"
        args: list[object] = []
        if pipeline:
            sql += " WHERE pipeline = ?"
            args.append(pipeline)
        sql += " ORDER BY created_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return [RunRecord.from_row(r) for r in self._conn.execute(sql, args)]

    def pipeline_names(self) -> list[str]:
        """Every pipeline that has runs, by name: the pipelines as last recorded."""
        rows = self._conn.execute("SELECT DISTINCT pipeline FROM runs ORDER BY pipeline")
        return [name for (name,) in rows]

    def deciders(self) -> dict[int, str]:
        """Run id → who decided its approvals (for searching history by approver)."""
        rows = self._conn.execute(
            "SELECT run_id, group_concat(decided_by, ', ') FROM approvals"
            " WHERE decided_by IS NOT NULL GROUP BY run_id"
        )
        return {run_id: names for run_id, names in rows}

    def active_runs(self) -> list[RunRecord]:
        rows = self._conn.execute(
            "SELECT * FROM runs WHERE status IN ('queued','running','waiting') ORDER BY id"
        )
        return [RunRecord.from_row(r) for r in rows]

    def detail(self, run: RunRecord) -> RunDetail:
        stages = [
            StageRecord.from_row(r)
            for r in self._conn.execute(
                "SELECT * FROM stages WHERE run_id = ? ORDER BY position", (run.id,)
            )
        ]
        actions = [
            ActionRecord.from_row(r)
            for r in self._conn.execute(
                "SELECT * FROM actions WHERE run_id = ? ORDER BY position", (run.id,)
            )
        ]
        artifacts: dict[int, list[str]] = {}
        for r in self._conn.execute(
            "SELECT action_id, name FROM artifacts WHERE run_id = ? ORDER BY id", (run.id,)
        ):
            artifacts.setdefault(r["action_id"], []).append(r["name"])
        approvals = {
            r["action_id"]: ApprovalRecord.from_row(r)
            for r in self._conn.execute("SELECT * FROM approvals WHERE run_id = ?", (run.id,))
        }
        earlier: dict[int, list[AttemptRecord]] = {}
        for r in self._conn.execute(
            "SELECT at.* FROM action_attempts at JOIN actions a ON a.id = at.action_id"
            " WHERE a.run_id = ? ORDER BY at.attempt",
            (run.id,),
        ):
            earlier.setdefault(r["action_id"], []).append(AttemptRecord.from_row(r))
        tests: dict[int, dict[str, int]] = {}
        for r in self._conn.execute(
            "SELECT t.action_id, t.outcome, COUNT(*) AS n FROM test_cases t"
            " JOIN actions a ON a.id = t.action_id AND a.attempt = t.attempt"
            " WHERE t.run_id = ? GROUP BY t.action_id, t.outcome",
            (run.id,),
        ):
            tests.setdefault(r["action_id"], {})[r["outcome"]] = r["n"]
        return RunDetail(
            run=run,
            stages=[
                StageDetail(
                    stage=s,
                    actions=[
                        ActionDetail(
                            a,
                            artifacts.get(a.id, []),
                            approvals.get(a.id),
                            earlier.get(a.id, []),
                            tests.get(a.id, {}),
                        )
                        for a in actions
                        if a.stage_id == s.id
                    ],
                )
                for s in stages
            ],
        )

    def close_run(self, run_id: int, status: Status, reason: str) -> None:
        """Give every unfinished part of a run `status` at once (a dead or broken engine)."""
        stamp = now()
        with transaction(self._conn) as c:
            for table, key in (("actions", "run_id"), ("stages", "run_id"), ("runs", "id")):
                c.execute(
                    f"UPDATE {table} SET status = ?, finished_at = ? WHERE {key} = ?"
                    " AND status IN ('queued','running','waiting')",
                    (status, stamp, run_id),
                )
            c.execute(
                "UPDATE runs SET error = ?, waiting_for = NULL WHERE id = ?", (reason, run_id)
            )
            # A held deploy's note says why it waits; once the run is over it holds nothing.
            c.execute(
                "UPDATE actions SET hold = NULL, hold_until = NULL WHERE run_id = ?", (run_id,)
            )
            c.execute(
                "UPDATE deployments SET status = ?, finished_at = ? WHERE run_id = ?"
                " AND status = 'running'",
                (status, stamp, run_id),
            )

    def connection(self) -> sqlite3.Connection:
        """For read-only diagnostics and tests."""
        return self._conn
