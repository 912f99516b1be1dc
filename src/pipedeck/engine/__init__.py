"""The headless engine: runs pipelines, emits events, never draws.

This namespace is the engine's public API, the only one the console and the command line use.
Each name loads its module on first use, so a command that only reads the history never
loads what running a pipeline needs (see `pipedeck.lazy`)."""

from typing import TYPE_CHECKING

from pipedeck.lazy import Exports

if TYPE_CHECKING:
    from pipedeck.engine.caches import CacheEntry, CacheError, Caches, Saved
    from pipedeck.engine.client import Client
    from pipedeck.engine.context import Settings
    from pipedeck.engine.engine import Engine
    from pipedeck.engine.errors import (
        USER_ERRORS,
        EngineError,
        ProjectError,
        RequestError,
        TrustError,
    )
    from pipedeck.engine.events import (
        ActionFinished,
        ActionStarted,
        ApprovalDecided,
        ApprovalRequested,
        Event,
        LogLines,
        RunEvent,
        RunFinished,
        RunsPruned,
        RunStarted,
        StageFinished,
        StageStarted,
        TriggerSkipped,
        WatchStarted,
    )
    from pipedeck.engine.follow import RunFollower
    from pipedeck.engine.liveness import RepoLock, engine_alive, lock_holder
    from pipedeck.engine.pending import pending_commits
    from pipedeck.engine.project import Project
    from pipedeck.engine.provenance import current_user
    from pipedeck.engine.recovery import recover
    from pipedeck.engine.releases import (
        EnvironmentView,
        deploy_targets,
        environments,
        set_approval,
    )
    from pipedeck.engine.requests import (
        approve,
        cancel,
        disable_transition,
        enable_transition,
        reject,
        request_retry,
        request_rollback,
        request_start,
    )
    from pipedeck.engine.retention import (
        DEFAULT_RUNS,
        human_size,
        plan_prune,
        prune,
    )
    from pipedeck.engine.service import REQUEST_PATIENCE, EngineService
    from pipedeck.engine.sharding import split_files
    from pipedeck.engine.trust import (
        TrustState,
        TrustStore,
        digest_of,
        reviewed_commands,
    )

__all__ = [
    "DEFAULT_RUNS",
    "REQUEST_PATIENCE",
    "USER_ERRORS",
    "ActionFinished",
    "ActionStarted",
    "ApprovalDecided",
    "ApprovalRequested",
    "CacheEntry",
    "CacheError",
    "Caches",
    "Client",
    "Engine",
    "EngineError",
    "EngineService",
    "EnvironmentView",
    "Event",
    "LogLines",
    "Project",
    "ProjectError",
    "RepoLock",
    "RequestError",
    "RunEvent",
    "RunFinished",
    "RunFollower",
    "RunStarted",
    "RunsPruned",
    "Saved",
    "Settings",
    "StageFinished",
    "StageStarted",
    "TriggerSkipped",
    "TrustError",
    "TrustState",
    "TrustStore",
    "WatchStarted",
    "approve",
    "cancel",
    "current_user",
    "deploy_targets",
    "digest_of",
    "disable_transition",
    "enable_transition",
    "engine_alive",
    "environments",
    "human_size",
    "lock_holder",
    "pending_commits",
    "plan_prune",
    "prune",
    "recover",
    "reject",
    "request_retry",
    "request_rollback",
    "request_start",
    "reviewed_commands",
    "set_approval",
    "split_files",
]
__getattr__ = Exports(
    __name__,
    {
        "ActionFinished": "events",
        "ActionStarted": "events",
        "ApprovalDecided": "events",
        "ApprovalRequested": "events",
        "CacheEntry": "caches",
        "CacheError": "caches",
        "Caches": "caches",
        "Client": "client",
        "DEFAULT_RUNS": "retention",
        "Engine": "engine",
        "EngineError": "errors",
        "EngineService": "service",
        "EnvironmentView": "releases",
        "Event": "events",
        "LogLines": "events",
        "Project": "project",
        "ProjectError": "errors",
        "REQUEST_PATIENCE": "service",
        "RepoLock": "liveness",
        "RequestError": "errors",
        "RunEvent": "events",
        "RunFinished": "events",
        "RunFollower": "follow",
        "RunStarted": "events",
        "RunsPruned": "events",
        "Saved": "caches",
        "Settings": "context",
        "StageFinished": "events",
        "StageStarted": "events",
        "TriggerSkipped": "events",
        "TrustError": "errors",
        "TrustState": "trust",
        "TrustStore": "trust",
        "USER_ERRORS": "errors",
        "WatchStarted": "events",
        "approve": "requests",
        "cancel": "requests",
        "current_user": "provenance",
        "deploy_targets": "releases",
        "digest_of": "trust",
        "disable_transition": "requests",
        "enable_transition": "requests",
        "engine_alive": "liveness",
        "environments": "releases",
        "human_size": "retention",
        "lock_holder": "liveness",
        "pending_commits": "pending",
        "plan_prune": "retention",
        "prune": "retention",
        "recover": "recovery",
        "reject": "requests",
        "request_retry": "requests",
        "request_rollback": "requests",
        "request_start": "requests",
        "reviewed_commands": "trust",
        "set_approval": "releases",
        "split_files": "sharding",
    },
)
