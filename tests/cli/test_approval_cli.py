"""Requests from another process: approve, reject and cancel a run that `pipedeck run` drives."""

from __future__ import annotations

import getpass
import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import PIPEDECK, RepoMaker, gone, run_cli

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

GATED = """
name: ci
stages:
  - name: Source
    actions:
      - {{name: checkout, kind: source, outputs: [source]}}
  - name: Approve
    actions:
      - name: gate
        kind: approval
        message: "Ship #{{source.commit_short}}?"
        timeout: {timeout}
  - name: Deploy
    actions:
      - {{name: ship, kind: deploy, environment: staging, inputs: [source], run: 'echo shipping'}}
"""


@contextmanager
def background(repo: RepoMaker, out: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """`pipedeck ARGS` running in the background; killed if still running at the end."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [*PIPEDECK, *args], cwd=repo.root, stdout=sink, stderr=subprocess.STDOUT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def run_all(cwd: Path, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, one after the other (in process: each costs no Python start)."""
    return [run_cli(*args, cwd=cwd) for args in commands]


def show(repo: RepoMaker, run: str = "ci") -> dict[str, Any]:
    result = run_cli("show", run, "--json", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    detail: dict[str, Any] = json.loads(result.stdout)
    return detail


def action(detail: dict[str, Any], stage: str, name: str) -> dict[str, Any]:
    for s in detail["stages"]:
        for a in s["actions"]:
            if s["name"] == stage and a["name"] == name:
                found: dict[str, Any] = a
                return found
    raise AssertionError(f"no action {stage}/{name} in {detail}")


def stage_statuses(detail: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in detail["stages"]}


def wait_until_waiting(
    repo: RepoMaker, proc: subprocess.Popen[bytes], out: Path, timeout: float = 30
) -> dict[str, Any]:
    """Poll `pipedeck show ci --json` until the approval gate waits for a decision."""
    deadline = time.monotonic() + timeout
    while True:
        result = run_cli("show", "ci", "--json", cwd=repo.root)
        if result.returncode == 0:
            detail: dict[str, Any] = json.loads(result.stdout)
            if action(detail, "Approve", "gate")["status"] == "waiting":
                return detail
        if proc.poll() is not None:
            raise AssertionError(f"pipedeck run ended early:\n{out.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the approval never waited:\n{out.read_text()}")
        time.sleep(0.1)


def test_approve_from_another_process(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(GATED.format(timeout="30s"))
    sha = repo.commit()
    out = tmp_path / "run.jsonl"
    with background(repo, out, "run", "ci", "--json") as proc:
        waiting = wait_until_waiting(repo, proc, out)
        assert waiting["status"] == "waiting"
        assert action(waiting, "Approve", "gate")["decision"] is None
        assert action(waiting, "Deploy", "ship")["status"] == "queued"

        approved = run_cli("approve", "ci/1", "--comment", "ok", cwd=repo.root)
        assert approved.returncode == 0, approved.stderr
        assert proc.wait(timeout=30) == 0, out.read_text()

    detail, again = run_all(repo.root, ("show", "ci/1", "--json"), ("approve", "ci/1"))
    done = json.loads(detail.stdout)
    assert done["status"] == "succeeded"
    gate = action(done, "Approve", "gate")
    assert gate["status"] == "succeeded"
    assert gate["kind"] == "approval"
    decision = gate["decision"]
    assert decision["by"] == getpass.getuser()
    assert decision["comment"] == "ok"
    assert decision["result"] == "approved"
    assert ISO_UTC.match(decision["at"]), decision
    assert action(done, "Deploy", "ship")["status"] == "succeeded"

    # The decision is made; there is nothing left to approve.
    assert again.returncode == 1
    assert "ci/1" in again.stderr
    assert "Traceback" not in again.stderr

    events = [json.loads(line) for line in out.read_text().splitlines()]
    requested = [e for e in events if e["event"] == "ApprovalRequested"]
    decided = [e for e in events if e["event"] == "ApprovalDecided"]
    assert len(requested) == len(decided) == 1
    assert requested[0]["stage"] == "Approve" and requested[0]["action"] == "gate"
    assert requested[0]["message"] == f"Ship {sha[:7]}?"
    assert decided[0]["result"] == "approved"
    assert decided[0]["by"] == getpass.getuser()
    assert decided[0]["comment"] == "ok"
    assert events.index(requested[0]) < events.index(decided[0])
    assert events[-1]["event"] == "RunFinished"
    assert events[-1]["status"] == "succeeded"


def test_reject_from_another_process(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(GATED.format(timeout="30s"))
    repo.commit()
    out = tmp_path / "run.out"
    with background(repo, out, "run", "ci") as proc:
        wait_until_waiting(repo, proc, out)

        no_reason = run_cli("reject", "ci/1", cwd=repo.root)
        assert no_reason.returncode == 2  # a usage error: the reason is required
        assert "--comment" in no_reason.stderr

        rejected = run_cli("reject", "ci/1", "--comment", "no", cwd=repo.root)
        assert rejected.returncode == 0, rejected.stderr
        assert proc.wait(timeout=30) == 1, out.read_text()

    detail = show(repo)
    assert detail["status"] == "failed"
    gate = action(detail, "Approve", "gate")
    assert gate["status"] == "rejected"
    assert gate["decision"]["result"] == "rejected"
    assert gate["decision"]["comment"] == "no"
    assert gate["decision"]["by"] == getpass.getuser()
    assert stage_statuses(detail) == {
        "Source": "succeeded",
        "Approve": "failed",
        "Deploy": "skipped",
    }
    assert action(detail, "Deploy", "ship")["status"] == "skipped"
    assert "rejected" in out.read_text()


def test_an_approval_nobody_answers_times_out(repo: RepoMaker) -> None:
    repo.pipeline(GATED.format(timeout="1s"))
    repo.commit()
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr

    detail, late, unknown = run_all(
        repo.root, ("show", "ci", "--json"), ("approve", "ci"), ("approve", "ci/3")
    )
    done = json.loads(detail.stdout)
    assert done["status"] == "timed_out"
    assert action(done, "Approve", "gate")["status"] == "timed_out"
    assert action(done, "Deploy", "ship")["status"] == "skipped"
    assert stage_statuses(done)["Approve"] == "timed_out"
    assert late.returncode == 1
    assert unknown.returncode == 1
    assert "ci/3" in unknown.stderr
    for result in (late, unknown):
        assert "Traceback" not in result.stderr


SLEEPY = """
name: ci
stages:
  - name: Build
    actions:
      - name: sleepy
        kind: build
        timeout: 60s
        run: |
          echo $$ > "$PIPEDECK_REPO_ROOT/script.pid"
          sleep 30 &
          echo $! > "$PIPEDECK_REPO_ROOT/sleep.tmp"
          mv "$PIPEDECK_REPO_ROOT/sleep.tmp" "$PIPEDECK_REPO_ROOT/sleep.pid"
          echo sleeping
          wait
      - {name: after, kind: build, run_order: 2, run: 'echo never'}
  - name: Test
    actions:
      - {name: unit, kind: test, run: 'echo never'}
"""


def test_cancel_from_another_process(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(SLEEPY)
    repo.commit()
    out = tmp_path / "run.out"
    pid_file = repo.root / "sleep.pid"
    with background(repo, out, "run", "ci") as proc:
        deadline = time.monotonic() + 30
        while not pid_file.exists():
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, "the action never started"
            time.sleep(0.05)
        pids = [int((repo.root / name).read_text()) for name in ("script.pid", "sleep.pid")]
        assert not any(gone(pid) for pid in pids)

        cancelled = run_cli("cancel", "ci/1", cwd=repo.root)
        assert cancelled.returncode == 0, cancelled.stderr
        assert "cancelled" in cancelled.stdout
        assert proc.wait(timeout=30) == 1, out.read_text()

    deadline = time.monotonic() + 10
    while not all(gone(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running: {pids}"
        time.sleep(0.05)

    detail, again = run_all(repo.root, ("show", "ci", "--json"), ("cancel", "ci/1"))
    done = json.loads(detail.stdout)
    assert done["status"] == "cancelled"
    assert action(done, "Build", "sleepy")["status"] == "cancelled"
    assert action(done, "Build", "after")["status"] == "skipped"
    assert action(done, "Test", "unit")["status"] == "skipped"
    assert stage_statuses(done) == {"Build": "cancelled", "Test": "skipped"}
    assert "never" not in out.read_text()

    assert again.returncode == 1  # a finished run cannot be cancelled
    assert "Traceback" not in again.stderr


def test_cancel_while_waiting_for_approval(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(GATED.format(timeout="30s"))
    repo.commit()
    out = tmp_path / "run.out"
    with background(repo, out, "run", "ci") as proc:
        wait_until_waiting(repo, proc, out)
        cancelled = run_cli("cancel", "ci", cwd=repo.root)
        assert cancelled.returncode == 0, cancelled.stderr
        assert proc.wait(timeout=30) == 1, out.read_text()

    detail = show(repo)
    assert detail["status"] == "cancelled"
    assert action(detail, "Approve", "gate")["status"] == "cancelled"
    assert action(detail, "Deploy", "ship")["status"] == "skipped"
