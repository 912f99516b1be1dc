"""`pipedeck demo`: a sample repository built, tested, deployed to staging, tested there,
approved and deployed to production on this machine."""

from __future__ import annotations

import getpass
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.conftest import PIPEDECK, git, run_cli


def demo_detail(directory: Path, cwd: Path) -> dict[str, Any] | None:
    result = run_cli("--repo", str(directory), "show", "demo", "--json", cwd=cwd)
    if result.returncode != 0:
        return None
    detail: dict[str, Any] = json.loads(result.stdout)
    return detail


def actions(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{s['name']}/{a['name']}": a for s in detail["stages"] for a in s["actions"]}


def check_deployed(directory: Path) -> None:
    """The app runs from both environments' servers, and git records what each runs."""
    head = git(directory, "rev-parse", "HEAD")
    for environment in ("staging", "production"):
        app = directory / "server" / environment / "current" / "greeter.pyz"
        assert app.is_file()
        greeting = subprocess.run(
            [sys.executable, str(app), "you"], capture_output=True, text=True, timeout=30
        )
        assert greeting.returncode == 0, greeting.stderr
        assert greeting.stdout == "Hello, you!\n"
        tag = f"pipedeck/{environment}"
        assert git(directory, "cat-file", "-t", tag) == "tag"  # annotated
        assert git(directory, "rev-parse", f"{tag}^{{commit}}") == head
        assert git(directory, "rev-parse", f"{tag}@1^{{commit}}") == head


def test_demo_with_approve_runs_end_to_end(tmp_path: Path) -> None:
    directory = tmp_path / "sample"
    result = run_cli("demo", str(directory), "--approve", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr

    # A real repository with a history, the pipeline committed, nothing left uncommitted.
    subjects = git(directory, "log", "--format=%s").splitlines()
    assert len(subjects) >= 3, subjects
    assert "pipelines/demo.yml" in git(directory, "ls-files").splitlines()
    assert git(directory, "status", "--porcelain") == ""

    # Every stage's output reached the terminal, prefixed.
    lines = result.stdout.splitlines()
    for prefix in (
        "Source/checkout | ",
        "Build/package | ",
        "Test/unit.1 | ",
        "Test/unit.2 | ",
        "Staging/deploy | ",
        "Integration/against-staging | staging answers as it should",
        "Production/deploy | ",
    ):
        assert any(line.startswith(prefix) for line in lines), (prefix, lines)

    check_deployed(directory)

    detail = demo_detail(directory, tmp_path)
    assert detail is not None
    assert (detail["pipeline"], detail["number"], detail["status"]) == ("demo", 1, "succeeded")
    assert detail["commit"] == git(directory, "rev-parse", "HEAD")
    assert {name: a["status"] for name, a in actions(detail).items()} == dict.fromkeys(
        actions(detail), "succeeded"
    )
    # Production's rule is continuous delivery: its deploy waited for a person itself.
    production = actions(detail)["Production/deploy"]
    assert production["decision"]["result"] == "approved"
    assert "decision" not in actions(detail)["Staging/deploy"]


def test_demo_waits_for_an_approval_from_another_process(tmp_path: Path) -> None:
    directory = tmp_path / "sample"
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [*PIPEDECK, "demo", str(directory)],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            detail = demo_detail(directory, tmp_path)
            waiting = (
                detail is not None and actions(detail)["Production/deploy"]["status"] == "waiting"
            )
            if waiting:
                break
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, f"the demo never waited:\n{out.read_text()}"
            time.sleep(0.1)
        # Staging was deployed and tested; production waits for the decision.
        assert (directory / "server" / "staging" / "current" / "greeter.pyz").is_file()
        assert not (directory / "server" / "production").exists()

        approved = run_cli(
            "--repo", str(directory), "approve", "demo", "--comment", "ship it", cwd=tmp_path
        )
        assert approved.returncode == 0, approved.stderr
        assert proc.wait(timeout=60) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()

    assert "approve demo" in out.read_text()  # it told the user how to answer
    check_deployed(directory)
    detail = demo_detail(directory, tmp_path)
    assert detail is not None
    assert detail["status"] == "succeeded"
    gate = actions(detail)["Production/deploy"]
    assert gate["decision"]["comment"] == "ship it"
    assert gate["decision"]["by"] == getpass.getuser()


def test_demo_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    directory = tmp_path / "mine"
    directory.mkdir()
    (directory / "notes.txt").write_text("my notes\n")
    result = run_cli("demo", str(directory), "--approve", cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "mine" in result.stderr
    assert "empty" in result.stderr
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]
