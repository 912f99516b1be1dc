"""Rules that need the whole pipeline, not one field: unique names, artifacts that flow
from earlier actions to later ones, and which keys each action kind takes.

They run on the parsed file data rather than the validated model, so a file with a typo
in one place still gets every rule checked everywhere else: all problems in one go.
Anything malformed (a stage that is not a mapping, an unknown kind) is skipped here,
because validation already reports it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pipedeck.definition import fanout_rules
from pipedeck.definition.errors import DataPath, Finding
from pipedeck.definition.model import ActionKind
from pipedeck.definition.references import (
    PIPELINE_NAMES,
    REFERENCE,
    RESERVED_PREFIX,
    SOURCE_NAMES,
)

_KINDS = frozenset(kind.value for kind in ActionKind)
_NEEDS_RUN = frozenset({ActionKind.BUILD, ActionKind.TEST, ActionKind.DEPLOY, ActionKind.INVOKE})


@dataclass(frozen=True)
class _Action:
    path: DataPath
    stage_index: int
    label: str
    """`Stage/action`, as users see it in the console."""
    raw: dict[str, Any]
    kind: ActionKind | None
    run_order: int | None
    """None when the file's run_order is not a whole number (validation reports that)."""


def check(data: dict[str, Any], line_of: Callable[[DataPath], int]) -> list[Finding]:
    """Every structural problem of a pipeline; `line_of` says where a path's value starts."""
    stages = data.get("stages")
    if not isinstance(stages, list):
        return []
    findings = list(_unique_names(stages, line_of))
    actions = list(_actions(stages))
    for action in actions:
        findings.extend(_kind_rules(action))
    findings.extend(_artifacts(actions, line_of))
    findings.extend(_reserved_names(data, actions))
    findings.extend(_secrets(data, actions))
    findings.extend(_references(data, actions))
    findings.extend(_inside_workspace(actions))
    findings.extend(_unicode(data, ()))
    findings.extend(_delivery(data, stages, actions))
    findings.extend(fanout_rules.check(actions))
    return findings


def _tag_safe(name: str) -> str | None:
    """Environment names become tags (`pipedeck/<name>`); git refuses some names."""
    if ".." in name or name.endswith((".", ".lock")):
        return (
            f"{name!r} cannot name an environment: it names a git tag, and tags cannot"
            " contain '..' or end in '.' or '.lock'"
        )
    return None


def _delivery(data: dict[str, Any], stages: list[Any], actions: list[_Action]) -> Iterator[Finding]:
    """Environments name tags; a rollback needs a stage that can be rolled back."""
    environments = data.get("environments")
    if isinstance(environments, dict):
        for name in environments:
            if isinstance(name, str) and (problem := _tag_safe(name)):
                yield Finding(("environments", name), problem, "key")
    fed: set[str] = set()
    for action in actions:
        if action.kind is not ActionKind.DEPLOY:
            continue
        name = action.raw.get("environment")
        if isinstance(name, str):
            fed.add(name)
            if problem := _tag_safe(name):
                yield Finding((*action.path, "environment"), problem)
            continue
        stage_name = stages[action.stage_index].get("name")
        if name is None and isinstance(stage_name, str):
            # No `environment:`: the stage's name in lower case, which must name a tag too.
            fed.add(stage_name.lower())
            if problem := _tag_safe(stage_name.lower()):
                yield Finding(
                    ("stages", action.stage_index, "name"),
                    f"{problem}; name this deploy's environment (environment: NAME)",
                )
    if isinstance(environments, dict):
        for name in environments:
            if isinstance(name, str) and name not in fed:
                # Rules no deploy obeys are a gate that is not there: say so, not nothing.
                feeds = ", ".join(sorted(fed)) or "none"
                yield Finding(
                    ("environments", name),
                    f"no deploy of this pipeline goes to {name!r}, so its rules guard nothing"
                    f" (its deploys go to: {feeds}; a deploy without `environment:` goes to"
                    " its stage's name in lower case)",
                    "key",
                )
    parallel = data.get("execution_mode") == "parallel"
    for si, stage in _items(stages):
        rule = stage.get("on_failure")
        if not (rule == "rollback" or (isinstance(rule, dict) and rule.get("rollback") is True)):
            continue
        path: DataPath = ("stages", si, "on_failure")
        if parallel:
            yield Finding(
                path,
                "a stage cannot roll back in parallel execution mode: its runs do not"
                " replace each other",
            )
        kinds = [a.kind for a in actions if a.stage_index == si]
        if ActionKind.SOURCE in kinds:
            yield Finding(path, "a source stage cannot roll back: it only reads the commit")


