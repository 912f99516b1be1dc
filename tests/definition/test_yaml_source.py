"""The YAML layer: values as written, duplicate keys, anchors, tags, located syntax errors."""

from __future__ import annotations

from pipedeck.definition import load_pipeline

from .conftest import Problems, Write

STAGES = """\
stages:
  - name: Build
    actions:
      - {name: make, kind: build, run: make}
"""


def test_yaml_1_1_words_are_not_booleans(write: Write) -> None:
    path = write(
        "name: p\n"
        "variables: {on: 1, off: x, yes: y, no: n, y: yes, n: no}\n"
        "env: {DEBUG: yes, QUIET: no, FLAG: on, OTHER: off, Y: y, N: N}\n" + STAGES
    )
    pipeline = load_pipeline(path)
    assert pipeline.variables == {
        "on": "1",
        "off": "x",
        "yes": "y",
        "no": "n",
        "y": "yes",
        "n": "no",
    }
    assert pipeline.env == {
        "DEBUG": "yes",
        "QUIET": "no",
        "FLAG": "on",
        "OTHER": "off",
        "Y": "y",
        "N": "N",
    }


def test_top_level_on_key_is_an_unknown_key_not_true(problems: Problems) -> None:
    found = problems("name: p\non: push\n" + STAGES)
    assert len(found) == 1
    assert found[0].startswith("2:1: on: unknown key 'on'")


def test_numbers_keep_the_text_written(write: Write) -> None:
    path = write(
        "name: p\n"
        "variables:\n"
        "  VERSION: 1.10\n"
        "  PADDED: 007\n"
        "  CLOCK: 1:20\n"
        "  DAY: 2024-01-01\n"
        "  HEX: 0x1F\n"
        "  EXP: 1e3\n"
        "  NEG: -0.50\n"
        "env: {PY: 3.10, PORT: 8080}\n" + STAGES
    )
    pipeline = load_pipeline(path)
    assert pipeline.variables == {
        "VERSION": "1.10",
        "PADDED": "007",
        "CLOCK": "1:20",
        "DAY": "2024-01-01",
        "HEX": "0x1F",
        "EXP": "1e3",
        "NEG": "-0.50",
    }
    assert pipeline.env == {"PY": "3.10", "PORT": "8080"}


def test_names_and_run_keep_their_text(write: Write) -> None:
    path = write(
        """\
        name: 1.10
        stages:
          - name: 2024-01-01
            actions:
              - {name: 1.0, kind: build, run: 3.10}
        """
    )
    pipeline = load_pipeline(path)
    assert pipeline.name == "1.10"
    assert pipeline.stages[0].name == "2024-01-01"
    assert pipeline.stages[0].actions[0].name == "1.0"
    assert pipeline.stages[0].actions[0].run == "3.10"


def test_true_and_false_in_any_case_are_booleans(write: Write, problems: Problems) -> None:
    path = write("name: p\nenv: {A: true, B: FALSE, C: True}\n" + STAGES)
    assert load_pipeline(path).env == {"A": "true", "B": "false", "C": "true"}
    found = problems(
        """\
        name: p
        stages:
          - name: Build
            actions:
              - {name: make, kind: build, run: TRUE}
        """
    )
    assert found == ["5:40: stages[0].actions[0].run: run must be a string (got true)"]


def test_quoted_and_str_tagged_values_are_text(write: Write) -> None:
    path = write(
        """\
        name: p
        env: {A: "true", B: !!str 1.10, C: '~'}
        stages:
          - name: Build
            actions:
              - {name: make, kind: build, run: "true"}
        """
    )
    pipeline = load_pipeline(path)
    assert pipeline.env == {"A": "true", "B": "1.10", "C": "~"}
    assert pipeline.stages[0].actions[0].run == "true"


def test_null_forms_are_empty_values(problems: Problems) -> None:
    found = problems("name: p\nenv: {A: ~, B: null, C: NULL, D: }\n" + STAGES)
    assert found == [
        "2:10: env.A: env.A must be a string (got an empty value)",
        "2:16: env.B: env.B must be a string (got an empty value)",
        "2:25: env.C: env.C must be a string (got an empty value)",
        "2:33: env.D: env.D must be a string (got an empty value)",
    ]


def test_numbers_are_parsed_where_numbers_are_wanted(write: Write) -> None:
    path = write(
        """\
        name: p
        stages:
          - name: Build
            actions:
              - {name: a, kind: build, run: a, run_order: 1, timeout: 90}
              - {name: b, kind: build, run: b, run_order: 2, timeout: 1.5}
        """
    )
    first, second = load_pipeline(path).stages[0].actions
    assert (first.run_order, first.timeout) == (1, 90.0)
    assert (second.run_order, second.timeout) == (2, 1.5)


