"""The pipeline model: what a file in `pipelines/` may say, and nothing more.

Every model forbids unknown keys so a typo is an error, not a silently ignored setting.
Cross-field rules that need the whole pipeline (unique names, inputs that name earlier
outputs) live in `rules.py`, where each gets its own located message.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

from pipedeck.definition.durations import DURATION_PATTERN, parse_duration
from pipedeck.definition.fanout import (
    MATRIX_JSON_SCHEMA,
    MAX_SHARDS,
    Expansion,
    Matrix,
    expand,
    parse_matrix,
)
from pipedeck.definition.windows import check_window

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
MAX_NAME = 100
"""Names become file and directory names (`logs/<stage>/<action>.attempt-2.log`): longer
ones would make paths the file system refuses."""
MAX_RUN_ORDER = 999
"""CodePipeline's bound too."""
"""Names become directory names and environment-variable suffixes, so keep them plain."""


class ActionKind(StrEnum):
    """CodePipeline's six action categories."""

    SOURCE = "source"
    BUILD = "build"
    TEST = "test"
    DEPLOY = "deploy"
    APPROVAL = "approval"
    INVOKE = "invoke"


class ExecutionMode(StrEnum):
    """What a new run does while another run of the same pipeline is in progress."""

    SUPERSEDED = "superseded"
    QUEUED = "queued"
    PARALLEL = "parallel"


class When(StrEnum):
    """When an action runs, given what happened before it in the run."""

    ON_SUCCESS = "on_success"
    ON_FAILURE = "on_failure"
    ALWAYS = "always"

    def runs(self, failing: bool) -> bool:
        """Whether the action runs when an action before it failed (`failing`) or not."""
        if self is When.ALWAYS:
            return True
        return failing is (self is When.ON_FAILURE)


class _Strict(BaseModel):
    # Attribute docstrings become descriptions in the JSON Schema, shown by editors on hover.
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class _AlsoAccepts:
    """Adds the shorthand a BeforeValidator expands to the JSON Schema, so editors accept
    both forms (the schema otherwise describes only the validated, expanded form)."""

    def __init__(self, shorthand: dict[str, Any]) -> None:
        self.shorthand = shorthand

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [self.shorthand, handler(core_schema)]}


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ]
        }
    ),
]
"""Seconds; written in files as `30s`, `10m`, `2h`, `7d` (or a bare number of seconds)."""


def _stringify(value: Any) -> Any:
    """Variables and env values are strings. The loader already hands numbers over as the
    text written (`1.10` stays "1.10"); booleans, and numbers from Python callers, become
    text here."""
    if isinstance(value, dict):
        return {k: v if isinstance(v, str) else _scalar_text(v) for k, v in value.items()}
    return value


def _scalar_text(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


_TEXT_LIKE = {"type": ["string", "number", "boolean"]}
"""Values a YAML editor may see as numbers or booleans; the loader keeps them as text."""

StrMap = Annotated[
    dict[str, str],
    BeforeValidator(_stringify),
    WithJsonSchema({"type": "object", "additionalProperties": _TEXT_LIKE}),
]

VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
"""Variable names are referenced inside `#{...}` and exported to the environment."""

# The name pattern sits on the key type so an error points at the offending key.
VariableMap = Annotated[
    dict[Annotated[str, Field(pattern=VARIABLE_PATTERN)], str],
    BeforeValidator(_stringify),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": VARIABLE_PATTERN},
            "additionalProperties": _TEXT_LIKE,
        }
    ),
]


class Filter(_Strict):
    """Glob lists; a plain list in the file means `include`."""

    include: list[str] = Field(default_factory=list)
    """Globs that select; empty selects everything."""
    exclude: list[str] = Field(default_factory=list)
    """Globs that deselect what `include` selected."""


def _filter_from_list(value: Any) -> Any:
    if isinstance(value, list):
        return {"include": value}
    return value


FilterSpec = Annotated[
    Filter,
    BeforeValidator(_filter_from_list),
    _AlsoAccepts({"type": "array", "items": {"type": "string"}}),
]


