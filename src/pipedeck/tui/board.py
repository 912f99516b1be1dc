"""What the main screen shows besides the run itself, worked out from the store.

Plain functions of the state, so the screen only decides when to call them and where the
answers go. (What needs files or git is read on the survey's thread: `survey.py`.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipedeck.store import (
    ActionDetail,
    ActionRecord,
    RunDetail,
    RunRecord,
    StageDetail,
    StageRecord,
    Status,
    Store,
)
from pipedeck.tui.widgets.run_list import PipelineRow
from pipedeck.tui.widgets.stage_graph import StageMarks

if TYPE_CHECKING:
    from pipedeck.definition import Pipeline

FAILED = (Status.FAILED, Status.TIMED_OUT, Status.REJECTED, Status.INTERRUPTED)


def stage_marks(store: Store, detail: RunDetail | None, rows: list[PipelineRow]) -> StageMarks:
    """Runs waiting to enter each stage of the shown pipeline, and disabled transitions."""
    if detail is None:
        return StageMarks()
    pipeline = detail.run.pipeline
    waiting: dict[str, list[str]] = {}
    for row in rows:
        if row.name == pipeline:
            for run in row.runs:
                if run.waiting_for and run.status.active:
                    waiting.setdefault(run.waiting_for, []).append(f"#{run.number}")
    held = {stage: t.reason for stage, t in store.transitions.of_pipeline(pipeline).items()}
    return StageMarks(waiting, held)


def telling_action(detail: RunDetail) -> tuple[str, str] | None:
    """The action a person most wants to see: waiting, running, failed, or the last."""
    pairs = detail.actions()
    for wanted in (Status.WAITING, Status.RUNNING, *FAILED):
        for stage, action in pairs:
            if action.action.status is wanted:
                return stage.name, action.action.name
    started = [(s, a) for s, a in pairs if a.action.started_at]
    if started:
        stage, action = started[-1]
        return stage.name, action.action.name
    return None


def planned(pipeline: Pipeline) -> RunDetail:
    """What a run of `pipeline` would look like before it starts: every action queued.

    Shown for a pipeline that never ran, so its graph is there to read (and its stages to
    select, for `d`). Nothing about it is in the store: its ids are never looked up.
    """
    run = RunRecord(
        id=-1,
        pipeline=pipeline.name,
        number=0,
        status=Status.QUEUED,
        commit="",
        commit_subject="",
        branch=None,
        trigger="",
        variables={},
        created_at="",
        started_at=None,
        finished_at=None,
        engine_id=None,
        cancel_requested=False,
        error=None,
    )
    stages = []
    for s_pos, stage in enumerate(pipeline.stages):
        record = StageRecord(-1, -1, s_pos, stage.name, Status.QUEUED, None, None)
        actions = [
            ActionDetail(
                ActionRecord(
                    id=-1,
                    run_id=-1,
                    stage_id=-1,
                    position=a_pos,
                    name=action.name,
                    kind=action.kind.value,
                    run_order=action.run_order,
                    status=Status.QUEUED,
                    started_at=None,
                    finished_at=None,
                    exit_code=None,
                    pid=None,
                    log_path=None,
                    error=None,
                    environment=(
                        pipeline.environment_of(stage, action)
                        if action.kind.value == "deploy"
                        else None
                    ),
                    group_name=action.group if action.expansion else None,
                    label=action.label if action.expansion else None,
                )
            )
            for a_pos, action in enumerate(stage.actions)
        ]
        stages.append(StageDetail(record, actions))
    return RunDetail(run, stages)
