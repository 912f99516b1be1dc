"""`pipedeck run`, `validate` and `schema` as a user types them, in real child processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from tests.conftest import PIPEDECK, RepoMaker, run_cli

CI = """
name: ci
variables: {GREETING: hello, TARGET: world}
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: compile
        kind: build
        inputs: [source]
        outputs: [bin]
        timeout: 10s
        run: |
          echo "env $GREETING $TARGET"
          echo "ref #{variables.GREETING} #{variables.TARGET}"
          echo "version $(cat version.txt)"
          cp version.txt "$PIPEDECK_OUTPUT_BIN/"
"""

SCHEMA_FILE = Path(__file__).parents[2] / "src" / "pipedeck" / "definition" / "pipeline.schema.json"

EVENT_NAMES = {
    "RunStarted",
    "StageStarted",
    "ActionStarted",
    "LogLines",
    "ActionFinished",
    "ApprovalRequested",
    "ApprovalDecided",
    "StageFinished",
    "RunFinished",
}


def ci_repo(repo: RepoMaker) -> str:
    repo.write("version.txt", "1\n")
    repo.pipeline(CI)
    return repo.commit("first")


def no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text, text


def run_all(cwd: Path, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, one after the other (in process: each costs no Python start)."""
    return [run_cli(*args, cwd=cwd) for args in commands]


def runs_json(repo: RepoMaker) -> list[dict]:
    result = run_cli("runs", "--json", cwd=repo.root, check=True)
    return json.loads(result.stdout)


# --- run -------------------------------------------------------------------------------------


def test_run_prints_prefixed_log_lines_and_exits_0(repo: RepoMaker) -> None:
    ci_repo(repo)
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Build/compile | env hello world" in lines
    assert "Build/compile | ref hello world" in lines
    assert "Build/compile | version 1" in lines
    assert any(line.startswith("Source/checkout | ") for line in lines)
    # Every line of stdout is a log line of some action.
    assert all(re.match(r"^[\w.-]+/[\w.-]+ \| ", line) for line in lines), lines
    no_traceback(result.stdout, result.stderr)


