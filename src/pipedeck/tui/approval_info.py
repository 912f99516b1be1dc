"""What the approval dialog shows, gathered from the store and git in one place.

Called on the survey's thread (`survey.py`), with that thread's store and repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipedeck.gitrepo.location import GitError
from pipedeck.store import ApprovalRecord, Deployment, RunDetail, RunRecord, Status, Store
from pipedeck.store.status import together

if TYPE_CHECKING:
    from pipedeck.gitrepo import Commit, GitRepo
    from pipedeck.store.results import CaseResult

FAILED_NAMED = 5
"""Failed tests named per action; the rest are counted."""


@dataclass(frozen=True)
class TestSummary:
    """One test action of the run (its copies together) as the dialog says it."""

    name: str
    """`Test/unit`: the action as written in the file."""
    status: Status
    """Its copies' status together: one failed makes it failed."""
    counts: dict[str, int] = field(default_factory=dict)
    """Outcome → how many cases its reports had; empty without reports."""
    failed: list[tuple[str, bool]] = field(default_factory=list)
    """The first `FAILED_NAMED` failed or errored tests (`module::test`, and which copy
    ran it), each with whether it is flaky."""
    more: int = 0
    """How many more failed than are named."""


@dataclass(frozen=True)
class ApprovalInfo:
    run: RunRecord
    stage: str
    action: str
    message: str
    expires_at: str | None
    commits: list[Commit] = field(default_factory=list)
    """Going out: the commits since the environment's current release (for an environment's
    gate), else since this pipeline's last successful run."""
    tests: list[TestSummary] = field(default_factory=list)
    """The run's test actions, and every other action whose reports had cases."""
    artifacts: list[str] = field(default_factory=list)
    environment: str | None = None
    """The environment whose gate this is, if any."""
    approvers: tuple[str, ...] | None = None
    author_email: str | None = None
    """Set when the commit's author may not approve (`prevent_self_approval`)."""
    current: Deployment | None = None
    """What the environment runs now."""
    leaving: bool = False
    """`commits` leave the environment: a rollback to an older commit."""


def waiting_approval(store: Store, repo: GitRepo | None, run: RunRecord) -> ApprovalInfo | None:
    """The first approval the run waits on, with its context; None when nothing waits."""
    detail = store.detail(run)
    for stage, action in detail.actions():
        # A decided approval whose deploy is now held (a wait timer, a window) asks nothing.
        approval = action.approval
        if (
            action.action.status is Status.WAITING
            and approval is not None
            and approval.result is None
        ):
            gate = approval
            current = store.ledger.current(gate.environment) if gate.environment else None
            # A rollback brings an older commit back: what it takes out is what changes.
            back = run.kind == "rollback" and current is not None and current.commit != run.commit
            return ApprovalInfo(
                run=run,
                stage=stage.name,
                action=action.action.name,
                message=gate.message,
                expires_at=gate.expires_at,
                commits=_outgoing(store, repo, run, gate, current, back),
                tests=_tests(detail, store.results.cases(run.id)),
                artifacts=[name for _, a in detail.actions() for name in a.artifacts],
                environment=gate.environment,
                approvers=gate.approvers,
                author_email=gate.author_email,
                current=current,
                leaving=back,
            )
    return None


def _outgoing(
    store: Store,
    repo: GitRepo | None,
    run: RunRecord,
    gate: ApprovalRecord,
    current: Deployment | None,
    back: bool,
) -> list[Commit]:
    if repo is None:
        return []
    if gate.environment is not None:
        # An environment's gate: what would change there, from what it runs now.
        try:
            if back and current is not None:
                return repo.commits_between(run.commit, current.commit, limit=20)
            since = current.commit if current else None
            return repo.commits_between(since, run.commit, limit=20)
        except GitError:
            return []
    previous = next(
        (
            r
            for r in store.runs(run.pipeline)
            if r.number < run.number and r.status is Status.SUCCEEDED
        ),
        None,
    )
    try:
        return repo.commits_between(previous.commit if previous else None, run.commit, limit=20)
    except GitError:
        return []


def _tests(detail: RunDetail, cases: list[CaseResult]) -> list[TestSummary]:
    """Per test action as written (shards and combinations together): its status, counts
    and first failed tests."""
    statuses: dict[tuple[str, str], list[Status]] = {}
    for stage, action in detail.actions():
        if action.action.kind == "test" or action.tests:
            statuses.setdefault((stage.name, action.action.group), []).append(action.action.status)
    summaries = []
    for (stage_name, group), seen in statuses.items():
        mine = [c for c in cases if c.stage == stage_name and c.group == group]
        failing = [c for c in mine if c.failing]
        counts: dict[str, int] = {}
        for case in mine:
            counts[case.outcome] = counts.get(case.outcome, 0) + 1
        summaries.append(
            TestSummary(
                name=f"{stage_name}/{group}",
                status=together(seen),
                counts=counts,
                failed=[(_test_name(c), c.flaky) for c in failing[:FAILED_NAMED]],
                more=max(0, len(failing) - FAILED_NAMED),
            )
        )
    return summaries


def _test_name(case: CaseResult) -> str:
    name = f"{case.classname}::{case.name}" if case.classname else case.name
    return f"{name} · {case.label}" if case.label else name