def test_duplicate_key_is_reported_at_the_second_occurrence(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        stages:
          - name: Build
            actions:
              - name: make
                kind: build
                run: make
                run: make all
        """
    )
    assert found == ["8:9: stages[0].actions[0].run: duplicate key 'run' (first at line 7)"]


def test_duplicate_top_level_key(problems: Problems) -> None:
    found = problems("name: p\n" + STAGES + "name: q\n")
    assert found == ["6:1: name: duplicate key 'name' (first at line 1)"]


def test_anchors_aliases_and_merge_keys(write: Write) -> None:
    path = write(
        """\
        name: p
        stages:
          - name: Test
            actions:
              - &unit {name: unit, kind: test, run: pytest, env: {A: "1"}, timeout: 5m}
              - <<: *unit
                name: lint
                run: ruff check .
              - <<: [{run: first, env: {B: "2"}}, *unit]
                name: both
        """
    )
    unit, lint, both = load_pipeline(path).stages[0].actions
    assert (lint.name, lint.kind, lint.run, lint.env, lint.timeout) == (
        "lint",
        "test",
        "ruff check .",
        {"A": "1"},
        300.0,
    )
    assert unit.run == "pytest"
    # Keys written in the mapping win; among merge sources, the first listed wins.
    assert (both.name, both.run, both.env, both.timeout) == ("both", "first", {"B": "2"}, 300.0)


def test_errors_in_a_merged_value_point_at_where_it_was_written(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        stages:
          - name: Test
            actions:
              - &base {name: unit, kind: test, run: pytest, timeout: soon}
              - <<: *base
                name: lint
        """
    )
    assert found == [
        "5:62: stages[0].actions[0].timeout: 'soon' is not a duration; "
        "write it like 30s, 10m, 2h, 7d or 1h30m",
        "5:62: stages[0].actions[1].timeout: 'soon' is not a duration; "
        "write it like 30s, 10m, 2h, 7d or 1h30m",
    ]


def test_merging_a_non_mapping_is_reported(problems: Problems) -> None:
    found = problems("name: p\n<<: [a]\n" + STAGES)
    assert found == ["2:6: '<<' merges a mapping or a list of mappings"]


def test_recursive_alias_is_reported(problems: Problems) -> None:
    assert problems("name: p\nenv: &e {A: *e}\n" + STAGES) == [
        "2:6: env.A: an alias refers to itself"
    ]


def test_alias_bomb_is_reported_not_expanded(problems: Problems) -> None:
    lines = ["name: p", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    found = problems("\n".join(lines) + "\n" + STAGES)
    assert len(found) == 1
    assert "aliases expand to too many values" in found[0]


def test_unsupported_tags_are_reported(problems: Problems) -> None:
    found = problems(
        """\
        name: p
        env: {A: !!int 3, B: !Ref thing}
        stages:
          - name: Build
            actions:
              - {name: make, kind: build, run: make}
        """
    )
    assert found == [
        "2:10: env.A: tag '!!int' is not supported; write a plain value (quote it for text)",
        "2:22: env.B: tag '!Ref' is not supported; write a plain value (quote it for text)",
    ]


def test_non_scalar_key_is_reported(problems: Problems) -> None:
    found = problems("? [a, b]\n: c\nname: p\n" + STAGES)
    assert found == ["1:3: a key must be a plain name, not a list"]


def test_syntax_errors_are_located(problems: Problems) -> None:
    assert problems("name: p\ntrigger: manual: x\n" + STAGES) == [
        "2:16: invalid YAML: mapping values are not allowed here"
    ]
    assert problems("name: p\nstages:\n  - name: Build\n    actions: [\n") == [
        "5:1: invalid YAML: expected the node content, but found '<stream end>'"
    ]
    assert problems('name: p\nstages:\n  - name: "Build\n    actions: []\n') == [
        "5:1: invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar at line 3)"
    ]


def test_tab_indentation_gets_a_hint(problems: Problems) -> None:
    assert problems("name: p\n\tstages: []\n") == [
        "2:1: invalid YAML: found character '\\t' that cannot start any token; indent with spaces"
    ]


def test_undefined_alias_and_duplicate_anchor(problems: Problems) -> None:
    assert problems("name: *nope\n" + STAGES) == ["1:7: invalid YAML: found undefined alias 'nope'"]
    assert problems("name: &x p\nenv: &x {}\n" + STAGES) == [
        "2:6: duplicate anchor 'x' (first at line 1)"
    ]


def test_a_second_document_is_reported(problems: Problems) -> None:
    assert problems("name: p\n" + STAGES + "---\nname: q\n") == [
        "6:1: a pipeline file holds one YAML document; remove the second '---'"
    ]


def test_control_character_is_located(problems: Problems) -> None:
    assert problems("name: p\nenv: {A: \x07}\n" + STAGES) == [
        "2:10: control character #x0007 is not allowed in YAML"
    ]


def test_a_reference_yaml_takes_for_a_comment_is_an_error(problems: Problems) -> None:
    found = problems(
        "name: p\n"
        "variables: {X: '1'}\n"
        "stages:\n"
        "  - name: T\n"
        "    actions:\n"
        "      - name: a\n"
        "        kind: test\n"
        "        run: echo #{variables.X}\n"
        "      - {name: b, kind: test, run: 'echo #{variables.X}'}  # a comment\n"
        "      - name: c\n"
        "        kind: test\n"
        "        run: |\n"
        "          echo #{variables.X}\n"
    )
    assert len(found) == 1
    assert found[0].startswith("8:19: stages[0].actions[0].run: this `#{` starts a YAML comment")
