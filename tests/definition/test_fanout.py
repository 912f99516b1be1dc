"""`parallel` and `matrix`: one action written, its copies validated and named, problems located."""

from __future__ import annotations

from pipedeck.definition import load_pipeline

from .conftest import Problems, Write


def stages(*lines: str) -> str:
    return "name: p\nstages:\n" + "".join(f"{line}\n" for line in lines)


def test_parallel_makes_numbered_shards(write: Write) -> None:
    path = write(
        stages(
            "  - name: Test",
            "    actions:",
            "      - {name: unit, kind: test, run: pytest, parallel: 3}",
            "      - {name: lint, kind: test, run: ruff check .}",
        )
    )
    actions = load_pipeline(path).stages[0].actions
    assert [(a.name, a.label, a.group) for a in actions] == [
        ("unit.1", "unit 1/3", "unit"),
        ("unit.2", "unit 2/3", "unit"),
        ("unit.3", "unit 3/3", "unit"),
        ("lint", "lint", "lint"),
    ]
    assert [a.expansion.shard for a in actions[:3] if a.expansion] == [1, 2, 3]
    assert actions[3].expansion is None
    # Shards run to their ends unless told otherwise; combinations stop together.
    assert not actions[0].stops_siblings


def test_a_matrix_follows_github_s_exclude_and_include(write: Write) -> None:
    path = write(
        stages(
            "  - name: Test",
            "    actions:",
            "      - name: test",
            "        kind: test",
            "        run: pytest",
            "        matrix:",
            "          python: ['3.11', '3.12']",
            "          db: [sqlite, postgres]",
            "          exclude: [{python: '3.11', db: postgres}]",
            "          include:",
            "            - {db: sqlite, coverage: 'yes'}",  # extends both sqlite cells
            "            - {python: '3.13', db: sqlite}",  # contradicts all: a cell of its own
        )
    )
    actions = load_pipeline(path).stages[0].actions
    assert [a.label for a in actions] == [
        "test (python=3.11, db=sqlite, coverage=yes)",
        "test (python=3.12, db=sqlite, coverage=yes)",
        "test (python=3.12, db=postgres)",
        "test (python=3.13, db=sqlite)",
    ]
    assert [a.name for a in actions] == [
        "test-3.11-sqlite-yes",
        "test-3.12-sqlite-yes",
        "test-3.12-postgres",
        "test-3.13-sqlite",
    ]
    assert all(a.stops_siblings for a in actions)
    assert actions[2].expansion is not None
    assert actions[2].expansion.values == {"python": "3.12", "db": "postgres"}


def test_fail_fast_false_lets_combinations_finish(write: Write) -> None:
    path = write(
        stages(
            "  - name: Test",
            "    actions:",
            "      - {name: t, kind: test, run: x, matrix: {v: [1, 2]}, fail_fast: false}",
            "      - {name: u, kind: test, run: x, parallel: 2, fail_fast: true}",
        )
    )
    actions = load_pipeline(path).stages[0].actions
    assert [a.stops_siblings for a in actions] == [False, False, True, True]


def test_values_a_file_name_cannot_hold_still_name_distinct_copies(write: Write) -> None:
    path = write(
        stages(
            "  - name: Test",
            "    actions:",
            "      - {name: t, kind: test, run: x, matrix: {os: ['a/b', 'a b', 'a:b']}}",
        )
    )
    actions = load_pipeline(path).stages[0].actions
    names = [a.name for a in actions]
    assert len(set(names)) == 3 and all("/" not in n and " " not in n for n in names)
    assert [a.label for a in actions] == ["t (os=a/b)", "t (os=a b)", "t (os=a:b)"]


def test_matrix_mistakes_are_located(problems: Problems) -> None:
    def one(matrix: str) -> list[str]:
        return problems(
            stages(
                "  - name: Test",
                "    actions:",
                f"      - {{name: t, kind: test, run: x, matrix: {matrix}}}",
            )
        )

    assert any("needs a list of one or more values" in p for p in one("{v: []}"))
    assert any("must be letters, digits and _" in p for p in one("{'a-b': [1]}"))
    assert any("lists a value twice" in p for p in one("{v: [1, 1]}"))
    assert any("exclude removes every one" in p for p in one("{v: [1], exclude: [{v: 1}]}"))
    assert any("not a matrix key" in p for p in one("{v: [1], exclude: [{w: 1}]}"))
    many = "{a: [1,2,3,4,5,6,7,8,9], b: [1,2,3,4,5,6,7,8,9], c: [1,2,3,4]}"
    assert any("more than 256 combinations" in p for p in one(many))
    assert all(p.startswith("5:") for p in one("{v: []}"))