class Trigger(_Strict):
    """Which pushes start a run."""

    branches: FilterSpec | None = None
    """Branch name globs, e.g. `[main, "release/*"]`."""
    paths: FilterSpec | None = None
    """Changed-file globs; a push that changes none of them does not start a run."""
    tags: FilterSpec | None = None
    """Tag name globs."""


class Output(_Strict):
    """An artifact an action produces.

    Without `paths`, the action fills `$PIPEDECK_OUTPUT_<NAME>` itself; with `paths`, the
    matching files are collected from the workspace after the action succeeds.
    """

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)]
    """The artifact's name; later actions list it in `inputs`."""
    paths: list[str] = Field(default_factory=list)
    """Globs, relative to the workspace, collected into the artifact."""


def _output_from_name(value: Any) -> Any:
    if isinstance(value, str):
        return {"name": value}
    return value


OutputSpec = Annotated[
    Output,
    BeforeValidator(_output_from_name),
    _AlsoAccepts({"type": "string", "pattern": NAME_PATTERN}),
]


class Secret(_Strict):
    """Where a secret's value comes from; exactly one of the three.

    Resolved by the engine when an action that lists it starts, never stored.
    """

    env: str | None = None
    """An environment variable of the engine (the console or `pipedeck watch`)."""
    file: str | None = None
    """A file outside the repository, yours and readable by no one else (like an ssh key)."""
    command: str | None = None
    """A command whose output is the value, e.g. `pass show ci/token`."""


SecretMap = dict[Annotated[str, Field(pattern=VARIABLE_PATTERN)], Secret]


class Cache(_Strict):
    """Files kept from one run to the next (a virtualenv, a compiler's cache), as actions/cache.

    Before the action starts, the cache saved under `key` (or else the newest whose key
    starts with one of `restore_keys`, tried in order) is copied into the workspace; after
    it succeeds, `paths` are saved under `key` unless a cache of that key exists already.
    """

    key: Annotated[str, Field(min_length=1, max_length=512)]
    """What the cached files depend on: `uv-#{hash:uv.lock}` changes when the lock file
    does. `#{hash:PATH}` is the SHA-256 of a workspace file (the first 16 hex digits)."""
    paths: Annotated[list[str], Field(min_length=1)]
    """Files and directories, relative to the workspace, saved and restored."""
    restore_keys: list[str] = Field(default_factory=list)
    """Key prefixes to fall back on when no cache has `key` exactly: the newest match wins."""


MatrixSpec = Annotated[
    Matrix,
    BeforeValidator(parse_matrix),
    WithJsonSchema(MATRIX_JSON_SCHEMA),
]


