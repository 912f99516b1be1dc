"""Requests any process may make: approve, reject, cancel, start, retry, transitions.

They are written to the store, where the engine running the run picks them up; the engine's
own methods call these too, so a decision from the console and one from another shell take
the same path and obey the same rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipedeck.engine.errors import ProjectError, RequestError
from pipedeck.engine.provenance import current_user, decided_from_a_run
from pipedeck.gitrepo.location import GitError
from pipedeck.store import ApprovalRecord, RunRecord, Store, StoreError
from pipedeck.store.control import Request, Transition

if TYPE_CHECKING:
    # Only starting a run needs a project (it loads the pipeline file); deciding does not.
    from pipedeck.engine.project import Project
    from pipedeck.gitrepo.repo import GitRepo


def approve(
    store: Store,
    run: RunRecord,
    comment: str | None = None,
    by: str | None = None,
    action: str | None = None,
    email: str | None = None,
) -> ApprovalRecord:
    """Approve the run's waiting approval (`action`: `STAGE/ACTION` when several wait).

    `by` defaults to this process's OS account; `email` is the deciding checkout's git
    `user.email`. Refused from inside a run of the same repository (see `provenance`).
    """
    return _decide(store, run, "approved", comment, by, action, email)


def reject(
    store: Store,
    run: RunRecord,
    comment: str,
    by: str | None = None,
    action: str | None = None,
    email: str | None = None,
) -> ApprovalRecord:
    if not comment or not comment.strip():
        raise RequestError("a rejection needs a reason (--comment TEXT)")
    return _decide(store, run, "rejected", comment, by, action, email)


def _decide(
    store: Store,
    run: RunRecord,
    result: str,
    comment: str | None,
    by: str | None,
    action: str | None,
    email: str | None,
) -> ApprovalRecord:
    why = decided_from_a_run(store.state_dir, store.action_sessions())
    if why is not None:
        raise RequestError(
            f"a gate is decided by a person, not from inside a run: {why};"
            " decide from your own shell or the console"
        )
    try:
        return store.decide(run, result, by or current_user(), comment, action=action, email=email)
    except StoreError as exc:
        raise RequestError(str(exc)) from None


def cancel(store: Store, run: RunRecord, wait: bool = False) -> None:
    """Stop `run` at once, or (`wait`) once its running actions have finished."""
    try:
        store.request_cancel(run, "wait" if wait else "now")
    except StoreError as exc:
        raise RequestError(str(exc)) from None


def branch_of(repo: GitRepo, rev: str) -> str | None:
    """The branch a run of `rev` is of: `rev` itself when it names one, the checked-out one
    for HEAD; a bare SHA or a tag is of no branch (we cannot know which one was meant)."""
    if repo.is_branch(rev):
        return rev
    return repo.current_branch() if rev == "HEAD" else None


def request_start(
    project: Project,
    pipeline: str,
    rev: str,
    variables: dict[str, str],
    by: str | None = None,
    branch: str | None = None,
) -> Request:
    """Ask the engine that owns the repository to start a run (from a client); `branch`:
    the branch it is of, when the caller knows (a run of an earlier run's commit).

    The revision and the pipeline file are chosen here, in the client's checkout, as
    `Project.pipeline_for` says: the engine may sit in another worktree, where HEAD is
    another commit and the working tree holds another file.
    """
    repo, store = project.repo, project.store
    try:
        commit = repo.resolve(rev)
        chosen = project.pipeline_for(pipeline, rev)
    except GitError as exc:
        raise RequestError(str(exc)) from None
    except ProjectError as exc:
        raise RequestError(str(exc)) from None
    assert chosen.source is not None and chosen.path is not None
    definition = (store.keep_source(chosen.source), str(chosen.path))
    return store.requests.add_start(
        pipeline,
        commit.sha,
        variables,
        by or current_user(),
        branch or branch_of(repo, rev),
        definition,
    )


def request_retry(
    store: Store, run: RunRecord, all_actions: bool, by: str | None = None
) -> Request:
    return store.requests.add_retry(run.id, all_actions, by or current_user())


def request_rollback(
    store: Store, pipeline: str, stage: str, target: RunRecord | None, by: str | None = None
) -> Request:
    """Ask the engine to roll `stage` of `pipeline` back (to `target`, or its default)."""
    return store.requests.add_rollback(
        pipeline, stage, target.id if target else None, by or current_user()
    )


def disable_transition(
    store: Store, pipeline: str, stage: str, reason: str, by: str | None = None
) -> Transition:
    if not reason.strip():
        raise RequestError("disabling a transition needs a reason")
    return store.transitions.disable(pipeline, stage, reason.strip(), by or current_user())


def enable_transition(store: Store, pipeline: str, stage: str) -> bool:
    return store.transitions.enable(pipeline, stage)
