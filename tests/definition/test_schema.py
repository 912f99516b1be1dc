"""The JSON Schema editors use: committed copy in sync, draft-07, shorthands accepted.

jsonschema is not a dependency, so `check` below validates the small set of draft-07
keywords the schema uses, and fails on any keyword it does not know, so the schema cannot
grow past what this test really checks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import pipedeck.definition
from pipedeck.definition import pipeline_schema, pipeline_schema_json

from .conftest import EXAMPLE

COMMITTED = Path(pipedeck.definition.__file__).parent / "pipeline.schema.json"
_ANNOTATIONS = {"title", "description", "default", "$schema", "definitions"}


def check(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Draft-07 errors of `value` for the keywords the pipeline schema uses."""
    errors: list[str] = []
    for keyword, rule in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "$ref":
            target = root
            for part in rule.removeprefix("#/").split("/"):
                target = target[part]
            errors += check(value, target, root)
        elif keyword == "anyOf":
            if all(check(value, option, root) for option in rule):
                errors.append(f"{value!r} matches no anyOf option")
        elif keyword == "type":
            if not any(_is(value, t) for t in ([rule] if isinstance(rule, str) else rule)):
                errors.append(f"{value!r} is not {rule}")
        elif keyword == "enum":
            errors += [] if value in rule else [f"{value!r} not in {rule}"]
        elif keyword == "const":
            errors += [] if value == rule else [f"{value!r} != {rule!r}"]
        elif keyword == "pattern":
            if isinstance(value, str) and not re.search(rule, value):
                errors.append(f"{value!r} does not match {rule}")
        elif keyword in ("minimum", "exclusiveMinimum", "minItems", "maximum", "maxLength"):
            errors += _bounds(keyword, rule, value)
        elif keyword == "patternProperties":
            if isinstance(value, dict):
                for pattern, sub in rule.items():
                    for k, v in value.items():
                        if re.search(pattern, k):
                            errors += check(v, sub, root)
        elif keyword in ("properties", "additionalProperties", "required", "propertyNames"):
            errors += _object(keyword, rule, value, schema, root)
        elif keyword == "items":
            if isinstance(value, list):
                for item in value:
                    errors += check(item, rule, root)
        else:
            raise AssertionError(f"the schema uses {keyword!r}, which this test does not check")
    return errors


def _is(value: Any, kind: str) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "string": isinstance(value, str),
        "boolean": isinstance(value, bool),
        "null": value is None,
        "number": number,
        "integer": number and float(value).is_integer(),
    }[kind]


def _bounds(keyword: str, rule: Any, value: Any) -> list[str]:
    if keyword == "minItems":
        return [f"fewer than {rule} items"] if isinstance(value, list) and len(value) < rule else []
    if keyword == "maxLength":
        return [f"longer than {rule}"] if isinstance(value, str) and len(value) > rule else []
    if keyword == "maximum":
        return [f"{value!r} is above {rule}"] if _is(value, "number") and value > rule else []
    if not _is(value, "number"):
        return []
    ok = value >= rule if keyword == "minimum" else value > rule
    return [] if ok else [f"{value!r} is below {rule}"]


def _object(keyword: str, rule: Any, value: Any, schema: dict[str, Any], root: Any) -> list[str]:
    if not isinstance(value, dict):
        return []
    known = schema.get("properties", {})
    if keyword == "properties":
        return [e for k, v in value.items() if k in rule for e in check(v, rule[k], root)]
    if keyword == "required":
        return [f"missing {k!r}" for k in rule if k not in value]
    if keyword == "propertyNames":
        return [e for k in value for e in check(k, rule, root)]
    extra = [k for k in value if k not in known]
    if rule is False:
        return [f"unknown key {k!r}" for k in extra]
    return [e for k in extra for e in check(value[k], rule, root)]


def validate(document: Any) -> list[str]:
    schema = pipeline_schema()
    return check(document, schema, schema)


def test_committed_schema_is_in_sync() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == pipeline_schema_json(), (
        "src/pipedeck/definition/pipeline.schema.json is out of date; regenerate it with "
        "`uv run pipedeck schema > src/pipedeck/definition/pipeline.schema.json` "
        '(or: uv run python -c "from pipedeck.definition import pipeline_schema_json; '
        "print(pipeline_schema_json(), end='')\" > src/pipedeck/definition/pipeline.schema.json)"
    )


def test_schema_is_draft_07_and_self_contained() -> None:
    schema = pipeline_schema()
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert schema["title"] == "pipedeck pipeline"
    assert schema["additionalProperties"] is False
    text = json.dumps(schema)
    assert "$defs" not in text
    for ref in re.findall(r'"\$ref": "#/definitions/(\w+)"', text):
        assert ref in schema["definitions"]
    assert "path" not in schema["properties"], "the loader sets path; a file may not"


def test_the_example_file_is_valid_for_an_editor() -> None:
    # An editor reads YAML with its own typing (numbers are numbers); that must pass too.
    assert validate(yaml.safe_load(EXAMPLE)) == []


@pytest.mark.parametrize(
    ("top", "action"),
    [
        ({"trigger": "manual"}, {"timeout": "1h30m"}),
        ({"trigger": {"branches": ["main"], "tags": {"include": ["v*"]}}}, {"timeout": 90}),
        ({"env": {"PORT": 8080, "DEBUG": True, "PY": 3.1}}, {"env": {"N": 1}}),
        ({"variables": {"VERSION": 1.1}}, {"outputs": ["wheel", {"name": "d", "paths": ["*"]}]}),
    ],
)
def test_shorthands_and_typed_values_are_accepted(
    top: dict[str, Any], action: dict[str, Any]
) -> None:
    full_action = {"name": "a", "kind": "build", "run": "make", **action}
    assert validate({"name": "p", "stages": [{"name": "S", "actions": [full_action]}], **top}) == []


@pytest.mark.parametrize(
    ("patch", "error"),
    [
        ({"timout": "10m"}, "unknown key 'timout'"),
        ({"kind": "biuld"}, "'biuld' not in"),
        ({"timeout": "soon"}, "matches no anyOf option"),
        ({"run_order": 0}, "0 is below 1"),
    ],
)
def test_mistakes_are_flagged(patch: dict[str, Any], error: str) -> None:
    action = {"name": "a", "kind": "build", "run": "make", **patch}
    errors = validate({"name": "p", "stages": [{"name": "S", "actions": [action]}]})
    assert any(error in e for e in errors), errors


def test_bad_variable_names_are_flagged() -> None:
    errors = validate({"name": "p", "variables": {"1st": "x"}, "stages": []})
    assert any("does not match" in e for e in errors)
