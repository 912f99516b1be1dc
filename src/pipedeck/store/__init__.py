"""Run history on disk: SQLite metadata, append-only logs, artifact directories."""

from pipedeck.store.layout import RunLayout, default_state_dir
from pipedeck.store.records import (
    COMMITTED,
    WORKING_TREE,
    ActionDetail,
    ActionRecord,
    ApprovalRecord,
    Deployment,
    RunDetail,
    RunRecord,
    StageDetail,
    StageRecord,
)
from pipedeck.store.status import Status
from pipedeck.store.store import PlannedAction, PlannedStage, Store, StoreError

__all__ = [
    "COMMITTED",
    "WORKING_TREE",
    "ActionDetail",
    "ActionRecord",
    "ApprovalRecord",
    "Deployment",
    "PlannedAction",
    "PlannedStage",
    "RunDetail",
    "RunLayout",
    "RunRecord",
    "StageDetail",
    "StageRecord",
    "Status",
    "Store",
    "StoreError",
    "default_state_dir",
]
