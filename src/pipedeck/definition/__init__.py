"""Pipeline definitions: the model, the YAML loader that locates every problem, and the
JSON Schema. Pure: nothing here touches anything but the files it is asked to read."""

from typing import TYPE_CHECKING

from pipedeck.lazy import Exports

if TYPE_CHECKING:
    from pipedeck.definition.errors import DefinitionError, Problem
    from pipedeck.definition.loader import LoadResult, load_committed, load_pipeline, load_pipelines
    from pipedeck.definition.model import Action, ActionKind, ExecutionMode, Pipeline, Stage
    from pipedeck.definition.schema import pipeline_schema, pipeline_schema_json

__all__ = [
    "Action",
    "ActionKind",
    "DefinitionError",
    "ExecutionMode",
    "LoadResult",
    "Pipeline",
    "Problem",
    "Stage",
    "load_committed",
    "load_pipeline",
    "load_pipelines",
    "pipeline_schema",
    "pipeline_schema_json",
]
__getattr__ = Exports(
    __name__,
    {
        "Action": "model",
        "ActionKind": "model",
        "DefinitionError": "errors",
        "ExecutionMode": "model",
        "LoadResult": "loader",
        "Pipeline": "model",
        "Problem": "errors",
        "Stage": "model",
        "load_committed": "loader",
        "load_pipeline": "loader",
        "load_pipelines": "loader",
        "pipeline_schema": "schema",
        "pipeline_schema_json": "schema",
    },
)