def test_run_json_prints_one_event_per_line(repo: RepoMaker) -> None:
    sha = ci_repo(repo)
    result = run_cli("run", "ci", "--json", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events, "no events printed"
    assert all(e["event"] in EVENT_NAMES for e in events), events
    names = [e["event"] for e in events]
    assert names[0] == "RunStarted"
    assert names[-1] == "RunFinished"
    assert events[0]["commit"] == sha
    assert events[-1]["status"] == "succeeded"
    assert names.count("StageStarted") == names.count("StageFinished") == 2
    assert names.count("ActionStarted") == names.count("ActionFinished") == 2
    text = "".join(e["text"] for e in events if e["event"] == "LogLines")
    assert "env hello world\n" in text
    assert "version 1\n" in text
    finished = {e["action"]: e for e in events if e["event"] == "ActionFinished"}
    assert finished["compile"]["status"] == "succeeded"
    assert finished["compile"]["exit_code"] == 0
    # Log lines of an action come between its start and its end.
    about_compile = [e["event"] for e in events if e.get("action") == "compile"]
    assert about_compile[0] == "ActionStarted"
    assert about_compile[-1] == "ActionFinished"
    assert set(about_compile[1:-1]) == {"LogLines"}


def test_var_overrides_a_declared_variable(repo: RepoMaker) -> None:
    ci_repo(repo)
    result = run_cli("run", "ci", "--var", "GREETING=howdy", "--var", "TARGET=a b=c", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "Build/compile | env howdy a b=c" in lines
    assert "Build/compile | ref howdy a b=c" in lines


def test_bad_var_is_an_error_and_starts_nothing(repo: RepoMaker) -> None:
    ci_repo(repo)
    undeclared, malformed, reserved = run_all(
        repo.root,
        ("run", "ci", "--var", "NOPE=1"),
        ("run", "ci", "--var", "GREETING"),
        ("run", "ci", "--var", "PIPEDECK_RUN_TOKEN=x"),
    )
    assert reserved.returncode == 1
    assert reserved.stderr == (
        "pipedeck: --var 'PIPEDECK_RUN_TOKEN': PIPEDECK_* names are pipedeck's and cannot be set\n"
    )
    assert undeclared.returncode == 1
    assert "NOPE" in undeclared.stderr
    assert "GREETING" in undeclared.stderr  # says what is declared
    assert malformed.returncode == 1
    assert "NAME=VALUE" in malformed.stderr
    for result in (undeclared, malformed, reserved):
        assert result.stdout == ""
        no_traceback(result.stderr)
    assert runs_json(repo) == []


def test_commit_runs_an_older_commit(repo: RepoMaker) -> None:
    first = ci_repo(repo)
    repo.write("version.txt", "2\n")
    repo.commit("second")
    repo.write("version.txt", "3 (not committed)\n")  # the working tree never leaks in

    by_sha = run_cli("run", "ci", "--commit", first, cwd=repo.root)
    assert by_sha.returncode == 0, by_sha.stderr
    assert "Build/compile | version 1" in by_sha.stdout.splitlines()

    by_rev = run_cli("run", "ci", "--commit", "HEAD~1", cwd=repo.root)
    assert by_rev.returncode == 0, by_rev.stderr
    assert "Build/compile | version 1" in by_rev.stdout.splitlines()

    assert {r["number"]: r["commit"] for r in runs_json(repo)} == {1: first, 2: first}


def test_unknown_pipeline_or_commit_is_an_error(repo: RepoMaker) -> None:
    ci_repo(repo)
    repo.pipeline(
        """
        name: deploy
        stages:
          - name: Go
            actions:
              - {name: go, kind: deploy, run: 'true'}
        """,
        name="deploy",
    )
    repo.commit()
    pipeline, commit = run_all(repo.root, ("run", "nope"), ("run", "ci", "--commit", "no-such-rev"))
    assert pipeline.returncode == 1
    assert "nope" in pipeline.stderr
    assert "ci" in pipeline.stderr and "deploy" in pipeline.stderr  # the pipelines there are
    assert commit.returncode == 1
    assert "no-such-rev" in commit.stderr
    for result in (pipeline, commit):
        assert result.stdout == ""
        no_traceback(result.stderr)


BROKEN = """\
name: ci
stages:
  - name: Build
    actions:
      - name: compile
        kind: build
        run: make
        timeout: soon
"""


def test_broken_pipeline_file_is_reported_with_its_location(repo: RepoMaker) -> None:
    repo.pipeline(BROKEN)
    repo.commit()
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert re.search(r"^\S*pipelines/ci\.yml:8:18: .*timeout", result.stderr, re.M), result.stderr
    assert runs_json(repo) == []


def test_broken_pipeline_named_unlike_its_file_is_reported_with_its_location(
    repo: RepoMaker,
) -> None:
    # The file is build.yml; the pipeline inside is called ci.
    repo.pipeline(BROKEN, name="build")
    repo.commit()
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    assert re.search(r"^\S*pipelines/build\.yml:8:18: .*timeout", result.stderr, re.M), (
        result.stderr
    )


# --- validate and schema ---------------------------------------------------------------------

GOOD = """\
name: good
stages:
  - name: Build
    actions:
      - {name: b, kind: build, run: 'true'}
"""

TWO_PROBLEMS = """\
name: bad
stages:
  - name: Build
    actions:
      - {name: b, kind: build, run: 'true', colour: red}
      - {name: c, kind: test}
"""


def test_validate_prints_file_line_col_per_problem_and_exits_1(repo: RepoMaker) -> None:
    repo.write("pipelines/good.yml", GOOD)
    repo.write("pipelines/bad.yml", TWO_PROBLEMS)
    result = run_cli("validate", cwd=repo.root)
    assert result.returncode == 1
    no_traceback(result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert len(lines) == 2, lines
    assert all(re.match(r"^pipelines/bad\.yml:\d+:\d+: \S", line) for line in lines), lines
    assert lines[0].startswith("pipelines/bad.yml:5:")
    assert "colour" in lines[0]
    assert lines[1].startswith("pipelines/bad.yml:6:")
    assert "run" in lines[1]
    assert "good.yml" not in result.stdout


def test_validate_valid_and_named_files(repo: RepoMaker) -> None:
    good = repo.write("pipelines/good.yml", GOOD)
    bad = repo.write("elsewhere/bad.yml", BROKEN)

    ok, every, failed = run_all(
        repo.root,
        ("validate", str(good)),
        ("validate",),  # pipelines/ holds only the good file
        ("validate", str(good), "elsewhere/bad.yml"),
    )
    for result in (ok, every):
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout == ""
    assert failed.returncode == 1
    lines = failed.stdout.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{bad.relative_to(repo.root)}:8:18: ")
    assert "timeout" in lines[0]
    no_traceback(failed.stdout, failed.stderr)


def test_validate_from_a_subdirectory_checks_the_repository(repo: RepoMaker) -> None:
    repo.write("pipelines/bad.yml", TWO_PROBLEMS)
    sub = repo.root / "src"
    sub.mkdir()
    result = run_cli("validate", cwd=sub)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 2, result.stdout + result.stderr
    assert "bad.yml:5:" in result.stdout


def test_schema_needs_no_repository_but_run_does(tmp_path: Path) -> None:
    schema, outside = run_all(tmp_path, ("schema",), ("run", "ci"))

    assert schema.returncode == 0, schema.stderr
    printed = json.loads(schema.stdout)
    assert printed["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert printed == json.loads(SCHEMA_FILE.read_text())
    assert {"name", "stages"} <= set(printed["required"])

    assert outside.returncode == 1
    assert "git" in outside.stderr
    no_traceback(outside.stderr)


def test_run_on_a_commit_runs_that_commit_s_file_and_on_head_the_working_tree_s(
    repo: RepoMaker,
) -> None:
    step = "name: ci\nstages:\n  - name: S\n    actions:\n      - {{name: a, kind: build, run: {}}}"
    repo.pipeline(step.format("echo first"))
    first = repo.commit("first")
    repo.pipeline(step.format("echo second"))
    repo.commit("second")
    repo.pipeline(step.format("echo edited"))  # not committed
    old, head = run_all(repo.root, ("run", "ci", "--commit", first), ("run", "ci"))
    assert old.returncode == 0 and head.returncode == 0, old.stderr + head.stderr
    assert "S/a | first" in old.stdout.splitlines()
    assert "S/a | edited" in head.stdout.splitlines()
    by_commit = {r["commit"]: r["pipeline_file"] for r in runs_json(repo)}
    assert by_commit[first] == "commit"
    assert list(by_commit.values()).count("working tree") == 1
    # Committed as it is, the same run on HEAD is the commit's file again.
    third = repo.commit("third")
    run_cli("run", "ci", cwd=repo.root, check=True)
    assert {r["commit"]: r["pipeline_file"] for r in runs_json(repo)}[third] == "commit"


def test_a_secret_is_masked_in_run_logs_and_json(repo: RepoMaker) -> None:
    value = "cli-secret-31415926"
    repo.pipeline(
        """
name: ci
secrets: {KEY: {env: CLI_SECRET}}
stages:
  - name: S
    actions:
      - {name: a, kind: build, secrets: [KEY], run: 'echo "key is $KEY"'}
"""
    )
    repo.commit()
    env = {**os.environ, "CLI_SECRET": value}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*PIPEDECK, *args], cwd=repo.root, env=env, capture_output=True, text=True, timeout=120
        )

    printed, as_json = cli("run", "ci"), cli("run", "ci", "--json")
    logs = cli("logs", "ci/1", "S/a")
    assert "S/a | key is ***" in printed.stdout.splitlines()
    assert logs.stdout == "key is ***\n"
    lines = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert [e["text"] for e in lines if e["event"] == "LogLines"] == ["key is ***\n"]
    for result in (printed, as_json, logs):
        assert value not in result.stdout + result.stderr
