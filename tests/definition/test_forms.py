"""The forms a file may use: durations, shorthands, triggers, execution modes."""

from __future__ import annotations

import pytest

from pipedeck.definition import ExecutionMode, load_pipeline
from pipedeck.definition.durations import parse_duration
from pipedeck.definition.model import Filter, Output, Trigger

from .conftest import Problems, Write


def with_action(action: str, top: str = "") -> str:
    return f"name: p\n{top}stages:\n  - name: S\n    actions:\n      - {action}\n"


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("2h", 7200.0),
        ("7d", 604800.0),
        ("1.5h", 5400.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("90", 90.0),
        ("2.5", 2.5),
    ],
)
def test_durations(write: Write, written: str, seconds: float) -> None:
    path = write(with_action(f"{{name: a, kind: build, run: make, timeout: {written}}}"))
    assert load_pipeline(path).stages[0].actions[0].timeout == seconds


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("10x", "'10x' is not a duration; write it like 30s, 10m, 2h, 7d or 1h30m"),
        ("ten minutes", "'ten minutes' is not a duration; write it like 30s, 10m, 2h, 7d or 1h30m"),
        ("-5m", "'-5m' is not a duration; write it like 30s, 10m, 2h, 7d or 1h30m"),
        ("m", "'m' is not a duration; write it like 30s, 10m, 2h, 7d or 1h30m"),
        ("''", "'' is not a duration; write it like 30s, 10m, 2h, 7d or 1h30m"),
        ("0s", "a duration must be longer than zero"),
        ("0", "a duration must be longer than zero"),
        ("true", "a duration must be like 30s or 10m, not true"),
    ],
)
def test_bad_durations(problems: Problems, written: str, message: str) -> None:
    found = problems(with_action(f"{{name: a, kind: build, run: make, timeout: {written}}}"))
    assert found == [f"5:52: stages[0].actions[0].timeout: {message}"]


def test_parse_duration_from_python_values() -> None:
    assert parse_duration(45) == 45.0
    assert parse_duration(0.5) == 0.5
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration(-1)
    with pytest.raises(ValueError, match="longer than zero"):
        parse_duration(float("nan"))
    assert parse_duration([1]) == [1], "other types are left for pydantic to report"


def test_outputs_as_names_or_mappings(write: Write) -> None:
    path = write(
        with_action(
            '{name: a, kind: build, run: make, outputs: [wheel, {name: docs, paths: ["site/**"]}]}'
        )
    )
    action = load_pipeline(path).stages[0].actions[0]
    assert action.outputs == [Output(name="wheel"), Output(name="docs", paths=["site/**"])]
    assert action.output_names == ["wheel", "docs"]


def test_filters_as_lists_or_mappings(write: Write) -> None:
    top = (
        "trigger:\n"
        "  branches: [main, release/*]\n"
        "  paths: {include: [src/**], exclude: [docs/**]}\n"
    )
    trigger = load_pipeline(write(with_action("{name: a, kind: build, run: make}", top))).trigger
    assert trigger == Trigger(
        branches=Filter(include=["main", "release/*"]),
        paths=Filter(include=["src/**"], exclude=["docs/**"]),
    )
    assert trigger.tags is None


def test_manual_trigger_and_no_trigger(write: Write) -> None:
    action = "{name: a, kind: build, run: make}"
    assert load_pipeline(write(with_action(action, "trigger: manual\n"))).trigger == "manual"
    assert load_pipeline(write(with_action(action))).trigger is None


@pytest.mark.parametrize("mode", ["superseded", "queued", "parallel"])
def test_execution_modes(write: Write, mode: str) -> None:
    path = write(with_action("{name: a, kind: build, run: make}", f"execution_mode: {mode}\n"))
    assert load_pipeline(path).execution_mode is ExecutionMode(mode)


def test_execution_mode_defaults_to_superseded(write: Write) -> None:
    path = write(with_action("{name: a, kind: build, run: make}"))
    assert load_pipeline(path).execution_mode is ExecutionMode.SUPERSEDED


def test_run_order_groups(write: Write) -> None:
    path = write(
        "name: p\nstages:\n  - name: S\n    actions:\n"
        "      - {name: c, kind: test, run: c, run_order: 2}\n"
        "      - {name: a, kind: test, run: a}\n"
        "      - {name: b, kind: test, run: b, run_order: 1}\n"
    )
    groups = load_pipeline(path).stages[0].groups()
    assert [[a.name for a in group] for group in groups] == [["a", "b"], ["c"]]
