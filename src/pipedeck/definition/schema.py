"""The JSON Schema of a pipeline file, for editors (YAML language servers) and tooling.

It is pydantic's validation schema of `Pipeline`, made draft-07 (`definitions` instead of
`$defs`), because that is the draft YAML editors support best. The shorthands a file may
use (an output as a bare name, a filter as a bare list, a duration as `10m`, numbers in
`env`) are part of the models' schema annotations, so a valid file is never flagged.
The committed copy next to this module is kept equal to `pipeline_schema_json()` by a test.
"""

from __future__ import annotations

import json
from typing import Any

from pipedeck.definition.model import Pipeline

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_LEADING = ("description", "type", "required", "properties", "additionalProperties")


def pipeline_schema() -> dict[str, Any]:
    """JSON Schema (draft-07) of a file in `pipelines/`."""
    generated = Pipeline.model_json_schema(mode="validation", ref_template="#/definitions/{model}")
    definitions = generated.pop("$defs", {})
    generated.pop("title", None)
    # Pydantic sorts keys; put what a reader looks for first.
    head = {k: generated.pop(k) for k in _LEADING if k in generated}
    return {
        "$schema": DRAFT_07,
        "title": "pipedeck pipeline",
        **head,
        **generated,
        "definitions": definitions,
    }


def pipeline_schema_json() -> str:
    """The schema as written to `pipeline.schema.json`: 2-space indent, trailing newline."""
    return json.dumps(pipeline_schema(), indent=2, sort_keys=False) + "\n"
