"""Validation errors in plain sentences, at the line and column the user has to fix."""

from __future__ import annotations

from .conftest import Problems


def one_action(line: str = "", top: str = "", kind: str = "build") -> str:
    """A pipeline with one action; `line` goes at line 8, in the action, and `top` after
    `name: p`."""
    return (
        f"name: p\n{top}stages:\n  - name: Build\n    actions:\n      - name: wheel\n"
        f"        kind: {kind}\n        run: make\n        {line}\n"
    )


def test_bad_timeout_points_at_its_value(problems: Problems) -> None:
    found = problems(one_action("timeout: soon"))
    assert found == [
        "8:18: stages[0].actions[0].timeout: 'soon' is not a duration; "
        "write it like 30s, 10m, 2h, 7d or 1h30m"
    ]


def test_unknown_key_suggests_the_close_one_at_the_key(problems: Problems) -> None:
    found = problems(one_action("timout: 10m"))
    assert found == [
        "8:9: stages[0].actions[0].timout: unknown key 'timout'; did you mean 'timeout'?"
    ]


def test_unknown_key_without_a_close_one_lists_the_allowed_keys(problems: Problems) -> None:
    found = problems(
        "name: p\ncolour: blue\nstages: [{name: S, actions: [{name: a, kind: approval}]}]\n"
    )
    assert found == [
        "2:1: colour: unknown key 'colour'; expected one of name, trigger, execution_mode, "
        "variables, env, secrets, environments, retention, stages"
    ]


def test_unknown_keys_in_nested_models_suggest_from_that_model(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        trigger: {branch: [main], paths: {includes: [src]}}
        stages:
          - name: Build
            actions:
              - {name: wheel, kind: build, run: make, outputs: [{nam: wheel}]}
        """
    )
    assert found == [
        "2:11: trigger.branch: unknown key 'branch'; did you mean 'branches'?",
        "2:35: trigger.paths.includes: unknown key 'includes'; did you mean 'include'?",
        "6:57: stages[0].actions[0].outputs[0]: missing required key 'name'",
        "6:58: stages[0].actions[0].outputs[0].nam: unknown key 'nam'; did you mean 'name'?",
    ]


def test_a_path_key_is_not_settable_from_the_file(problems: Problems) -> None:
    found = problems(
        "name: p\npath: /etc\nstages: [{name: S, actions: [{name: a, kind: approval}]}]\n"
    )
    assert found == [
        "2:1: path: unknown key 'path'; expected one of name, trigger, execution_mode, "
        "variables, env, secrets, environments, retention, stages"
    ]


def test_bad_kind_lists_the_choices_and_suggests(problems: Problems) -> None:
    found = problems(one_action(kind="biuld"))
    assert found == [
        "6:15: stages[0].actions[0].kind: kind must be one of source, build, test, deploy, "
        "approval, invoke (got 'biuld'); did you mean 'build'?"
    ]


def test_bad_execution_mode(problems: Problems) -> None:
    found = problems(one_action(top="execution_mode: fast\n"))
    assert found == [
        "2:17: execution_mode: execution_mode must be one of superseded, queued, parallel "
        "(got 'fast')"
    ]


def test_missing_key_points_at_the_mapping_that_lacks_it(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        stages:
          - name: Build
            actions:
              - name: wheel
                run: make
        """
    )
    assert found == ["5:9: stages[0].actions[0]: missing required key 'kind'"]


def test_missing_top_level_keys_are_file_level(problems: Problems) -> None:
    assert problems("trigger: manual\n") == [
        "1:1: missing required key 'name'",
        "1:1: missing required key 'stages'",
    ]


def test_empty_stages_and_actions_say_so(problems: Problems) -> None:
    assert problems("name: p\nstages: []\n") == ["2:9: stages: a pipeline needs at least one stage"]
    assert problems("name: p\nstages:\n  - name: Build\n    actions: []\n") == [
        "4:14: stages[0].actions: a stage needs at least one action"
    ]