def _references(data: dict[str, Any], actions: list[_Action]) -> Iterator[Finding]:
    """Every `#{ns.NAME}` names something that exists, and exists before it is needed."""
    variables = data.get("variables")
    declared = set(variables) if isinstance(variables, dict) else set()
    by_name = {a.raw.get("name"): a for a in actions if isinstance(a.raw.get("name"), str)}
    sources: dict[str, _Action] = {}
    for action in actions:
        if action.kind is ActionKind.SOURCE:
            sources[str(action.raw.get("name"))] = action
            for _, output in _items(action.raw.get("outputs"), dicts_only=False):
                name = output.get("name") if isinstance(output, dict) else output
                if isinstance(name, str):
                    sources[name] = action
    pipeline_env = data.get("env")
    texts: list[tuple[DataPath, Any, _Action | None]] = []
    if isinstance(pipeline_env, dict):
        texts += [(("env", k), v, None) for k, v in pipeline_env.items()]
    for action in actions:
        for key in ("run", "message"):
            texts.append(((*action.path, key), action.raw.get(key), action))
        env = action.raw.get("env")
        if isinstance(env, dict):
            texts += [((*action.path, "env", k), v, action) for k, v in env.items()]
        cache = action.raw.get("cache")
        if isinstance(cache, dict):
            texts.append(((*action.path, "cache", "key"), cache.get("key"), action))
    for path, text, user in texts:
        if not isinstance(text, str):
            continue
        for match in REFERENCE.finditer(text):
            namespace, name = match.group(1), match.group(2)
            problem = _reference_problem(namespace, name, user, declared, sources, by_name)
            if problem:
                yield Finding(path, f"{match.group(0)}: {problem}")


def _reference_problem(
    namespace: str,
    name: str,
    user: _Action | None,
    declared: set[str],
    sources: dict[str, _Action],
    by_name: dict[Any, _Action],
) -> str | None:
    if namespace == "variables":
        if name in declared:
            return None
        return f"no variable {name!r} is declared (variables: {', '.join(declared) or 'none'})"
    if namespace == "pipeline":
        if name in PIPELINE_NAMES:
            return None
        return f"#{{pipeline.*}} has {', '.join(sorted(PIPELINE_NAMES))}"
    if namespace == "matrix":
        return fanout_rules.matrix_reference_problem(user, name)
    producer = sources.get(namespace) or by_name.get(namespace)
    if producer is None:
        if namespace == "source":
            return "there is no source action (add one with outputs: [source])"
        return f"no action or source artifact is named {namespace!r}"
    if fanout_rules.copied(producer.raw):
        return f"{producer.label} runs as several copies, whose variables cannot be told apart"
    if producer.kind is ActionKind.SOURCE and name not in SOURCE_NAMES:
        return f"a source action exports {', '.join(sorted(SOURCE_NAMES))}"
    if user is not None and not _runs_before(producer, user):
        return f"{producer.label} does not run before this action"
    return None


def _runs_before(producer: _Action, user: _Action) -> bool:
    if producer.stage_index != user.stage_index:
        return producer.stage_index < user.stage_index
    if producer.run_order is None or user.run_order is None:
        return True  # the bad run_order is reported by validation
    return producer.run_order < user.run_order


def _inside_workspace(actions: list[_Action]) -> Iterator[Finding]:
    """`working_directory` and output `paths` are relative and stay in the workspace."""
    for action in actions:
        where = action.raw.get("working_directory")
        if isinstance(where, str) and _escapes(where):
            message = f"working_directory {where!r} must stay inside the workspace"
            yield Finding((*action.path, "working_directory"), message)
        for ri, pattern in _items(action.raw.get("reports"), dicts_only=False):
            if isinstance(pattern, str) and _escapes(pattern):
                message = f"report {pattern!r} must be relative to the workspace"
                yield Finding((*action.path, "reports", ri), message)
        for oi, output in _items(action.raw.get("outputs")):
            for pi, pattern in _items(output.get("paths"), dicts_only=False):
                if isinstance(pattern, str) and _escapes(pattern):
                    message = f"output path {pattern!r} must be relative to the workspace"
                    yield Finding((*action.path, "outputs", oi, "paths", pi), message)


