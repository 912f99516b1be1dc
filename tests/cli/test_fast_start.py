"""The everyday commands load only what reading the store needs: checked in a fresh
interpreter per command, on a repository whose run an engine in another process drives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cli.test_approval_cli import GATED, action, background, show, wait_until_waiting
from tests.conftest import RepoMaker

HEAVY = ("textual", "rich", "pydantic", "git", "watchfiles")
"""What a command that only reads or steers runs must not load (`git` is GitPython)."""
ENGINE = ("pipedeck.engine.engine", "pipedeck.definition.model", "pipedeck.tui")

PROBE = textwrap.dedent(
    """
    import json, sys
    report, *args = sys.argv[1:]
    sys.argv = ["pipedeck", *args]
    from pipedeck.cli import main
    try:
        main()
    finally:
        with open(report, "w") as f:
            json.dump(sorted(sys.modules), f)
    """
)


def loaded(
    cwd: Path, tmp_path: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `pipedeck ARGS` in a fresh interpreter; what it printed, and every module it loaded."""
    report = tmp_path / "modules.json"
    report.unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result, set(json.loads(report.read_text()))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(ENGINE))


def test_everyday_commands_load_none_of_the_engine(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(GATED.format(timeout="1h"))
    repo.commit()
    seen: dict[str, list[str]] = {}

    # A person's second shell while `pipedeck run` waits at the gate in the first.
    with background(repo, tmp_path / "one.log", "run", "ci") as first:
        wait_until_waiting(repo, first, tmp_path / "one.log")
        for args in (
            ("runs",),
            ("show", "ci/1"),
            ("show", "ci/1", "--json"),
            ("logs", "ci/1"),
            ("logs", "ci/1", "Source/checkout"),
            ("transition", "list"),
            ("deployments",),
            ("deployments", "production", "--json"),
            ("--version",),
            ("--help",),
            ("approve", "--help"),
        ):
            result, modules = loaded(repo.root, tmp_path, *args)
            assert result.returncode == 0, (args, result.stderr)
            seen[" ".join(args)] = heavy(modules)
        result, modules = loaded(repo.root, tmp_path, "runs")
        assert "ci/1" in result.stdout and "waiting" in result.stdout
        result, modules = loaded(repo.root, tmp_path, "approve", "ci/1", "--comment", "ok")
        assert result.returncode == 0, result.stderr
        assert "ci/1: approved by" in result.stdout
        seen["approve"] = heavy(modules)
        assert first.wait(timeout=60) == 0
    assert show(repo, "ci/1")["status"] == "succeeded"

    with background(repo, tmp_path / "two.log", "run", "ci") as second:
        wait_until_waiting(repo, second, tmp_path / "two.log")
        result, modules = loaded(repo.root, tmp_path, "reject", "ci/2", "--comment", "not yet")
        assert result.returncode == 0, result.stderr
        seen["reject"] = heavy(modules)
        assert second.wait(timeout=60) == 1
    assert action(show(repo, "ci/2"), "Approve", "gate")["decision"]["result"] == "rejected"

    with background(repo, tmp_path / "three.log", "run", "ci") as third:
        wait_until_waiting(repo, third, tmp_path / "three.log")
        result, modules = loaded(repo.root, tmp_path, "cancel", "ci/3")
        assert result.returncode == 0, result.stderr
        assert "ci/3: cancelled" in result.stdout
        seen["cancel"] = heavy(modules)
        third.wait(timeout=60)
    assert show(repo, "ci/3")["status"] == "cancelled"

    assert seen == {command: [] for command in seen}


def test_the_probe_sees_a_command_that_loads_the_pipeline_model(
    repo: RepoMaker, tmp_path: Path
) -> None:
    # Disabling a transition checks the stage against the pipeline file: its work needs the
    # model, and the same probe shows it.
    repo.pipeline(GATED.format(timeout="1h"))
    repo.commit()
    result, modules = loaded(
        repo.root, tmp_path, "transition", "disable", "ci", "Deploy", "--reason", "freeze"
    )
    assert result.returncode == 0, result.stderr
    assert "pydantic" in modules
    assert "pipedeck.definition.model" in modules
    assert "textual" not in modules


def test_a_failing_command_says_so_in_one_line_without_loading_the_engine(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    result, modules = loaded(outside, tmp_path, "runs")
    assert result.returncode == 1
    assert result.stderr.startswith("pipedeck: ")
    assert "not inside a git repository" in result.stderr
    assert heavy(modules) == []