def test_rules_for_copies(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions:",
            "      - {name: b, kind: build, run: x, parallel: 2, outputs: [dist]}",
            "      - {name: c, kind: build, run: x, parallel: 2, matrix: {v: [1]}}",
            "      - {name: d, kind: build, run: x, fail_fast: true}",
            "  - name: Ship",
            "    actions:",
            "      - {name: s, kind: deploy, run: x, parallel: 2}",
            "      - {name: a, kind: approval, parallel: 2}",
        )
    )
    text = "\n".join(found)
    assert "5:53: stages[0].actions[0].outputs: an action with 'parallel' runs as several" in text
    assert "6:40: stages[0].actions[1].parallel: an action takes `parallel` or `matrix`" in text
    assert "7:40: stages[0].actions[2].fail_fast: 'fail_fast' is for actions with" in text
    assert "a deploy runs once for its environment" in text
    assert "an approval action runs no command" in text


def test_a_copy_may_not_take_another_action_s_name(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Test",
            "    actions:",
            "      - {name: unit, kind: test, run: x, parallel: 2}",
            "      - {name: unit.2, kind: test, run: x}",
        )
    )
    assert found == [
        "5:52: stages[0].actions[0].parallel: a copy of 'unit' would be named 'unit.2',"
        " which another action of this stage is named"
    ]


def test_matrix_references_are_checked(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Test",
            "    actions:",
            "      - name: t",
            "        kind: test",
            "        matrix: {python: ['3.12']}",
            "        run: 'echo #{matrix.python} #{matrix.pyhton}'",
            "      - {name: u, kind: test, run: 'echo #{matrix.python}'}",
            "      - {name: p, kind: test, run: x, parallel: 2}",
            "      - {name: q, kind: test, run: 'echo #{p.VERSION}', run_order: 2}",
        )
    )
    text = "\n".join(found)
    assert "#{matrix.pyhton}: the matrix has no key 'pyhton' (keys: python)" in text
    assert "#{matrix.python}: only an action with a `matrix` has #{matrix.*}" in text
    assert "#{p.VERSION}: Test/p runs as several copies" in text
    assert "#{matrix.python} #" not in text  # the right key is not complained about


def test_cache_paths_stay_in_the_workspace(problems: Problems) -> None:
    found = problems(
        stages(
            "  - name: Build",
            "    actions:",
            "      - name: b",
            "        kind: build",
            "        run: x",
            "        cache: {key: k, paths: [.venv, ../elsewhere, /abs]}",
        )
    )
    assert [p.split(": ", 2)[1] for p in found] == [
        "stages[0].actions[0].cache.paths[1]",
        "stages[0].actions[0].cache.paths[2]",
    ]
    assert "cache path '../elsewhere' must be relative to the workspace" in found[0]


def test_an_empty_matrix_and_keys_differing_in_case_are_refused(problems: Problems) -> None:
    def one(matrix: str) -> str:
        return "\n".join(
            problems(
                stages(
                    "  - name: Test",
                    "    actions:",
                    f"      - {{name: t, kind: test, run: x, matrix: {matrix}}}",
                )
            )
        )

    assert "a matrix needs a key with values" in one("{}")
    assert "a matrix needs a key with values" in one("{include: []}")
    assert "differ only in case" in one("{python: [1], include: [{Python: 2}]}")


def test_a_very_long_value_is_cut_in_the_label_not_in_the_environment(write: Write) -> None:
    long = "L" * 500
    path = write(
        stages(
            "  - name: Test",
            "    actions:",
            f"      - {{name: t, kind: test, run: x, matrix: {{v: [{long}, b]}}}}",
        )
    )
    first = load_pipeline(path).stages[0].actions[0]
    assert first.label == f"t (v={'L' * 39}…)"
    assert first.expansion is not None and first.expansion.values == {"v": long}
    assert len(first.name) <= 100
