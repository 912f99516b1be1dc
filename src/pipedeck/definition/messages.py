"""Pydantic's validation errors, said in plain sentences and located in the file.

Pydantic's error paths follow the model, not the file: they contain union branch tags
(`trigger.Trigger.branches`) and keys that a shorthand added (`outputs[0].name` when the
file says just `- wheel`). `data_path` walks the error path over the parsed file data and
keeps only the steps the file really has, so the location printed is one the user wrote.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pipedeck.definition.errors import DataPath, Finding
from pipedeck.definition.model import NAME_PATTERN, VARIABLE_PATTERN, Pipeline

_HIDDEN_FIELDS = frozenset({"path", "sha256", "source"})
"""Model fields the loader fills in; a file may not set them."""


def translate(error: ValidationError, data: Any) -> list[Finding]:
    """One finding per pydantic error, minus the noise of union branches not meant."""
    details = error.errors(include_url=False)
    return [_finding(d, data) for d in _meant(details, data)]


def data_path(loc: tuple[str | int, ...], data: Any) -> tuple[DataPath, Any]:
    """The part of `loc` that exists in `data`, and the value found there."""
    path: list[str | int] = []
    node = data
    for part in loc:
        in_mapping = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            path.append(part)
        # otherwise a union tag or a key a shorthand added: not written in the file
    return tuple(path), node


def fields_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model allows in the mapping at `loc` (empty if it is not a model)."""
    model: type[BaseModel] | None = Pipeline
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int) or part not in model.model_fields:
            continue  # list index or union tag
        model = _model_in(model.model_fields[part].annotation)
    if model is None:
        return []
    return [name for name in model.model_fields if name not in _HIDDEN_FIELDS]


def unknown_key(key: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key {key!r}; did you mean {close[0]!r}?"
    return f"unknown key {key!r}; expected one of {', '.join(allowed)}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _is_literal_branch(loc: tuple[str | int, ...]) -> bool:
    return any(isinstance(part, str) and part.startswith("literal[") for part in loc)


def _meant(details: list[ErrorDetails], data: Any) -> list[ErrorDetails]:
    """Keep the errors of the union branch the user meant (`trigger: manual` vs a mapping).

    When the value is a mapping, the mapping branch's errors say what is wrong; when it is
    not, one literal error ("must be 'manual' or a mapping") speaks for both branches.
    """
    literal_paths = {data_path(d["loc"], data)[0] for d in details if _is_literal_branch(d["loc"])}
    kept = []
    for detail in details:
        path, value = data_path(detail["loc"], data)
        if _is_literal_branch(detail["loc"]) and isinstance(value, dict):
            continue
        if detail["type"] == "model_type" and path in literal_paths:
            continue
        kept.append(detail)
    return kept


def _finding(detail: ErrorDetails, data: Any) -> Finding:
    loc = tuple(detail["loc"])
    path, value = data_path(loc, data)
    kind = detail["type"]
    ctx = detail.get("ctx") or {}
    label = _label(path)
    if kind == "missing":
        return Finding(path, f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        return Finding(path, unknown_key(str(loc[-1]), fields_at(loc[:-1])), "key")
    if kind in ("enum", "literal_error"):
        return Finding(path, _choice(label, loc, str(ctx.get("expected", "")), value))
    if kind == "too_short":
        return Finding(path, _too_short(path, ctx))
    if loc[-1] == "[key]" and ctx.get("pattern") == VARIABLE_PATTERN:
        message = (
            f"variable name {loc[-2]!r} may contain only letters, digits and '_', "
            "and must not start with a digit"
        )
        return Finding(path, message, "key")
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        message = (
            f"{label} {value!r} may contain only letters, digits, '_', '.' and '-', "
            "and must start with a letter or digit"
        )
        return Finding(path, message)
    if kind == "value_error" and "error" in ctx:
        return Finding(path, str(ctx["error"]))
    return Finding(path, _type_message(kind, label, path, value, ctx, detail["msg"]))


def _type_message(
    kind: str, label: str, path: DataPath, value: Any, ctx: dict[str, Any], fallback: str
) -> str:
    got = _describe(value)
    if kind == "string_type":
        return f"{label} must be a string (got {got})"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{label} must be a whole number (got {got})"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        word = "at least" if kind == "greater_than_equal" else "more than"
        return f"{label} must be {word} {bound} (got {got})"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        word = "at most" if kind == "less_than_equal" else "less than"
        return f"{label} must be {word} {bound} (got {got})"
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        return f"{label} is longer than {limit} characters; paths made from it would be too long"
    if kind in ("float_type", "float_parsing") and path and path[-1] == "timeout":
        return f"{label} must be a duration like 30s, 10m, 2h or 7d (got {got})"
    if kind in ("float_type", "float_parsing"):
        return f"{label} must be a number (got {got})"
    if kind == "list_type":
        return f"{label} must be a list (got {got})"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{label} must be {_mapping_or_shorthand(path)} (got {got})"
    return f"{label}: {fallback[:1].lower()}{fallback[1:]}"


def _mapping_or_shorthand(path: DataPath) -> str:
    """Name the shorthand too where the model accepts one (see the models' BeforeValidators)."""
    if len(path) >= 2 and path[-2] == "outputs":
        return "an artifact name or a mapping with name and paths"
    if len(path) >= 2 and path[-2] == "trigger" and path[-1] in ("branches", "paths", "tags"):
        return "a list of globs or a mapping with include and exclude"
    return "a mapping"


def _choice(label: str, loc: tuple[str | int, ...], expected: str, value: Any) -> str:
    options = re.findall(r"'([^']*)'", expected)
    if _is_literal_branch(loc):
        allowed = " or ".join(repr(o) for o in options) + " or a mapping"
        return f"{label} must be {allowed} (got {_describe(value)})"
    message = f"{label} must be one of {', '.join(options)} (got {_describe(value)})"
    if isinstance(value, str):
        close = difflib.get_close_matches(value.lower(), options, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
    return message


def _too_short(path: DataPath, ctx: dict[str, Any]) -> str:
    last = path[-1] if path else ""
    if last == "stages":
        return "a pipeline needs at least one stage"
    if last == "actions":
        return "a stage needs at least one action"
    return f"{_label(path)} needs at least {ctx.get('min_length', 1)} item(s)"


def _label(path: DataPath) -> str:
    """What to call the value at `path` in a sentence: `timeout`, `inputs[0]`, `env.DEBUG`."""
    indices = ""
    end = len(path)
    while end and isinstance(path[end - 1], int):
        indices = f"[{path[end - 1]}]" + indices
        end -= 1
    if not end:
        return "the pipeline" if not indices else f"item{indices}"
    name = str(path[end - 1])
    if end >= 2 and path[end - 2] in ("env", "variables"):
        name = f"{path[end - 2]}.{name}"
    return name + indices


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
