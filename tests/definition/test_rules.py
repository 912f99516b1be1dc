"""Structural rules: unique names, artifacts flowing forward, what each action kind takes."""

from __future__ import annotations

import pytest

from pipedeck.definition import load_pipeline

from .conftest import Problems, Write


def stages(*lines: str) -> str:
    """A pipeline whose `stages:` list is the given lines (each already indented)."""
    return "name: p\nstages:\n" + "".join(f"{line}\n" for line in lines)


def test_stage_names_are_unique(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions: [{name: a, kind: build, run: make}]",
            "  - name: Build",
            "    actions: [{name: b, kind: build, run: make}]",
        )
    )
    assert found == ["5:11: stages[1].name: duplicate stage name 'Build' (first at line 3)"]


def test_action_names_are_unique_within_a_stage_only(problems: Problems, write: Write) -> None:
    found = problems(
        stages(
            "  - name: Test",
            "    actions:",
            "      - {name: unit, kind: test, run: pytest}",
            "      - {name: unit, kind: test, run: pytest -x}",
        )
    )
    assert found == [
        "6:16: stages[0].actions[1].name: duplicate action name 'unit' (first at line 5)"
    ]
    path = write(
        stages(
            "  - name: Test",
            "    actions: [{name: unit, kind: test, run: pytest}]",
            "  - name: Again",
            "    actions: [{name: unit, kind: test, run: pytest}]",
        )
    )
    assert [s.actions[0].name for s in load_pipeline(path).stages] == ["unit", "unit"]


def test_artifact_names_are_unique_across_the_pipeline(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions: [{name: wheel, kind: build, run: make, outputs: [dist]}]",
            "  - name: Docs",
            "    actions: [{name: site, kind: build, run: mkdocs, outputs: [{name: dist}]}]",
        )
    )
    assert found == [
        "6:64: stages[1].actions[0].outputs[0]: artifact 'dist' is already produced by "
        "Build/wheel (line 4); artifact names must be unique in a pipeline"
    ]


def test_input_nobody_produces(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions: [{name: wheel, kind: build, run: make, outputs: [wheel]}]",
            "  - name: Ship",
            "    actions: [{name: up, kind: deploy, run: up, inputs: [wheels, docs]}]",
        )
    )
    assert found == [
        "6:58: stages[1].actions[0].inputs[0]: no action produces artifact 'wheels'; "
        "did you mean 'wheel'?",
        "6:66: stages[1].actions[0].inputs[1]: no action produces artifact 'docs'",
    ]


def test_input_from_a_later_stage(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Test",
            "    actions: [{name: unit, kind: test, run: pytest, inputs: [wheel]}]",
            "  - name: Build",
            "    actions: [{name: wheel, kind: build, run: make, outputs: [wheel]}]",
        )
    )
    assert found == [
        "4:62: stages[0].actions[0].inputs[0]: artifact 'wheel' is produced by Build/wheel, "
        "which does not run before this action"
    ]


def test_input_from_the_same_stage_needs_a_lower_run_order(
    problems: Problems, write: Write
) -> None:
    same_order = stages(
        "  - name: Build",
        "    actions:",
        "      - {name: wheel, kind: build, run: make, outputs: [wheel]}",
        "      - {name: check, kind: test, run: twine check, inputs: [wheel]}",
    )
    assert problems(same_order) == [
        "6:62: stages[0].actions[1].inputs[0]: artifact 'wheel' is produced by Build/wheel, "
        "which does not run before this action"
    ]
    later = same_order.replace("inputs: [wheel]", "inputs: [wheel], run_order: 2")
    check = load_pipeline(write(later)).stages[0].actions[1]
    assert (check.inputs, check.run_order) == (["wheel"], 2)


def test_input_that_is_the_actions_own_output(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions: [{name: w, kind: build, run: make, inputs: [w], outputs: [w]}]",
        )
    )
    assert found == [
        "4:58: stages[0].actions[0].inputs[0]: artifact 'w' is this action's own output; "
        "it cannot also be an input"
    ]


def test_approval_runs_no_command(problems: Problems) -> None:
    found = problems(
        stages("  - name: Gate", "    actions:", "      - {name: ok, kind: approval, run: echo}")
    )
    assert found == [
        "5:36: stages[0].actions[0].run: an approval action runs no command; remove 'run'"
    ]


@pytest.mark.parametrize("kind", ["build", "test", "deploy", "invoke"])
def test_commands_are_required(problems: Problems, kind: str) -> None:
    article = "an" if kind == "invoke" else "a"
    found = problems(stages("  - name: S", "    actions:", f"      - {{name: x, kind: {kind}}}"))
    assert found == [
        f"5:9: stages[0].actions[0]: {article} {kind} action needs 'run', the command it runs"
    ]


