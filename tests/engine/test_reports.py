"""Test reports: real pytest runs write JUnit XML; pipedeck keeps and reads it, failed or not."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RepoMaker, git, run_cli

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


# --- flaky tests -------------------------------------------------------------------------


def flaky_pipeline(extra: str = "") -> str:
    return f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
{extra}    actions:
      - name: unit
        kind: test
        inputs: [source]
        reports: [report.xml]
        run: '"{sys.executable}" -m pytest -q -p no:cacheprovider test_app.py --junitxml=report.xml'
"""


def flags(repo: RepoMaker, run: str) -> dict[str, tuple[str, bool]]:
    """Test name → (outcome, flaky) of `run`."""
    return {t["name"]: (t["outcome"], t["flaky"]) for t in reported(repo, run)["tests"]}


def test_a_test_that_fails_then_passes_on_the_retry_is_flaky(
    repo: RepoMaker, tmp_path: Path
) -> None:
    marker = tmp_path / "ran-before"  # outside the workspace: the retry sees the first try
    repo.write(
        "test_app.py",
        f"""
        import pathlib

        MARKER = pathlib.Path({str(marker)!r})


        def test_settles():
            if not MARKER.exists():
                MARKER.write_text("ran")
                raise AssertionError("not ready the first time")


        def test_always_fails():
            assert 1 == 2, "broken for good"


        def test_passes():
            pass
        """,
    )
    repo.pipeline(flaky_pipeline("    on_failure: {retry: failed_actions, attempts: 1}\n"))
    repo.commit("a test that settles on the retry")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1  # test_always_fails, twice
    assert flags(repo, "ci/1") == {
        "test_settles": ("passed", True),
        "test_always_fails": ("failed", False),
        "test_passes": ("passed", False),
    }
    assert {t["attempt"] for t in reported(repo, "ci/1")["tests"]} == {2}
    said = run_cli("tests", "ci/1", cwd=repo.root, check=True).stdout
    assert "✔ passed   Test/unit  test_app::test_settles" in said
    settles = next(line for line in said.splitlines() if "test_settles" in line)
    assert settles.endswith("⚠ flaky")
    assert "flaky" not in next(line for line in said.splitlines() if "test_always" in line)


FLIPS = """
import os
import pathlib

OUTCOME = pathlib.Path(MARKER).read_text().strip()


def test_flips():
    assert OUTCOME == "pass", "told to fail"


def test_always_fails():
    assert 1 == 2, "broken for good"


def test_db():
    assert os.environ.get("PIPEDECK_MATRIX_DB") != "postgres", "not on postgres"
"""


def test_a_test_that_failed_in_an_earlier_run_on_its_branch_is_flaky(
    repo: RepoMaker, tmp_path: Path
) -> None:
    told = tmp_path / "outcome"
    repo.write("test_app.py", FLIPS.replace("MARKER", repr(str(told))))
    repo.pipeline(flaky_pipeline())
    repo.commit("a test that flips")

    told.write_text("fail")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1  # ci/1 on main: fails
    assert flags(repo, "ci/1")["test_flips"] == ("failed", False)  # no history yet

    git(repo.root, "checkout", "-q", "-b", "feature")
    told.write_text("pass")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1  # ci/2 on feature: passes
    assert reported_run(repo, "ci/2")["branch"] == "feature"
    # main's failure is main's: on feature it has only passed.
    assert flags(repo, "ci/2")["test_flips"] == ("passed", False)

    git(repo.root, "checkout", "-q", "main")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1  # ci/3 on main: passes
    assert flags(repo, "ci/3") == {
        "test_flips": ("passed", True),  # failed in ci/1, passed in ci/3, both on main
        "test_always_fails": ("failed", False),
        "test_db": ("passed", False),
    }
    # Each run says what was known by then: ci/1 stays as it was.
    assert flags(repo, "ci/1")["test_flips"] == ("failed", False)
    said = run_cli("tests", "ci/3", "--json", cwd=repo.root, check=True).stdout
    assert json.loads(said)["tests"][0]["flaky"] is True

    # The run list counts each run's tests, in one column.
    listed = run_cli("runs", cwd=repo.root, check=True).stdout.splitlines()
    assert [line.split("  ")[0] for line in listed] == ["ci/3", "ci/2", "ci/1"]
    assert "✘ failed       ✘ 1 failed of 3  " in listed[0]
    assert "✘ failed       ✘ 2 failed of 3  " in listed[2]
    runs = json.loads(run_cli("runs", "--json", cwd=repo.root, check=True).stdout)
    assert runs[0]["tests"] == {"passed": 2, "failed": 1}


def test_a_commit_that_breaks_a_test_or_fixes_it_does_not_make_it_flaky(
    repo: RepoMaker, tmp_path: Path
) -> None:
    told = tmp_path / "outcome"
    told.write_text("pass")
    repo.write("test_app.py", FLIPS.replace("MARKER", repr(str(told))))
    repo.pipeline(flaky_pipeline())
    repo.commit("a test that passes")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    # A new commit breaks it: a failure, once, is a failure.
    told.write_text("fail")
    repo.commit("a commit that breaks it")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    assert flags(repo, "ci/2")["test_flips"] == ("failed", False)
    # The next commit fixes it: one change back, still no flakiness.
    told.write_text("pass")
    repo.commit("a commit that fixes it")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    assert flags(repo, "ci/3")["test_flips"] == ("passed", False)
    # And then it fails again with nothing that explains it: back and forth is flaky.
    told.write_text("fail")
    repo.commit("an unrelated commit")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    assert flags(repo, "ci/4")["test_flips"] == ("failed", True)


def test_a_test_failing_on_one_matrix_combination_every_time_is_not_flaky(
    repo: RepoMaker, tmp_path: Path
) -> None:
    told = tmp_path / "outcome"
    told.write_text("pass")
    repo.write("test_app.py", FLIPS.replace("MARKER", repr(str(told))))
    repo.pipeline(
        flaky_pipeline().replace(
            # Both combinations to their ends every time: none stopped by the other.
            "        reports:",
            "        matrix: {db: [sqlite, postgres]}\n        fail_fast: false\n        reports:",
        )
    )
    repo.commit("a matrix")
    for _ in range(2):
        assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    found = reported(repo, "ci/2")["tests"]
    by_copy = {(t["action"], t["name"]): (t["outcome"], t["flaky"]) for t in found}
    assert by_copy[("unit-postgres", "test_db")] == ("failed", False)
    assert by_copy[("unit-sqlite", "test_db")] == ("passed", False)
    assert {t["group"] for t in found} == {"unit"}
    assert not any(t["flaky"] for t in found)
    # The action as written names all its copies.
    only = reported(repo, "ci/2", "Test/unit", "--failed")["tests"]
    assert sorted((t["action"], t["name"]) for t in only) == [
        ("unit-postgres", "test_always_fails"),
        ("unit-postgres", "test_db"),
        ("unit-sqlite", "test_always_fails"),
    ]


def reported_run(repo: RepoMaker, run: str) -> Any:
    return json.loads(run_cli("show", run, "--json", cwd=repo.root, check=True).stdout)
