"""Test reports: real pytest runs write JUnit XML; pipedeck keeps and reads it, failed or not."""

from __future__ import annotations

import json
import sys
from typing import Any

from tests.conftest import RepoMaker, run_cli

TESTS = """
import pytest


@pytest.fixture
def broken():
    raise RuntimeError("the database is down")


def test_adds():
    assert 1 + 1 == 2


def test_subtracts():
    assert 3 - 1 == 2


def test_multiplies():
    assert 2 * 2 == 5, "two twos make four"


def test_connects(broken):
    pass


@pytest.mark.skip(reason="not on this machine")
def test_prints():
    pass
"""

PIPELINE = f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        reports: [report.xml]
        run: '"{sys.executable}" -m pytest -q -p no:cacheprovider test_app.py --junitxml=report.xml'
"""


def reported(repo: RepoMaker, *args: str) -> Any:
    return json.loads(run_cli("tests", *args, "--json", cwd=repo.root, check=True).stdout)


def test_a_failing_pytest_run_keeps_its_report_and_every_outcome(repo: RepoMaker) -> None:
    repo.write("test_app.py", TESTS)
    repo.pipeline(PIPELINE)
    repo.commit("tests that fail")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 1  # the tests failed: so does the action, the report is kept
    assert (
        "Test/unit | pipedeck: 5 tests in the reports: 1 failed, 1 error, 1 skipped, 2 passed"
        in ran.stdout
    )

    found = reported(repo, "ci/1")
    assert found["counts"] == {"failed": 1, "error": 1, "skipped": 1, "passed": 2}
    by_name = {t["name"]: t for t in found["tests"]}
    assert {name: t["outcome"] for name, t in by_name.items()} == {
        "test_adds": "passed",
        "test_subtracts": "passed",
        "test_multiplies": "failed",
        "test_connects": "error",
        "test_prints": "skipped",
    }
    failed = by_name["test_multiplies"]
    assert (failed["stage"], failed["action"], failed["classname"]) == ("Test", "unit", "test_app")
    assert "two twos make four" in failed["message"]
    assert "the database is down" in by_name["test_connects"]["message"]
    assert all(t["duration"] is not None and t["duration"] >= 0 for t in found["tests"])
    assert found["problems"] == []
    kept = repo.root / ".git/pipedeck/runs/ci/1/reports/Test/unit/1/1-report.xml"
    assert kept.is_file() and b"test_multiplies" in kept.read_bytes()

    only_failed = reported(repo, "ci/1", "Test/unit", "--failed")
    assert [t["name"] for t in only_failed["tests"]] == ["test_multiplies", "test_connects"]
    said = run_cli("tests", "ci/1", "--failed", cwd=repo.root, check=True).stdout
    assert "✘ failed   Test/unit  test_app::test_multiplies" in said
    assert said.endswith("5 tests: 1 failed, 1 error, 1 skipped, 2 passed\n")
    unknown = run_cli("tests", "ci/1", "Build/x", cwd=repo.root)
    assert unknown.returncode == 1
    assert unknown.stderr == (
        "pipedeck: ci/1 has no test reports from Build/x (actions with reports: Test/unit)\n"
    )


BAD = """
name: ci
stages:
  - name: Test
    actions:
      - name: unit
        kind: test
        reports: [bad.xml, link.xml, fifo.xml, "missing/*.xml", not-junit.xml]
        run: |
          echo 'this is not <xml' > bad.xml
          ln -s /etc/passwd link.xml
          mkfifo fifo.xml
          echo '<html><body>hello</body></html>' > not-junit.xml
"""


def test_a_report_that_cannot_be_read_is_a_problem_on_the_action_never_a_failure(
    repo: RepoMaker,
) -> None:
    repo.pipeline(BAD)
    repo.commit("reports gone wrong")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 0, ran.stdout + ran.stderr  # the action itself succeeded
    assert "Traceback" not in ran.stderr
    found = reported(repo, "ci/1")
    assert found["tests"] == []
    problems = {p["report"]: p["problem"] for p in found["problems"]}
    assert problems["bad.xml"].startswith("not JUnit XML (")
    assert problems["link.xml"] == "is a symlink, not read"
    assert problems["fifo.xml"] == "is not a regular file, not read"
    assert problems["missing/*.xml"] == "no file matches it"
    assert "not-junit.xml" in problems
    logs = run_cli("logs", "ci/1", "Test/unit", cwd=repo.root, check=True).stdout
    assert "pipedeck: report link.xml: is a symlink, not read" in logs
    assert "pipedeck: 0 tests in the reports: none" in logs
    kept = repo.root / ".git/pipedeck/runs/ci/1/reports/Test/unit/1"
    assert sorted(p.name for p in kept.iterdir()) == ["1-bad.xml", "2-not-junit.xml"]