class Action(_Strict):
    """One unit of work in a stage."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)]
    """Unique within its stage."""
    kind: ActionKind
    run: str | None = None
    """The shell command; required for build, test, deploy and invoke, not allowed otherwise."""
    run_order: Annotated[int, Field(ge=1, le=MAX_RUN_ORDER)] = 1
    """Actions with the same number run in parallel; higher numbers wait for lower ones."""
    inputs: list[str] = Field(default_factory=list)
    """Artifacts produced by earlier actions; the first one becomes the workspace."""
    outputs: list[OutputSpec] = Field(default_factory=list)
    """Artifacts this action produces: a name, or `{name, paths}`."""
    env: StrMap = Field(default_factory=dict)
    """Extra environment variables for the command."""
    working_directory: str | None = None
    """Where the command runs, relative to the workspace."""
    timeout: Duration | None = None
    """How long the action may take, e.g. `10m`; an approval waits this long for a decision."""
    message: str | None = None
    """Approval only: the question shown to whoever decides."""
    environment: Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)] | None = None
    """Deploy only: where it deploys (`production`); its stage's name, in lower case, when
    not given. Recorded with the deployment; `environments` may set rules for it."""
    secrets: list[str] = Field(default_factory=list)
    """Names of the pipeline's `secrets` this action gets, as environment variables."""
    reports: list[str] = Field(default_factory=list)
    """Script actions: JUnit XML files the command writes, relative to the workspace
    (`report.xml`, `reports/*.xml`); kept with the run and read when it ends, failed or not."""
    when: When = When.ON_SUCCESS
    """on_success (default): runs while everything before it succeeded; on_failure: runs
    only after an action before it failed (a notice, a cleanup); always: runs either way.
    Nothing more runs once a run is cancelled or superseded."""
    parallel: Annotated[int, Field(ge=2, le=MAX_SHARDS)] | None = None
    """Script actions: run N copies at once (`unit 1/3` …), each with `PIPEDECK_SHARD` and
    `PIPEDECK_SHARDS` (and GitLab's `CI_NODE_INDEX`/`CI_NODE_TOTAL`); `pipedeck shard`
    gives each its share of the tests. They fail together and retry apart."""
    matrix: MatrixSpec | None = None
    """Script actions: one copy per combination of the values, e.g. `{python: ["3.11",
    "3.12"], db: [sqlite, postgres]}`, with `exclude:`/`include:` as GitHub Actions. Each
    gets `PIPEDECK_MATRIX_<KEY>` and `#{matrix.KEY}`."""
    fail_fast: bool | None = None
    """With `matrix` (default true): the first combination that fails stops the others.
    With `parallel` (default false): every shard runs to its end."""
    cache: Cache | None = None
    """Script actions: files restored before the command and saved after it succeeds."""
    _expansion: Expansion | None = PrivateAttr(default=None)

    @property
    def output_names(self) -> list[str]:
        return [o.name for o in self.outputs]

    @property
    def expansion(self) -> Expansion | None:
        """What this copy is of a `parallel` or `matrix` action: set when its stage expands
        it, never written in a file."""
        return self._expansion

    @property
    def group(self) -> str:
        """The name written in the file: the same for every shard or combination."""
        return self._expansion.group if self._expansion else self.name

    @property
    def label(self) -> str:
        """How people see it: `unit 2/3`, `test (python=3.12, db=sqlite)`, or its name."""
        return self._expansion.label if self._expansion else self.name

    @property
    def stops_siblings(self) -> bool:
        """A failure of this copy ends the other copies of its group still running."""
        if self._expansion is None:
            return False
        if self.fail_fast is not None:
            return self.fail_fast
        return self._expansion.cell is not None


class RetryMode(StrEnum):
    FAILED_ACTIONS = "failed_actions"
    ALL_ACTIONS = "all_actions"


class OnFailure(_Strict):
    """What a stage does when it fails (CodePipeline's `onFailure`)."""

    retry: RetryMode | None = None
    """Run the stage again at once: its failed actions, or all of them."""
    attempts: Annotated[int, Field(ge=1, le=10)] = 1
    """How many times to retry before giving up (with `retry`)."""
    rollback: bool = False
    """Then roll the stage back to the last run that succeeded in it: a new run of kind
    `rollback` with that run's commit and artifacts. Not in `parallel` mode."""


def _on_failure_from_word(value: Any) -> Any:
    if value == "rollback":
        return {"rollback": True}
    return value


OnFailureSpec = Annotated[
    OnFailure,
    BeforeValidator(_on_failure_from_word),
    _AlsoAccepts({"const": "rollback"}),
]