def test_wrong_types(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        env: [A, B]
        stages:
          - name: Build
            actions:
              - {name: a, kind: build, run: make, inputs: source, run_order: first}
              - {name: b, kind: build, run: [make], run_order: 0, timeout: [1]}
        """
    )
    assert found == [
        "2:6: env: env must be a mapping (got a list)",
        "6:51: stages[0].actions[0].inputs: inputs must be a list (got 'source')",
        "6:70: stages[0].actions[0].run_order: run_order must be a whole number (got 'first')",
        "7:37: stages[0].actions[1].run: run must be a string (got a list)",
        "7:56: stages[0].actions[1].run_order: run_order must be at least 1 (got '0')",
        "7:68: stages[0].actions[1].timeout: timeout must be a duration like 30s, 10m, 2h or 7d "
        "(got a list)",
    ]


def test_names_must_be_plain(problems: Problems) -> None:
    found = problems(
        """\
        name: my pipeline
        stages:
          - name: Build
            actions:
              - {name: wheel, kind: build, run: make, outputs: [ok, "not ok"]}
        """
    )
    suffix = (
        "may contain only letters, digits, '_', '.' and '-', and must start with a letter or digit"
    )
    assert found == [
        f"1:7: name: name 'my pipeline' {suffix}",
        f"5:61: stages[0].actions[0].outputs[1]: outputs[1] 'not ok' {suffix}",
    ]


def test_bad_variable_name_points_at_the_key(problems: Problems) -> None:
    found = problems(one_action(top="variables:\n  OK: 1\n  1st: x\n"))
    assert found == [
        "4:3: variables[\"1st\"]: variable name '1st' may contain only letters, digits and '_', "
        "and must not start with a digit"
    ]


def test_trigger_that_is_neither_manual_nor_a_mapping_is_one_problem(problems: Problems) -> None:
    found = problems(one_action(top="trigger: nightly\n"))
    assert found == ["2:10: trigger: trigger must be 'manual' or a mapping (got 'nightly')"]
    found = problems(one_action(top="trigger: [main]\n"))
    assert found == ["2:10: trigger: trigger must be 'manual' or a mapping (got a list)"]


def test_filter_items_must_be_strings(problems: Problems) -> None:
    found = problems(one_action(top="trigger: {branches: [main, {a: 1}]}\n"))
    assert found == ["2:28: trigger.branches[1]: branches[1] must be a string (got a mapping)"]


def test_every_problem_of_a_file_at_once_in_file_order(problems: Problems) -> None:
    found = problems(
        """\
        name: release
        execution_mode: queue
        stages:
          - name: Source
            actions:
              - {name: checkout, kind: source, outputs: [source], timout: 1m}
          - name: Build
            actions:
              - name: wheel
                kind: build
                inputs: [sources]
                run: make
                run: make all
                timeout: 10x
          - name: Build
            actions:
              - {name: ok, kind: approval, message: "Ship?", environment: prod}
        """
    )
    assert found == [
        "2:17: execution_mode: execution_mode must be one of superseded, queued, parallel "
        "(got 'queue'); did you mean 'queued'?",
        "6:59: stages[0].actions[0].timout: unknown key 'timout'; did you mean 'timeout'?",
        "11:18: stages[1].actions[0].inputs[0]: no action produces artifact 'sources'; "
        "did you mean 'source'?",
        "13:9: stages[1].actions[0].run: duplicate key 'run' (first at line 12)",
        "14:18: stages[1].actions[0].timeout: '10x' is not a duration; "
        "write it like 30s, 10m, 2h, 7d or 1h30m",
        "15:11: stages[2].name: duplicate stage name 'Build' (first at line 7)",
        "17:54: stages[2].actions[0].environment: 'environment' is only for deploy actions "
        "(this is an approval action)",
    ]


def test_wrong_shape_where_a_shorthand_is_allowed_names_both_forms(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        trigger: {branches: main}
        stages:
          - name: Build
            actions:
              - {name: wheel, kind: build, run: make, outputs: [wheel, [dist]]}
        """
    )
    assert found == [
        "2:21: trigger.branches: branches must be a list of globs or a mapping with include "
        "and exclude (got 'main')",
        "6:64: stages[0].actions[0].outputs[1]: outputs[1] must be an artifact name or a "
        "mapping with name and paths (got a list)",
    ]
