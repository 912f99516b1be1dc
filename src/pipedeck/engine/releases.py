"""What is deployed where: one view of every environment, for the CLI and the console.

An environment is known when a pipeline file declares it, a deploy names it, the ledger has
a deploy to it, or a person switched its approval rule: any of these, so an environment
whose pipeline was renamed still shows what it runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pipedeck.definition.model import ActionKind, Approval, Environment, Pipeline
from pipedeck.engine.errors import RequestError
from pipedeck.engine.provenance import current_user
from pipedeck.gitrepo import GitError
from pipedeck.store import Deployment, Store
from pipedeck.store.ledger import EnvironmentSetting

if TYPE_CHECKING:
    from pipedeck.engine.project import Project
    from pipedeck.gitrepo import GitRepo


@dataclass(frozen=True, slots=True)
class EnvironmentView:
    name: str
    rules: Environment
    approval: Approval
    """The rule in force: the file's, or a person's switch."""
    setting: EnvironmentSetting | None
    pipelines: list[str]
    """The pipelines that deploy here (by their files)."""
    current: Deployment | None
    behind: int | None
    """Commits on the current release's branch since it, when that can be told."""
    on_the_way: list[str] = field(default_factory=list)
    """Runs in progress that will deploy here."""
    rules_differ: list[str] = field(default_factory=list)
    """Pipelines whose files give this environment different rules (each deploy obeys its
    own pipeline's); `rules` are the first one's."""

    def to_dict(self) -> dict[str, Any]:
        rules = self.rules
        return {
            "environment": self.name,
            "approval": self.approval.value,
            "approval_set_by": self.setting.set_by if self.setting else None,
            "approval_set_at": self.setting.set_at if self.setting else None,
            "approvers": rules.approvers,
            "prevent_self_approval": rules.prevent_self_approval,
            "wait_timer": rules.wait_timer,
            "window": rules.window,
            "branches": rules.branches.include if rules.branches else None,
            "pipelines": self.pipelines,
            "current": self.current.to_dict() if self.current else None,
            "behind": self.behind,
            "on_the_way": self.on_the_way,
            "rules_differ_in": self.rules_differ,
        }


def deploy_targets(pipeline: Pipeline) -> dict[str, str]:
    """Stage name → the environment its first deploy feeds (for the stage graph)."""
    targets: dict[str, str] = {}
    for stage in pipeline.stages:
        for action in stage.actions:
            if action.kind is ActionKind.DEPLOY:
                targets.setdefault(stage.name, pipeline.environment_of(stage, action))
    return targets


def environments(
    store: Store, repo: GitRepo | None, pipelines: list[Pipeline]
) -> list[EnvironmentView]:
    """Every known environment, by name; `repo` (None: unknown) counts commits behind."""
    declared: dict[str, Environment] = {}
    users: dict[str, list[str]] = {}
    differ: dict[str, list[str]] = {}
    for pipeline in pipelines:
        own = set(pipeline.environments) | set(deploy_targets(pipeline).values())
        for name in sorted(own):
            rules = declared.setdefault(name, pipeline.environment(name))
            if rules != pipeline.environment(name):
                differ[name] = []  # filled below: every pipeline that deploys there
            users.setdefault(name, []).append(pipeline.name)
    for name in differ:
        differ[name] = users[name]
    settings = store.ledger.settings()
    names = sorted(set(declared) | set(store.ledger.environments()) | set(settings))
    views = []
    for name in names:
        rules = declared.get(name) or Environment()
        setting = settings.get(name)
        current = store.ledger.current(name)
        views.append(
            EnvironmentView(
                name=name,
                rules=rules,
                approval=Approval(setting.approval) if setting else rules.approval,
                setting=setting,
                pipelines=users.get(name, []),
                current=current,
                behind=_behind(repo, store, current),
                on_the_way=[store.run_by_id(i).key for i in store.ledger.on_the_way(name)],
                rules_differ=differ.get(name, []),
            )
        )
    return views


def _behind(repo: GitRepo | None, store: Store, current: Deployment | None) -> int | None:
    if current is None or repo is None:
        return None
    branch = store.run_by_id(current.run_id).branch
    try:
        if branch is None or not repo.is_branch(branch):
            return None
        return repo.count_between(current.commit, branch)
    except GitError:
        return None


def set_approval(
    project: Project, environment: str, approval: str, by: str | None = None
) -> EnvironmentSetting:
    """Switch an environment between delivery (`required`) and deployment (`none`)."""
    views = environments(project.store, project.repo, project.load().pipelines)
    known = [view.name for view in views]
    if environment not in known:
        listed = ", ".join(known) or "none yet"
        raise RequestError(f"no environment {environment!r} (environments: {listed})")
    value = Approval(approval)
    return project.store.ledger.set_approval(environment, value.value, by or current_user())