class Stage(_Strict):
    """A step of the pipeline; its actions run by `run_order`."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)]
    """Unique within the pipeline."""
    actions: Annotated[list[Action], Field(min_length=1)]
    on_failure: OnFailureSpec | None = None
    """`rollback`, or `{retry: failed_actions|all_actions, attempts: N, rollback: true}`."""

    @model_validator(mode="after")
    def _expand(self) -> Stage:
        """A `parallel` or `matrix` action becomes its copies, here, once: everything after
        validation (the store, the engine, the console) sees the actions that run."""
        if not any(a.parallel or a.matrix for a in self.actions):
            return self
        actions: list[Action] = []
        for action in self.actions:
            if not (action.parallel or action.matrix):
                actions.append(action)
                continue
            for name, expansion in expand(action.name, action.parallel, action.matrix):
                copy = action.model_copy(update={"name": name, "parallel": None, "matrix": None})
                copy._expansion = expansion
                actions.append(copy)
        # A copy named like another action is the rules' to locate (`fanout_rules`); the
        # stage keeps its actions as written, for that message to be the only one.
        names = [a.name for a in actions]
        if len(set(names)) != len(names):
            return self
        return self.model_copy(update={"actions": actions})

    def groups(self) -> list[list[Action]]:
        """Actions bucketed by run order, lowest first; each bucket runs concurrently."""
        orders = sorted({a.run_order for a in self.actions})
        return [[a for a in self.actions if a.run_order == o] for o in orders]


class Approval(StrEnum):
    """Whether a deploy waits for a person: continuous delivery or continuous deployment."""

    REQUIRED = "required"
    NONE = "none"


Window = Annotated[str, BeforeValidator(check_window)]


def _check_approver(value: Any) -> Any:
    if isinstance(value, str) and (not value or value != "".join(value.split())):
        raise ValueError(f"an approver is one OS account name, without spaces (got {value!r})")
    return value


Approver = Annotated[str, BeforeValidator(_check_approver), Field(max_length=MAX_NAME)]


class Environment(_Strict):
    """Where deploys go, and the rules a deploy there obeys."""

    approval: Approval = Approval.NONE
    """required: a person approves every deploy (an approval action earlier in the run
    counts; otherwise the deploy itself waits); none: deploys go out on their own."""
    approvers: list[Approver] = Field(default_factory=list)
    """OS account names that may decide; empty: anyone."""
    prevent_self_approval: bool = False
    """The commit's author (by git e-mail) may not approve its deploy."""
    wait_timer: Duration | None = None
    """How long a deploy waits before it may start, e.g. `10m`."""
    window: Window | None = None
    """When deploys may start: cron in local time, open from each moment it names to the
    end of that hour (`0 9-17 * * 1-5`: weekdays 09:00-17:59)."""
    branches: FilterSpec | None = None
    """Only runs of these branches deploy here, e.g. `[main]`."""


class Retention(_Strict):
    """How much history the state directory keeps."""

    runs: Annotated[int, Field(ge=1)] = 50
    """The newest runs kept whole; older ones lose their files (workspaces, logs,
    artifacts) but stay in the history. What an environment runs now, and the releases a
    rollback can return to, are always kept."""


class Pipeline(_Strict):
    """A file in `pipelines/`."""

    name: Annotated[str, Field(pattern=NAME_PATTERN, max_length=MAX_NAME)]
    """Unique among the repository's pipelines."""
    trigger: Trigger | Literal["manual"] | None = None
    """Which pushes start a run, or `manual` for runs started only by hand."""
    execution_mode: ExecutionMode = ExecutionMode.SUPERSEDED
    """superseded (default): a newer run overtakes an older one; queued: runs go one at a
    time, in order; parallel: runs are independent of each other."""
    variables: VariableMap = Field(default_factory=dict)
    """Pipeline variables: names of letters, digits and `_`; values are text."""
    env: StrMap = Field(default_factory=dict)
    """Environment variables for every action."""
    secrets: SecretMap = Field(default_factory=dict)
    """Secrets, by name: `{env: VAR}`, `{file: PATH}` or `{command: "..."}`. Only actions
    that list a name in their own `secrets` get it; it is masked in every log."""
    environments: dict[Annotated[str, Field(pattern=NAME_PATTERN)], Environment] = Field(
        default_factory=dict
    )
    """Where this pipeline deploys, by name; a deploy names one in `environment`."""
    retention: Retention = Field(default_factory=Retention)
    stages: Annotated[list[Stage], Field(min_length=1)]
    path: SkipJsonSchema[Path | None] = Field(default=None, exclude=True)
    """The file it was loaded from; set by the loader, never written in the file."""
    sha256: SkipJsonSchema[str | None] = Field(default=None, exclude=True)
    """The SHA-256 of the very bytes it was parsed from: what trust is checked against, so
    the content that runs is the content that was trusted. Set by the loader."""
    source: SkipJsonSchema[bytes | None] = Field(default=None, exclude=True, repr=False)
    """Those bytes themselves: a run keeps them, so an engine that takes it up later runs
    what it began with, whatever the file says by then. Set by the loader."""

    def environment_of(self, stage: Stage, action: Action) -> str:
        return action.environment or stage.name.lower()

    def environment(self, name: str) -> Environment:
        """The rules for `name`; an environment the file does not declare has none."""
        return self.environments.get(name) or Environment()

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)
