"""Loading files and directories: the public API, unreadable files, problems as text."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from pipedeck.definition import (
    ActionKind,
    DefinitionError,
    ExecutionMode,
    Problem,
    load_committed,
    load_pipeline,
    load_pipelines,
)

from .conftest import EXAMPLE, Problems, Write

MINIMAL = "name: {name}\nstages: [{{name: S, actions: [{{name: a, kind: build, run: make}}]}}]\n"


def test_the_example_loads(write: Write) -> None:
    path = write(EXAMPLE, "release.yml")
    pipeline = load_pipeline(path)
    assert pipeline.name == "release"
    assert pipeline.path == path
    assert pipeline.execution_mode is ExecutionMode.SUPERSEDED
    assert pipeline.variables == {"APP": "demo"}
    assert [s.name for s in pipeline.stages] == ["Source", "Build", "Test", "Approve", "Production"]
    wheel = pipeline.stage("Build").actions[0]
    assert (wheel.kind, wheel.inputs, wheel.output_names, wheel.timeout) == (
        ActionKind.BUILD,
        ["source"],
        ["wheel"],
        600.0,
    )
    assert [[a.name for a in g] for g in pipeline.stage("Test").groups()] == [["unit", "lint"]]
    gate = pipeline.stage("Approve").actions[0]
    assert (gate.message, gate.timeout) == ("Deploy to production?", 7 * 86400.0)
    assert pipeline.stage("Production").actions[0].environment == "production"


def test_problem_text_uses_the_path_as_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "release.yml").write_text("name: release\nstages: []\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DefinitionError) as info:
        load_pipeline(Path("pipelines/release.yml"))
    assert (
        str(info.value) == "pipelines/release.yml:2:9: stages: a pipeline needs at least one stage"
    )


def test_problem_and_error_formatting() -> None:
    located = Problem(Path("pipelines/a.yml"), 14, 9, "stages[1].actions[0].timeout", "bad")
    whole_file = Problem(Path("pipelines/a.yml"), 1, 1, "", "the file is empty")
    assert str(located) == "pipelines/a.yml:14:9: stages[1].actions[0].timeout: bad"
    assert str(whole_file) == "pipelines/a.yml:1:1: the file is empty"
    error = DefinitionError([located, whole_file])
    assert error.problems == [located, whole_file]
    assert str(error) == f"{located}\n{whole_file}"


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_pipeline(tmp_path / "nope.yml")
    (problem,) = info.value.problems
    assert (problem.line, problem.column, problem.location) == (1, 1, "")
    assert problem.message == "cannot read file: No such file or directory"


def test_a_directory_instead_of_a_file(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError) as info:
        load_pipeline(tmp_path)
    assert info.value.problems[0].message.startswith("cannot read file: ")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes("name: p\nvariables: {CITY: Malmö}\n".encode("latin-1"))
    with pytest.raises(DefinitionError) as info:
        load_pipeline(path)
    assert [str(p) for p in info.value.problems] == [
        f"{path}:1:1: not UTF-8 text (byte 0xf6 on line 2)"
    ]


def test_a_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.format(name="bom").encode())
    assert load_pipeline(path).name == "bom"


@pytest.mark.parametrize("text", ["", "\n\n", "# just a comment\n", "~\n"])
def test_an_empty_file(problems: Problems, text: str) -> None:
    assert problems(text) == ["1:1: the file is empty; a pipeline needs 'name' and 'stages'"]


@pytest.mark.parametrize(
    ("text", "position", "got"),
    [
        ("- name: p\n", "1:1", "a list"),
        ("\n\njust words\n", "3:1", "the text 'just words'"),
        ("true\n", "1:1", "true"),
    ],
)
def test_a_top_level_that_is_not_a_mapping(
    problems: Problems, text: str, position: str, got: str
) -> None:
    assert problems(text) == [
        f"{position}: the top level must be a mapping with 'name' and 'stages', not {got}"
    ]


def test_a_directory_with_a_broken_and_a_good_file(tmp_path: Path) -> None:
    (tmp_path / "b-good.yml").write_text(MINIMAL.format(name="good"))
    (tmp_path / "a-broken.yaml").write_text("name: broken\nstages: [\n")
    (tmp_path / "c-also-good.yaml").write_text(MINIMAL.format(name="also"))
    result = load_pipelines(tmp_path)
    assert [p.name for p in result.pipelines] == ["good", "also"]
    assert [p.path for p in result.pipelines] == [
        tmp_path / "b-good.yml",
        tmp_path / "c-also-good.yaml",
    ]
    assert [(p.path.name, p.line) for p in result.problems] == [("a-broken.yaml", 3)]


def test_only_yaml_files_directly_in_the_directory(tmp_path: Path) -> None:
    (tmp_path / "one.yml").write_text(MINIMAL.format(name="one"))
    (tmp_path / "two.yaml").write_text(MINIMAL.format(name="two"))
    (tmp_path / "notes.txt").write_text("not a pipeline")
    (tmp_path / "one.yml.orig").write_text("not a pipeline")
    (tmp_path / ".hidden.yml").write_text("not: [a pipeline")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "three.yml").write_text(MINIMAL.format(name="three"))
    (tmp_path / "dir.yml").mkdir()
    result = load_pipelines(tmp_path)
    assert [p.name for p in result.pipelines] == ["one", "two"]
    assert result.problems == []


def test_two_files_with_the_same_pipeline_name(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(MINIMAL.format(name="release"))
    (tmp_path / "b.yml").write_text("# the same again\n" + MINIMAL.format(name="release"))
    result = load_pipelines(tmp_path)
    assert [p.path for p in result.pipelines] == [tmp_path / "a.yml"]
    assert [str(p) for p in result.problems] == [
        f"{tmp_path / 'b.yml'}:2:7: name: pipeline name 'release' is already used by "
        f"{tmp_path / 'a.yml'}"
    ]


def test_a_missing_directory_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    result = load_pipelines(tmp_path / "pipelines")
    assert result.pipelines == []
    (problem,) = result.problems
    assert (problem.path, problem.line, problem.column) == (tmp_path / "pipelines", 1, 1)
    assert problem.message.startswith("cannot read the pipelines directory")


def test_an_empty_directory_has_no_pipelines_and_no_problems(tmp_path: Path) -> None:
    result = load_pipelines(tmp_path)
    assert (result.pipelines, result.problems) == ([], [])


def test_the_digest_is_of_the_bytes_parsed_and_no_file_can_set_it(write: Write) -> None:
    path = write(MINIMAL.format(name="ci"), "ci.yml")
    assert load_pipeline(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    forged = write(MINIMAL.format(name="ci") + "sha256: deadbeef\n", "forged.yml")
    with pytest.raises(DefinitionError) as caught:
        load_pipeline(forged)
    (problem,) = caught.value.problems
    assert (problem.line, problem.column) == (3, 1)
    assert "unknown key 'sha256'" in problem.message


def test_files_that_are_not_plain_files_in_the_repository_are_refused_unread(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    pipelines = repo / "pipelines"
    pipelines.mkdir(parents=True)
    elsewhere = tmp_path / "other-repo" / "pipelines" / "theirs.yml"
    elsewhere.parent.mkdir(parents=True)
    secret = "name: [SECRET-TOKEN-abc123\n"  # broken YAML: an error would quote it
    elsewhere.write_text(secret)
    (pipelines / "borrowed.yml").symlink_to(elsewhere)
    (repo / "shared").mkdir()
    (repo / "shared" / "ci.yml").write_text(
        "name: ci\nstages:\n  - name: S\n    actions: [{name: a, kind: build, run: make}]\n"
    )
    (pipelines / "ci.yml").symlink_to("../shared/ci.yml")  # inside: read as the file it is
    os.mkfifo(pipelines / "fifo.yml")  # nothing writes to it: reading it would hang
    result = load_pipelines(pipelines)
    assert [p.name for p in result.pipelines] == ["ci"]
    problems = {p.path.name: p.message for p in result.problems}
    assert problems == {
        "borrowed.yml": f"is a symlink to {elsewhere}, outside the repository; refused",
        "fifo.yml": "is not a regular file (a FIFO, a socket or a device); refused",
    }
    assert "SECRET" not in str(DefinitionError(result.problems))


def test_a_commit_s_files_load_as_committed(tmp_path: Path) -> None:
    good = b"name: ci\nstages:\n  - name: S\n    actions: [{name: a, kind: build, run: make}]\n"
    result = load_committed(
        tmp_path,
        [
            ("ci.yml", False, good),
            ("link.yml", True, b"../elsewhere.yml"),
            ("notes.md", False, b""),
        ],
        "0123456789abcdef",
    )
    assert [(p.name, p.source, p.path) for p in result.pipelines] == [
        ("ci", good, tmp_path / "ci.yml")
    ]
    assert [(p.path.name, p.message) for p in result.problems] == [
        ("link.yml", "is a symlink in commit 0123456; a pipeline file is run only as a file")
    ]


def test_a_pipelines_folder_that_is_a_symlink_out_of_the_repository_is_refused_unread(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    elsewhere = tmp_path / "other-repo" / "pipelines"
    elsewhere.mkdir(parents=True)
    (elsewhere / "theirs.yml").write_text("name: [SECRET-TOKEN-abc123\n")
    (repo / "pipelines").symlink_to(elsewhere)
    result = load_pipelines(repo / "pipelines")
    assert result.pipelines == []
    assert [(p.path.name, p.message) for p in result.problems] == [
        ("pipelines", f"is a symlink to {elsewhere}, outside the repository; refused")
    ]
    assert "SECRET" not in str(DefinitionError(result.problems))
    # Inside the repository it is read as the folder it is.
    (repo / "pipelines").unlink()
    inside = repo / "ci" / "pipelines"
    inside.mkdir(parents=True)
    (inside / "ci.yml").write_text(
        "name: ci\nstages:\n  - name: S\n    actions: [{name: a, kind: build, run: make}]\n"
    )
    (repo / "pipelines").symlink_to("ci/pipelines")
    assert [p.name for p in load_pipelines(repo / "pipelines").pipelines] == ["ci"]
