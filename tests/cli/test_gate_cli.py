"""Who may decide a gate, and a gate decided while no engine runs.

An action must not decide its own gate through pipedeck: not by `pipedeck approve` with its
environment, nor with that environment cleared or its run marker overwritten, nor through
the request functions from Python. With no console or `watch` running, `pipedeck approve` /
`reject` carry the run to its end themselves, and `cancel` ends a run left waiting.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from pipedeck.engine import Engine, Project, current_user
from pipedeck.store import Status
from tests.cli.test_approval_cli import GATED, action, background, show, wait_until_waiting
from tests.conftest import FAST, RepoMaker, git, run_cli, wait_for

PIPEDECK = f'{sys.executable} -m pipedeck --repo "$PIPEDECK_REPO_ROOT"'
ORPHAN = f'{sys.executable} -m pipedeck --repo "$2"'

SNEAK = f"""
name: ci
stages:
  - name: Approve
    actions:
      - {{name: gate, kind: approval, timeout: 1h}}
      - name: sneak
        kind: build
        run: |
          until {PIPEDECK} show ci --json | grep -q '"status": "waiting"'; do sleep 0.1; done
          try() {{
            "$@" > attempt.out 2>&1 && code=0 || code=$?
            echo "$code $(tr '\\n' ' ' < attempt.out)" >> "$PIPEDECK_REPO_ROOT/attempts.txt"
          }}
          try {PIPEDECK} approve ci --comment "my own gate"
          try env -i PATH="$PATH" {PIPEDECK} approve ci --comment "no environment"
          try env PIPEDECK_RUN_TOKEN=forged {PIPEDECK} approve ci --comment "forged marker"
          try setsid env -i PATH="$PATH" {PIPEDECK} approve ci --comment "own session"
          try {sys.executable} -c '
          from pathlib import Path
          from pipedeck.engine import Project, requests
          project = Project.open(Path("'"$PIPEDECK_REPO_ROOT"'"))
          requests.approve(project.store, project.store.find_run("ci"), "from python")'
          # Orphaned on purpose: its own session, no environment, its parent gone at once.
          ( setsid env -i PATH="$PATH" bash -c '
              while [ "$(cut -d" " -f4 /proc/$$/stat)" = "$1" ]; do sleep 0.01; done
              {ORPHAN} approve ci --comment orphan > "$2/orphan.out" 2>&1 && code=0 || code=$?
              echo "$code $(tr "\\n" " " < "$2/orphan.out")" >> "$2/attempts.txt"
            ' _ $BASHPID "$PIPEDECK_REPO_ROOT" & )
          until [ "$(wc -l < "$PIPEDECK_REPO_ROOT/attempts.txt")" -ge 6 ]; do sleep 0.05; done
  - name: Deploy
    actions:
      - {{name: ship, kind: deploy, run: 'echo shipped'}}
"""


def test_an_action_cannot_decide_its_own_gate(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(SNEAK)
    repo.commit("Try to approve from inside")
    attempts = repo.root / "attempts.txt"
    out = tmp_path / "run.out"
    with background(repo, out, "run", "ci") as proc:
        detail = wait_until_waiting(repo, proc, out)
        wait_for(
            lambda: action(show(repo), "Approve", "sneak")["status"] not in ("queued", "running"),
            "the action's attempts",
        )
        detail = show(repo)
        tried = attempts.read_text().splitlines()
        assert len(tried) == 6, tried
        for number, line in enumerate(tried):
            code, _, said = line.partition(" ")
            assert code == "1", line
            assert "not from inside a run" in said, line
            if number != 4:  # the command line says it in one line (Python raises, as it should)
                assert "Traceback" not in said, line
        # The gate still waits for a person, who decides from outside.
        assert action(detail, "Approve", "gate")["decision"] is None
        result = run_cli("approve", "ci", "--comment", "from my shell", cwd=repo.root)
        assert result.returncode == 0, result.stderr
        assert proc.wait(timeout=60) == 0, out.read_text()
    done = show(repo)
    assert done["status"] == "succeeded"
    decision = action(done, "Approve", "gate")["decision"]
    assert (decision["by"], decision["comment"]) == (current_user(), "from my shell")


def left_waiting(repo: RepoMaker, timeout: str = "1h") -> str:
    """A run whose engine stopped (as a console that quit) while its gate waited."""
    repo.pipeline(GATED.format(timeout=timeout))
    repo.commit("Gate it")

    async def start_and_stop() -> str:
        project = Project.open(repo.root)
        engine = Engine(project, FAST)
        run = await engine.start(project.pipeline("ci"))
        for _ in range(600):
            if project.store.run_by_id(run.id).status is Status.WAITING:
                break
            await asyncio.sleep(0.05)
        assert project.store.run_by_id(run.id).status is Status.WAITING
        left = await engine.close()
        project.close()
        return left[0].key

    return asyncio.run(start_and_stop())


def test_approve_with_no_engine_running_carries_the_run_on_and_records_the_email(
    repo: RepoMaker,
) -> None:
    key = left_waiting(repo)
    assert show(repo)["status"] == "waiting"
    git(repo.root, "config", "user.email", "approver@example.invalid")
    result = run_cli("approve", key, "--comment", "go", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"{key}: approved by {current_user()}"
    assert "Deploy/ship | shipping" in result.stdout
    assert f"==> {key} succeeded" in result.stderr
    done = show(repo)
    assert done["status"] == "succeeded"
    decision = action(done, "Approve", "gate")["decision"]
    assert decision["email"] == "approver@example.invalid"
    assert decision["by"] == current_user()


def test_reject_with_no_engine_running_ends_the_run(repo: RepoMaker) -> None:
    key = left_waiting(repo)
    result = run_cli("reject", key, "--comment", "not this one", cwd=repo.root)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == f"{key}: rejected by {current_user()}"
    assert f"==> {key} failed" in result.stderr
    done = show(repo)
    assert (done["status"], action(done, "Deploy", "ship")["status"]) == ("failed", "skipped")


def test_approve_after_the_timeout_passed_with_no_engine_ends_it_timed_out(
    repo: RepoMaker,
) -> None:
    key = left_waiting(repo, timeout="1s")
    wait_for(lambda: expired(repo), "the gate's deadline")
    result = run_cli("approve", key, cwd=repo.root)
    assert result.returncode == 1
    assert "expired" in result.stderr
    assert "Traceback" not in result.stderr
    done = show(repo)
    assert done["status"] == "timed_out"
    assert action(done, "Approve", "gate")["decision"]["result"] == "timed_out"


def expired(repo: RepoMaker) -> bool:
    """The gate's deadline passed, by the store's own clock."""
    project = Project.open(repo.root)
    try:
        return project.store.expired(project.store.find_run("ci").id)
    finally:
        project.close()


def test_cancel_ends_a_run_left_waiting(repo: RepoMaker) -> None:
    key = left_waiting(repo)
    result = run_cli("cancel", key, cwd=repo.root)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == f"{key}: cancelled"
    assert show(repo)["status"] == "cancelled"


def test_a_refused_decision_carries_nothing_on(repo: RepoMaker) -> None:
    """A wrong name, with no engine running: said at once, and the run is left as it was."""
    key = left_waiting(repo)
    result = run_cli("approve", key, "Approve/nosuch", cwd=repo.root)
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"pipedeck: {key} has no approval Approve/nosuch waiting (run is waiting)"
    )
    assert result.stdout == ""
    detail = show(repo)
    assert detail["status"] == "waiting"
    assert action(detail, "Approve", "gate")["decision"] is None


SLOW = """
name: slow
stages:
  - name: Work
    actions:
      - name: wait
        kind: build
        run: 'until [ -e "$PIPEDECK_REPO_ROOT/done" ]; do sleep 0.05; done'
"""


def test_a_decision_is_carried_out_by_whichever_engine_holds_the_repository(
    repo: RepoMaker, tmp_path: Path
) -> None:
    """`pipedeck run` runs only its own run, but a run left waiting that gets its decision
    meanwhile is taken up by it, not left for the next console."""
    key = left_waiting(repo)
    repo.pipeline(SLOW, name="slow")
    repo.commit("Add slow")
    out = tmp_path / "slow.out"
    with background(repo, out, "run", "slow") as proc:
        wait_for(lambda: "slow/1" in run_cli("runs", cwd=repo.root).stdout, "slow to start")
        result = run_cli("approve", key, "--comment", "go on", cwd=repo.root)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"{key}: approved by {current_user()}"
        wait_for(lambda: show(repo, key)["status"] != "waiting", "the run to be taken up")
        assert proc.poll() is None, out.read_text()
        (repo.root / "done").touch()
        assert proc.wait(timeout=60) == 0, out.read_text()
    assert show(repo, key)["status"] == "succeeded"