def _escapes(path: str) -> bool:
    return path.startswith(("/", "~")) or ".." in path.replace("\\", "/").split("/")


def _unicode(value: Any, path: DataPath) -> Iterator[Finding]:
    """Text that is no valid Unicode (a lone surrogate, written as an escape in YAML) would
    fail whatever writes it later: a log, the database, a terminal."""
    if isinstance(value, str):
        if not _encodable(value):
            yield Finding(path, "is not valid Unicode text (it holds a lone surrogate)")
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not _encodable(key):
                yield Finding((*path, key), "is not valid Unicode text (a lone surrogate)", "key")
            yield from _unicode(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unicode(item, (*path, index))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_SECRET_SOURCES = ("env", "file", "command")


def _secrets(data: dict[str, Any], actions: list[_Action]) -> Iterator[Finding]:
    declared = data.get("secrets")
    declared = declared if isinstance(declared, dict) else {}
    for name, source in declared.items():
        if not isinstance(source, dict):
            continue  # validation says what it should be
        given = [key for key in _SECRET_SOURCES if key in source]
        if len(given) != 1:
            message = f"secret {name!r} takes exactly one of env, file or command"
            yield Finding(("secrets", name), message)
        elif given == ["file"] and not str(source["file"]).startswith(("/", "~")):
            message = (
                "a secret's file is an absolute path (or starts with ~), outside the repository"
            )
            yield Finding(("secrets", name, "file"), message)
    for action in actions:
        wanted = action.raw.get("secrets")
        if wanted is None:
            continue
        if action.kind is not None and action.kind not in _NEEDS_RUN:
            kind = _a(action.kind)
            message = f"'secrets' is only for actions that run a command (this is {kind} action)"
            yield Finding((*action.path, "secrets"), message, "key")
            continue
        for index, name in _items(wanted, dicts_only=False):
            if isinstance(name, str) and name not in declared:
                known = ", ".join(declared) or "none"
                message = f"no secret named {name!r} in the pipeline's secrets (declared: {known})"
                yield Finding((*action.path, "secrets", index), message)


def _reserved_names(data: dict[str, Any], actions: list[_Action]) -> Iterator[Finding]:
    """`PIPEDECK_*` cannot be set: overriding the run marker hides processes from cleanup,
    and overriding an artifact path points an action at another's files."""
    places: list[tuple[DataPath, Any, str]] = [
        (("variables",), data.get("variables"), "a variable"),
        (("secrets",), data.get("secrets"), "a secret"),
        (("env",), data.get("env"), "an environment variable"),
    ]
    places += [((*a.path, "env"), a.raw.get("env"), "an environment variable") for a in actions]
    for path, mapping, what in places:
        if not isinstance(mapping, dict):
            continue
        for name in mapping:
            if isinstance(name, str) and name.startswith(RESERVED_PREFIX):
                message = f"{name!r} cannot be {what}: {RESERVED_PREFIX}* names are pipedeck's"
                yield Finding((*path, name), message, "key")


def _unique_names(stages: list[Any], line_of: Callable[[DataPath], int]) -> Iterator[Finding]:
    seen_stages: dict[str, DataPath] = {}
    for si, stage in enumerate(stages):
        if not isinstance(stage, dict):
            continue
        name = stage.get("name")
        if isinstance(name, str):
            path: DataPath = ("stages", si, "name")
            if name in seen_stages:
                first = line_of(seen_stages[name])
                yield Finding(path, f"duplicate stage name {name!r} (first at line {first})")
            else:
                seen_stages[name] = path
        seen_actions: dict[str, DataPath] = {}
        for ai, action in _items(stage.get("actions")):
            action_name = action.get("name")
            if not isinstance(action_name, str):
                continue
            path = ("stages", si, "actions", ai, "name")
            if action_name in seen_actions:
                first = line_of(seen_actions[action_name])
                message = f"duplicate action name {action_name!r} (first at line {first})"
                yield Finding(path, message)
            else:
                seen_actions[action_name] = path


def _actions(stages: list[Any]) -> Iterator[_Action]:
    for si, stage in _items(stages):
        stage_name = stage.get("name") if isinstance(stage.get("name"), str) else f"stages[{si}]"
        for ai, raw in _items(stage.get("actions")):
            name = raw.get("name") if isinstance(raw.get("name"), str) else f"actions[{ai}]"
            kind = raw.get("kind")
            yield _Action(
                path=("stages", si, "actions", ai),
                stage_index=si,
                label=f"{stage_name}/{name}",
                raw=raw,
                kind=ActionKind(kind) if isinstance(kind, str) and kind in _KINDS else None,
                run_order=_run_order(raw.get("run_order", 1)),
            )


def _kind_rules(action: _Action) -> Iterator[Finding]:
    kind, raw, path = action.kind, action.raw, action.path
    if kind is None:
        return
    run = raw.get("run")
    if kind in _NEEDS_RUN:
        message = f"{_a(kind)} action needs 'run', the command it runs"
        if "run" not in raw:
            yield Finding(path, message)
        elif run is None or (isinstance(run, str) and not run.strip()):
            yield Finding((*path, "run"), message)
    if kind is ActionKind.APPROVAL and run is not None:
        yield Finding((*path, "run"), "an approval action runs no command; remove 'run'", "key")
    if kind is ActionKind.SOURCE and run is not None:
        message = "a source action exports the commit and runs no command; remove 'run'"
        yield Finding((*path, "run"), message, "key")
    if kind is ActionKind.SOURCE and raw.get("outputs") in (None, []):
        message = "a source action needs an output to export the commit into, e.g. [source]"
        yield Finding((*path, "outputs") if "outputs" in raw else path, message)
    if kind is not ActionKind.APPROVAL and "message" in raw:
        message = f"'message' is only for approval actions (this is {_a(kind)} action)"
        yield Finding((*path, "message"), message, "key")
    for key in ("when", "reports"):
        if kind in (ActionKind.SOURCE, ActionKind.APPROVAL) and key in raw:
            message = f"'{key}' is for actions that run a command (this is {_a(kind)} action)"
            yield Finding((*path, key), message, "key")
    if kind is not ActionKind.DEPLOY and "environment" in raw:
        message = f"'environment' is only for deploy actions (this is {_a(kind)} action)"
        yield Finding((*path, "environment"), message, "key")


def _artifacts(actions: list[_Action], line_of: Callable[[DataPath], int]) -> Iterator[Finding]:
    producers: dict[str, _Action] = {}
    for action in actions:
        for oi, output in _items(action.raw.get("outputs"), dicts_only=False):
            name = output.get("name") if isinstance(output, dict) else output
            if not isinstance(name, str):
                continue
            path: DataPath = (*action.path, "outputs", oi)
            first = producers.get(name)
            if first is None:
                producers[name] = action
                continue
            message = (
                f"artifact {name!r} is already produced by {first.label} "
                f"(line {line_of(first.path)}); artifact names must be unique in a pipeline"
            )
            yield Finding(path, message)
    for action in actions:
        for ii, wanted in _items(action.raw.get("inputs"), dicts_only=False):
            if isinstance(wanted, str):
                problem = _input_problem(wanted, action, producers)
                if problem:
                    yield Finding((*action.path, "inputs", ii), problem)


def _input_problem(name: str, action: _Action, producers: dict[str, _Action]) -> str | None:
    producer = producers.get(name)
    if producer is None:
        message = f"no action produces artifact {name!r}"
        close = difflib.get_close_matches(name, list(producers), n=1)
        return message + (f"; did you mean {close[0]!r}?" if close else "")
    if producer is action:
        return f"artifact {name!r} is this action's own output; it cannot also be an input"
    if producer.stage_index < action.stage_index:
        return None
    if producer.stage_index == action.stage_index:
        if producer.run_order is None or action.run_order is None:
            return None  # the bad run_order is reported by validation
        if producer.run_order < action.run_order:
            return None
    return (
        f"artifact {name!r} is produced by {producer.label}, which does not run before this action"
    )


def _a(kind: ActionKind) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _run_order(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _items(value: Any, *, dicts_only: bool = True) -> Iterator[tuple[int, Any]]:
    """Index and item of a list from the file; nothing if it is not a list."""
    if not isinstance(value, list):
        return
    for index, item in enumerate(value):
        if isinstance(item, dict) or not dicts_only:
            yield index, item