def test_an_empty_command_is_a_missing_command(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: S",
            "    actions:",
            "      - {name: a, kind: build, run: }",
            '      - {name: b, kind: build, run: "  "}',
        )
    )
    assert found == [
        "5:36: stages[0].actions[0].run: a build action needs 'run', the command it runs",
        "6:37: stages[0].actions[1].run: a build action needs 'run', the command it runs",
    ]


def test_source_exports_and_runs_nothing(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Source",
            "    actions:",
            "      - {name: a, kind: source, outputs: [a], run: git pull}",
            "      - {name: b, kind: source}",
            "      - {name: c, kind: source, outputs: []}",
        )
    )
    assert found == [
        "5:47: stages[0].actions[0].run: a source action exports the commit and runs no "
        "command; remove 'run'",
        "6:9: stages[0].actions[1]: a source action needs an output to export the commit into, "
        "e.g. [source]",
        "7:42: stages[0].actions[2].outputs: a source action needs an output to export the "
        "commit into, e.g. [source]",
    ]


def test_message_only_on_approval_and_environment_only_on_deploy(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: S",
            "    actions:",
            "      - {name: a, kind: build, run: make, message: hi, environment: prod}",
            "      - {name: b, kind: approval, message: 'Ship?', environment: prod}",
            "      - {name: c, kind: deploy, run: up, environment: prod, message: hi}",
        )
    )
    assert found == [
        "5:43: stages[0].actions[0].message: 'message' is only for approval actions "
        "(this is a build action)",
        "5:56: stages[0].actions[0].environment: 'environment' is only for deploy actions "
        "(this is a build action)",
        "6:53: stages[0].actions[1].environment: 'environment' is only for deploy actions "
        "(this is an approval action)",
        "7:61: stages[0].actions[2].message: 'message' is only for approval actions "
        "(this is a deploy action)",
    ]


def test_rules_still_run_where_validation_failed_elsewhere(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: S",
            "    actions:",
            "      - {name: a, kind: build, run: make, timeout: never}",
            "      - {name: b, kind: approval, run: make}",
        )
    )
    assert [f.split(": ", 2)[1] for f in found] == [
        "stages[0].actions[0].timeout",
        "stages[0].actions[1].run",
    ]


def test_pipedeck_names_cannot_be_set_anywhere(problems: Problems) -> None:
    found = problems(
        "name: p\n"
        "variables: {PIPEDECK_RUN_TOKEN: x, APP: demo}\n"
        "env: {PIPEDECK_WORKSPACE: /tmp, HOME: /root}\n"
        "stages:\n"
        "  - name: Build\n"
        "    actions:\n"
        "      - name: a\n"
        "        kind: build\n"
        "        run: make\n"
        "        env: {PIPEDECK_ACTION_TOKEN: y, pipedeck_lower: fine}\n"
    )
    assert found == [
        "2:13: variables.PIPEDECK_RUN_TOKEN: 'PIPEDECK_RUN_TOKEN' cannot be a variable: "
        "PIPEDECK_* names are pipedeck's",
        "3:7: env.PIPEDECK_WORKSPACE: 'PIPEDECK_WORKSPACE' cannot be an environment variable: "
        "PIPEDECK_* names are pipedeck's",
        "10:15: stages[0].actions[0].env.PIPEDECK_ACTION_TOKEN: 'PIPEDECK_ACTION_TOKEN' cannot be "
        "an environment variable: PIPEDECK_* names are pipedeck's",
    ]


def test_secrets_are_declared_once_with_one_source_and_listed_by_name(
    problems: Problems,
) -> None:
    found = problems(
        "name: p\n"
        "secrets:\n"
        "  TOKEN: {env: CI_TOKEN}\n"
        "  BOTH: {env: A, command: b}\n"
        "  RELATIVE: {file: token.txt}\n"
        "  PIPEDECK_KEY: {env: K}\n"
        "stages:\n"
        "  - name: Build\n"
        "    actions:\n"
        "      - {name: a, kind: build, run: make, secrets: [TOKEN, TOKN]}\n"
        "      - {name: g, kind: approval, secrets: [TOKEN]}\n"
    )
    assert found == [
        "4:9: secrets.BOTH: secret 'BOTH' takes exactly one of env, file or command",
        "5:20: secrets.RELATIVE.file: a secret's file is an absolute path (or starts with ~),"
        " outside the repository",
        "6:3: secrets.PIPEDECK_KEY: 'PIPEDECK_KEY' cannot be a secret: PIPEDECK_* names are"
        " pipedeck's",
        "10:60: stages[0].actions[0].secrets[1]: no secret named 'TOKN' in the pipeline's secrets"
        " (declared: TOKEN, BOTH, RELATIVE, PIPEDECK_KEY)",
        "11:35: stages[0].actions[1].secrets: 'secrets' is only for actions that run a command"
        " (this is an approval action)",
    ]


