"""Commits that landed while nobody watched: shown, never replayed.

When the console opens, commits made while it was closed do not start runs (a week of
commits would otherwise start a week of runs); instead each pipeline says how many commits
its branch has beyond its last run, and `s` runs the newest.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipedeck.definition.model import Pipeline, Trigger
from pipedeck.engine.triggers import filter_accepts
from pipedeck.gitrepo import GitError, GitRepo
from pipedeck.store import Store


@dataclass(frozen=True, slots=True)
class Pending:
    branch: str
    count: int
    """Commits on `branch` after the pipeline's last run of it (capped by `LIMIT`)."""


LIMIT = 100


def watched_branch(pipeline: Pipeline, current: str | None) -> str | None:
    """The branch whose new commits would run `pipeline`: the checked-out one, if accepted."""
    trigger = pipeline.trigger
    if trigger == "manual" or current is None:
        return None
    if isinstance(trigger, Trigger) and trigger.branches is not None:
        return current if filter_accepts(trigger.branches, [current]) else None
    if isinstance(trigger, Trigger) and trigger.tags is not None:
        return None
    return current


def pending_commits(repo: GitRepo, store: Store, pipeline: Pipeline) -> Pending | None:
    branch = watched_branch(pipeline, repo.current_branch())
    if branch is None:
        return None
    runs = [r for r in store.runs(pipeline.name, limit=20) if r.branch == branch]
    if not runs:
        return None
    try:
        head = repo.resolve(branch)
        count = len(repo.commits_between(runs[0].commit, head.sha, limit=LIMIT))
    except GitError:
        return None
    return Pending(branch, count) if count else None
