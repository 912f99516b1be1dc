"""Rolling a stage back: which run to return to, and whether it still can be (RollbackStage).

A rollback is a new run of kind `rollback` that runs one stage only, with the target run's
commit, variables and artifacts: nothing is built again, and what is deployed is the very
artifact that was deployed then (its digest is in the ledger). As in CodePipeline it is
refused for a source stage, for a target that did not succeed in the stage or is itself a
rollback, and when the stage's structure changed since the target ran. The stage runs as
the target's pipeline file had it; the environment's rules are today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipedeck.definition import DefinitionError
from pipedeck.definition.loader import load_source
from pipedeck.definition.model import ActionKind, Pipeline, Stage
from pipedeck.engine.errors import EngineError
from pipedeck.engine.manifest import manifest_path
from pipedeck.engine.releases import deploy_targets
from pipedeck.store import RunRecord, StageDetail, Status, Store

ROLLBACK = "rollback"
"""`runs.kind` of a rollback run (and its trigger)."""


@dataclass(frozen=True, slots=True)
class RollbackPlan:
    pipeline: Pipeline
    """The target's pipeline, narrowed to the one stage, with today's environments."""
    stage: str
    target: RunRecord
    replaces: str | None
    """The commit going out (what the stage's environment runs now), if known."""


def stage_of(pipeline: Pipeline, name: str) -> Stage:
    names = [s.name for s in pipeline.stages]
    if name not in names:
        raise EngineError(f"{pipeline.name} has no stage {name!r} (stages: {', '.join(names)})")
    stage = pipeline.stage(name)
    if any(a.kind is ActionKind.SOURCE for a in stage.actions):
        raise EngineError(
            f"{name} is a source stage: it only reads the commit, so it has no release to roll back"
        )
    return stage


def _stage_record(store: Store, run: RunRecord, stage: str) -> StageDetail | None:
    return next((s for s in store.detail(run).stages if s.stage.name == stage), None)


def _succeeded_in(store: Store, run: RunRecord, stage: str) -> bool:
    found = _stage_record(store, run, stage)
    return found is not None and found.stage.status is Status.SUCCEEDED


def candidates(
    store: Store, pipeline: str, stage: str, before: int | None = None
) -> list[RunRecord]:
    """Runs a rollback of `stage` could return to, newest first: runs (not rollbacks) of
    `pipeline` that succeeded in it, numbered below `before` when given."""
    return [
        run
        for run in store.runs(pipeline, limit=500)
        if run.kind != ROLLBACK
        and (before is None or run.number < before)
        and _succeeded_in(store, run, stage)
    ]


def _released_run(store: Store, pipeline: Pipeline, stage: Stage) -> RunRecord | None:
    """The run whose release the stage's environment runs now (a rollback's target when
    the release came back with one)."""
    environment = deploy_targets(pipeline).get(stage.name)
    if environment is None:
        return None
    current = store.ledger.current(environment)
    if current is None:
        return None
    run = store.run_by_id(current.run_id)
    if run.kind == ROLLBACK and run.rollback_of is not None:
        return store.run_by_id(run.rollback_of)
    return run


def default_target(
    store: Store, pipeline: Pipeline, stage: Stage, failed: RunRecord | None = None
) -> RunRecord:
    """The run that last succeeded in the stage before the current release (or before
    `failed`, the run whose failure calls for the rollback)."""
    if failed is not None:
        before: int | None = failed.number
    else:
        released = _released_run(store, pipeline, stage)
        if released is None:
            newest = candidates(store, pipeline.name, stage.name)
            released = newest[0] if newest else None
        before = released.number if released is not None else None
        if released is None:
            raise EngineError(
                f"{pipeline.name} has no run that succeeded in {stage.name}:"
                " nothing to roll back to"
            )
    found = candidates(store, pipeline.name, stage.name, before)
    if not found:
        after = f" before {pipeline.name}/{before}" if before is not None else ""
        raise EngineError(f"no run{after} succeeded in {stage.name}: nothing to roll back to")
    return found[0]


def structure_changes(
    store: Store, target: RunRecord, stage: Stage, pipeline: Pipeline
) -> list[str]:
    """How the stage differs from what `target` ran: actions added or removed, a kind, a
    run order or a deploy's environment changed (a rollback must go where the release went)."""
    record = _stage_record(store, target, stage.name)
    then = {a.action.name: a.action for a in record.actions} if record else {}
    now = {a.name: a for a in stage.actions}
    changes = [f"action {name} added" for name in now if name not in then]
    changes += [f"action {name} removed" for name in then if name not in now]
    for name in now.keys() & then.keys():
        old, new = then[name], now[name]
        if old.kind != new.kind.value:
            changes.append(f"{name}: kind {old.kind} → {new.kind.value}")
        if old.run_order != new.run_order:
            changes.append(f"{name}: run order {old.run_order} → {new.run_order}")
        if new.kind is ActionKind.DEPLOY and old.kind == new.kind.value:
            going = pipeline.environment_of(stage, new)
            if old.environment is not None and old.environment != going:
                changes.append(f"{name}: environment {old.environment} → {going}")
    return sorted(changes)


def _missing_artifacts(store: Store, target: RunRecord, stage: Stage) -> list[str]:
    needed = {name for action in stage.actions for name in action.inputs}
    layout = store.layout(target)
    return sorted(name for name in needed if not _kept(layout.artifact(name)))


def _kept(artifact: Path) -> bool:
    """Still there as sealed: the tree and its manifest (the copy checks every hash)."""
    return artifact.is_dir() and manifest_path(artifact).is_file()


def _definition(store: Store, target: RunRecord, current: Pipeline) -> Pipeline:
    source = store.definition(target.id)
    if source is None:
        return current  # a run from before runs kept their file: the structure check vouches
    path = (
        Path(target.definition_path)
        if target.definition_path
        else current.path or Path(f"{current.name}.yml")
    )
    try:
        return load_source(path, source)
    except DefinitionError as exc:
        raise EngineError(f"{target.key}'s pipeline file no longer loads: {exc}") from None


def plan(
    store: Store,
    current: Pipeline,
    stage_name: str,
    target: RunRecord | None = None,
    failed: RunRecord | None = None,
) -> RollbackPlan:
    """Check a rollback of `stage_name` of `current` (the pipeline as its file is now) to
    `target` (default: see `default_target`) and say what it runs; EngineError if refused."""
    stage = stage_of(current, stage_name)
    if target is None:
        target = default_target(store, current, stage, failed)
    key = target.key
    if target.pipeline != current.name:
        raise EngineError(f"{key} is not a run of {current.name}")
    if target.kind == ROLLBACK:
        back = store.run_by_id(target.rollback_of).key if target.rollback_of else "its target"
        raise EngineError(
            f"{key} is itself a rollback; roll back to the run it brought back ({back})"
        )
    record = _stage_record(store, target, stage.name)
    if record is None or record.stage.status is not Status.SUCCEEDED:
        how = record.stage.status.look.words if record else "never reached it"
        raise EngineError(
            f"{key} did not succeed in {stage.name} ({how}): there is nothing of it to return to"
        )
    changes = structure_changes(store, target, stage, current)
    if changes:
        raise EngineError(
            f"{stage.name} changed since {key} ran ({'; '.join(changes)}): a rollback runs the"
            " stage as it was, so start a new run instead"
        )
    if target.pruned_at is not None or (missing := _missing_artifacts(store, target, stage)):
        what = f" ({', '.join(missing)})" if target.pruned_at is None else ""
        raise EngineError(f"{key}'s artifacts were pruned{what}: nothing is left to roll back with")
    then = _definition(store, target, current)
    try:
        old_stage = then.stage(stage.name)
    except KeyError:
        raise EngineError(f"{key}'s pipeline file has no stage {stage.name}") from None
    narrowed = then.model_copy(update={"stages": [old_stage], "environments": current.environments})
    released = _released_run(store, current, stage)
    return RollbackPlan(narrowed, stage.name, target, released.commit if released else None)