def test_references_name_what_exists_and_runs_before(problems: Problems) -> None:
    found = problems(
        "name: p\n"
        "variables: {APP: demo}\n"
        "env: {WHERE: '#{variables.APPP}'}\n"
        "stages:\n"
        "  - name: Build\n"
        "    actions:\n"
        "      - name: a\n"
        "        kind: build\n"
        "        run: 'echo #{source.commit} #{pipeline.sha} #{b.VERSION} #{nobody.X}'\n"
        "      - {name: b, kind: build, run: 'echo #{variables.APP} #{pipeline.run}'}\n"
    )
    assert found == [
        "3:14: env.WHERE: #{variables.APPP}: no variable 'APPP' is declared (variables: APP)",
        "9:14: stages[0].actions[0].run: #{source.commit}: there is no source action"
        " (add one with outputs: [source])",
        "9:14: stages[0].actions[0].run: #{pipeline.sha}: #{pipeline.*} has branch, commit,"
        " commit_short, name, number, run",
        "9:14: stages[0].actions[0].run: #{b.VERSION}: Build/b does not run before this action",
        "9:14: stages[0].actions[0].run: #{nobody.X}: no action or source artifact is named"
        " 'nobody'",
    ]


def test_source_references_and_earlier_actions_are_fine(problems: Problems, write: Write) -> None:
    assert (
        load_pipeline(
            write(
                "name: p\n"
                "stages:\n"
                "  - name: Source\n"
                "    actions: [{name: checkout, kind: source, outputs: [src]}]\n"
                "  - name: Build\n"
                "    actions:\n"
                "      - {name: v, kind: build, run: 'echo V=1 >> $PIPEDECK_VARIABLES_FILE'}\n"
                "      - name: use\n"
                "        kind: build\n"
                "        run_order: 2\n"
                "        run: 'echo #{src.subject} #{checkout.commit_short} #{v.V}'\n"
            )
        ).name
        == "p"
    )
    assert problems(
        "name: p\n"
        "stages:\n"
        "  - name: Source\n"
        "    actions: [{name: checkout, kind: source, outputs: [src]}]\n"
        "  - name: Build\n"
        "    actions: [{name: b, kind: build, run: 'echo #{src.message}'}]\n"
    ) == [
        "6:43: stages[1].actions[0].run: #{src.message}: a source action exports author,"
        " branch, commit, commit_short, subject"
    ]


def test_paths_stay_in_the_workspace_and_limits_are_sane(problems: Problems) -> None:
    long_name = "x" * 101
    found = problems(
        "name: p\n"
        "stages:\n"
        f"  - name: {long_name}\n"
        "    actions:\n"
        "      - name: a\n"
        "        kind: build\n"
        "        run: make\n"
        "        working_directory: ../elsewhere\n"
        "        timeout: 400d\n"
        "        run_order: 5000\n"
        "        outputs: [{name: o, paths: [dist/*.whl, /etc/passwd, 'a/../../b']}]\n"
        '        env: {NOTE: "\\ud800"}\n'
    )
    assert found == [
        "3:11: stages[0].name: name is longer than 100 characters; paths made from"
        " it would be too long",
        "8:28: stages[0].actions[0].working_directory: working_directory '../elsewhere' must stay"
        " inside the workspace",
        "9:18: stages[0].actions[0].timeout: a duration can be at most 30d",
        "10:20: stages[0].actions[0].run_order: run_order must be at most 999 (got '5000')",
        "11:49: stages[0].actions[0].outputs[0].paths[1]: output path '/etc/passwd' must be"
        " relative to the workspace",
        "11:62: stages[0].actions[0].outputs[0].paths[2]: output path 'a/../../b' must be"
        " relative to the workspace",
        "12:21: stages[0].actions[0].env.NOTE: is not valid Unicode text (it holds a lone"
        " surrogate)",
    ]


def test_reports_are_for_script_actions_and_stay_in_the_workspace(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: S",
            "    actions:",
            "      - {name: gate, kind: approval, reports: [r.xml]}",
            "      - {name: unit, kind: test, run: x, reports: [ok.xml, ../up.xml, /abs.xml]}",
        )
    )
    assert found == [
        "5:38: stages[0].actions[0].reports: 'reports' is for actions that run a command"
        " (this is an approval action)",
        "6:60: stages[0].actions[1].reports[1]: report '../up.xml' must be relative to the"
        " workspace",
        "6:71: stages[0].actions[1].reports[2]: report '/abs.xml' must be relative to the"
        " workspace",
    ]
