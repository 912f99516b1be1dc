"""The headless engine: runs pipelines, emits events, never draws."""

from pipedeck.engine.context import Settings
from pipedeck.engine.engine import Engine, EngineError
from pipedeck.engine.project import Project, ProjectError
from pipedeck.engine.provenance import current_user
from pipedeck.engine.requests import RequestError

__all__ = [
    "Engine",
    "EngineError",
    "Project",
    "ProjectError",
    "RequestError",
    "Settings",
    "current_user",
]
