"""Rows of the store as frozen values, and their JSON shape (`pipedeck show --json`)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from pipedeck.store.status import Status

COMMITTED = "commit"
"""`definition_origin` of a run whose pipeline file is the one committed at its commit."""
WORKING_TREE = "working tree"
"""`definition_origin` of a run whose pipeline file had uncommitted edits (`pipedeck run` on
HEAD)."""


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    pipeline: str
    number: int
    status: Status
    commit: str
    commit_subject: str
    branch: str | None
    trigger: str
    variables: dict[str, str]
    created_at: str
    started_at: str | None
    finished_at: str | None
    engine_id: str | None
    cancel_requested: bool
    error: str | None
    waiting_for: str | None = None
    """The stage this run waits to enter (a busy stage or a disabled transition)."""
    cancel_mode: str = "now"
    """`now` stops running actions; `wait` lets them finish and stops before the next group."""
    definition_origin: str | None = None
    """Where its pipeline file came from: `commit` (as committed at the run's commit) or
    `working tree` (uncommitted edits, run with `pipedeck run` on HEAD); None before kept."""
    definition_path: str | None = None
    """The pipeline file's path in the checkout that asked for the run."""
    kind: str = "run"
    """`run`, or `rollback`: one stage run again with an earlier run's commit and artifacts."""
    rollback_of: int | None = None
    """A rollback's target: the id of the run whose release it brings back."""
    pruned_at: str | None = None
    """When retention removed its files (workspaces, logs, artifacts); its record stays."""

    @property
    def key(self) -> str:
        """How people name a run: `release/12`."""
        return f"{self.pipeline}/{self.number}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRecord:
        return cls(
            id=row["id"],
            pipeline=row["pipeline"],
            number=row["number"],
            status=Status(row["status"]),
            commit=row["commit_sha"],
            commit_subject=row["commit_subject"],
            branch=row["branch"],
            trigger=row["trigger"],
            variables=json.loads(row["variables"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            engine_id=row["engine_id"],
            cancel_requested=bool(row["cancel_requested"]),
            error=row["error"],
            waiting_for=row["waiting_for"],
            cancel_mode=row["cancel_mode"],
            definition_origin=row["definition_origin"],
            definition_path=row["definition_path"],
            kind=row["kind"],
            rollback_of=row["rollback_of"],
            pruned_at=row["pruned_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pipeline": self.pipeline,
            "number": self.number,
            "run": self.key,
            "status": self.status.value,
            "commit": self.commit,
            "commit_subject": self.commit_subject,
            "branch": self.branch,
            "trigger": self.trigger,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "waiting_for": self.waiting_for,
            "error": self.error,
            "pipeline_file": self.definition_origin,
            "pruned_at": self.pruned_at,
        }


@dataclass(frozen=True, slots=True)
class StageRecord:
    id: int
    run_id: int
    position: int
    name: str
    status: Status
    started_at: str | None
    finished_at: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> StageRecord:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            position=row["position"],
            name=row["name"],
            status=Status(row["status"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
        )


@dataclass(frozen=True, slots=True)
class ActionRecord:
    id: int
    run_id: int
    stage_id: int
    position: int
    name: str
    kind: str
    run_order: int
    status: Status
    started_at: str | None
    finished_at: str | None
    exit_code: int | None
    pid: int | None
    log_path: str | None
    error: str | None
    attempt: int = 1
    output_variables: dict[str, str] = field(default_factory=dict)
    environment: str | None = None
    """A deploy's environment."""
    hold: str | None = None
    """What a deploy waits for before it may start (a wait timer, the deploy window)."""
    hold_until: str | None = None
    """When its wait timer ends: kept, so an engine that takes the run up waits out the
    rest of it rather than all of it again."""
    group_name: str | None = None
    """A shard's or a matrix combination's action as written in the file (`unit`)."""
    label: str | None = None
    """How a shard or combination is shown: `unit 2/3`, `test (python=3.12)`."""

    @property
    def group(self) -> str:
        """The action as written in the file: what its shards or combinations share."""
        return self.group_name or self.name

    @property
    def shown(self) -> str:
        return self.label or self.name

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ActionRecord:
        return cls(
            id=row["id"],
            run_id=row["run_id"],
            stage_id=row["stage_id"],
            position=row["position"],
            name=row["name"],
            kind=row["kind"],
            run_order=row["run_order"],
            status=Status(row["status"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            exit_code=row["exit_code"],
            pid=row["pid"],
            log_path=row["log_path"],
            error=row["error"],
            attempt=row["attempt"],
            output_variables=json.loads(row["output_variables"]),
            environment=row["environment"],
            hold=row["hold"],
            hold_until=row["hold_until"],
            group_name=row["group_name"],
            label=row["label"],
        )


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """An earlier attempt of an action, kept when the action is retried."""

    attempt: int
    status: Status
    started_at: str | None
    finished_at: str | None
    exit_code: int | None
    log_path: str | None
    error: str | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> AttemptRecord:
        return cls(
            attempt=row["attempt"],
            status=Status(row["status"]),
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            exit_code=row["exit_code"],
            log_path=row["log_path"],
            error=row["error"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "exit_code": self.exit_code,
            "log_path": self.log_path,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    action_id: int
    run_id: int
    message: str
    requested_at: str
    expires_at: str | None
    result: str | None
    decided_by: str | None
    decided_at: str | None
    comment: str | None
    decided_email: str | None = None
    """The git `user.email` of the checkout the decision came from, when it had one."""
    environment: str | None = None
    """The environment whose gate this is: a deploy waiting itself, or its approval."""
    approvers: tuple[str, ...] | None = None
    """Who may decide (OS accounts); None: anyone."""
    author_email: str | None = None
    """The commit author's e-mail, refused as approver (`prevent_self_approval`)."""

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ApprovalRecord:
        values = {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row
        if values.get("approvers") is not None:
            values["approvers"] = tuple(json.loads(values["approvers"]))
        return cls(**values)

    def decision(self) -> dict[str, Any] | None:
        if self.result is None:
            return None
        return {
            "by": self.decided_by,
            "email": self.decided_email,
            "at": self.decided_at,
            "comment": self.comment,
            "result": self.result,
        }


@dataclass(frozen=True, slots=True)
class ActionDetail:
    action: ActionRecord
    artifacts: list[str] = field(default_factory=list)
    approval: ApprovalRecord | None = None
    earlier: list[AttemptRecord] = field(default_factory=list)
    """Earlier attempts, oldest first (the action itself is the latest)."""
    tests: dict[str, int] = field(default_factory=dict)
    """Outcome → how many test cases of its current attempt's reports had it."""

    def to_dict(self) -> dict[str, Any]:
        a = self.action
        out: dict[str, Any] = {
            "name": a.name,
            "kind": a.kind,
            "status": a.status.value,
            "run_order": a.run_order,
            "started_at": a.started_at,
            "finished_at": a.finished_at,
            "exit_code": a.exit_code,
            "log_path": a.log_path,
            "artifacts": self.artifacts,
            "error": a.error,
            "attempt": a.attempt,
        }
        if self.earlier:
            out["earlier_attempts"] = [e.to_dict() for e in self.earlier]
        if a.environment is not None:
            out["environment"] = a.environment
        if a.group_name is not None:
            out["group"] = a.group_name
            out["label"] = a.label
        if a.hold is not None:
            out["hold"] = a.hold
        if self.tests:
            out["tests"] = self.tests
        if a.kind == "approval" or self.approval is not None:
            out["message"] = self.approval.message if self.approval else None
            out["decision"] = self.approval.decision() if self.approval else None
        return out


@dataclass(frozen=True, slots=True)
class StageDetail:
    stage: StageRecord
    actions: list[ActionDetail]

    def to_dict(self) -> dict[str, Any]:
        s = self.stage
        return {
            "name": s.name,
            "status": s.status.value,
            "started_at": s.started_at,
            "finished_at": s.finished_at,
            "actions": [a.to_dict() for a in self.actions],
        }


@dataclass(frozen=True, slots=True)
class RunDetail:
    run: RunRecord
    stages: list[StageDetail]

    def to_dict(self) -> dict[str, Any]:
        return {**self.run.to_dict(), "stages": [s.to_dict() for s in self.stages]}

    def actions(self) -> list[tuple[StageRecord, ActionDetail]]:
        return [(s.stage, a) for s in self.stages for a in s.actions]


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deploy to an environment: an entry of the ledger."""

    id: int
    environment: str
    pipeline: str | None
    run_id: int
    run_number: int | None
    stage: str | None
    action: str | None
    commit: str
    commit_subject: str
    status: Status
    started_at: str
    finished_at: str | None
    approved_by: str | None
    artifacts: dict[str, str]
    """Input artifact name → SHA-256 of its content, as deployed."""
    rollback: bool
    sequence: int | None
    """Its number among the environment's successful deploys (the tag `pipedeck/<env>@<n>`)."""

    @property
    def run_key(self) -> str:
        return f"{self.pipeline}/{self.run_number}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Deployment:
        return cls(
            id=row["id"],
            environment=row["environment"],
            pipeline=row["pipeline"],
            run_id=row["run_id"],
            run_number=row["run_number"],
            stage=row["stage"],
            action=row["action"],
            commit=row["commit_sha"],
            commit_subject=row["commit_subject"],
            status=Status(row["status"]),
            started_at=row["deployed_at"],
            finished_at=row["finished_at"],
            approved_by=row["approved_by"],
            artifacts=json.loads(row["artifacts"]),
            rollback=bool(row["rollback"]),
            sequence=row["sequence"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "number": self.sequence,
            "pipeline": self.pipeline,
            "run": self.run_key,
            "stage": self.stage,
            "action": self.action,
            "commit": self.commit,
            "commit_subject": self.commit_subject,
            "status": self.status.value,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "approved_by": self.approved_by,
            "artifacts": self.artifacts,
            "rollback": self.rollback,
        }
