"""`pipedeck watch` as the one engine; `run`, `retry`, `cancel`, `transition` as its clients."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cli.test_recovery import query, read_pid
from tests.conftest import PIPEDECK, RepoMaker, git, gone, run_cli, wait_for

CI = """
name: ci
stages:
  - name: Build
    actions:
      - {name: compile, kind: build, run: 'echo compiled $PIPEDECK_RUN'}
  - name: Test
    actions:
      - {name: unit, kind: test, run: 'echo testing; test -e "$PIPEDECK_REPO_ROOT/fixed"'}
  - name: Deploy
    actions:
      - {name: ship, kind: deploy, run: 'echo shipped $PIPEDECK_RUN'}
"""


class Watcher:
    def __init__(self, proc: subprocess.Popen[str], out: Path, err: Path) -> None:
        self.proc, self.out, self.err = proc, out, err

    def stderr(self) -> str:
        return self.err.read_text()

    def stdout(self) -> str:
        return self.out.read_text()


@contextmanager
def watching(root: Path, *args: str) -> Iterator[Watcher]:
    out, err = root.parent / "watch.out", root.parent / "watch.err"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen(
            [*PIPEDECK, "watch", *args], cwd=root, stdout=o, stderr=e, text=True
        )
    watcher = Watcher(proc, out, err)
    try:
        wait_for(
            lambda: "watching" in watcher.stderr() or "WatchStarted" in watcher.stdout(), "watch"
        )
        yield watcher
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def trusted_repo(repo: RepoMaker, text: str = CI) -> RepoMaker:
    repo.pipeline(text)
    repo.commit("pipeline")
    run_cli("trust", "--yes", cwd=repo.root, check=True)
    return repo


def runs_json(root: Path) -> list[dict[str, object]]:
    return json.loads(run_cli("runs", "--json", cwd=root, check=True).stdout)


def test_watch_runs_commits_and_run_is_handed_to_it(repo: RepoMaker) -> None:
    trusted_repo(repo)
    (repo.root / "fixed").touch()
    with watching(repo.root) as watcher:
        # A second engine is refused, naming the first.
        second = run_cli("watch", cwd=repo.root)
        assert second.returncode == 1
        assert (
            f"another engine already runs pipelines for this repository ({watcher.proc.pid} watch)"
            in second.stderr
        )
        repo.commit("feature")
        wait_for(lambda: "==> ci/1 succeeded" in watcher.stderr(), "the triggered run")
        # `run` becomes a client: the watcher runs it, and the client prints its logs.
        handed = run_cli("run", "ci", cwd=repo.root)
        assert handed.returncode == 0, handed.stderr
        assert "Build/compile | compiled ci/2" in handed.stdout
        assert "==> ci/2 succeeded" in handed.stderr
        wait_for(lambda: "==> ci/2 succeeded" in watcher.stderr(), "the watcher ran it")
    runs = runs_json(repo.root)
    assert [(r["run"], r["status"]) for r in runs] == [("ci/2", "succeeded"), ("ci/1", "succeeded")]
    assert runs[1]["trigger"] == "push to main"
    assert str(runs[0]["trigger"]).startswith("started by ")
    # Only the watcher ever held an engine lease for these runs.
    engines = {
        row[0]
        for row in query(repo.root / ".git/pipedeck/pipedeck.db", "SELECT engine_id FROM runs")
    }
    assert len(engines) == 1 and next(iter(engines)).startswith(f"{watcher.proc.pid}-")


def test_watch_json_prints_events_as_json_lines(repo: RepoMaker) -> None:
    trusted_repo(repo)
    with watching(repo.root, "--json") as watcher:
        repo.commit("feature")
        wait_for(lambda: '"RunFinished"' in watcher.stdout(), "the run to end")
    events = [json.loads(line) for line in watcher.stdout().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "WatchStarted" and events[0]["mode"] == "events"
    assert "RunStarted" in kinds and kinds[-1] == "RunFinished"
    assert "LogLines" not in kinds


def test_watch_says_when_it_polls(repo: RepoMaker) -> None:
    trusted_repo(repo)
    with watching(repo.root, "--poll") as watcher:
        assert "by polling: polling was requested" in watcher.stderr()
        repo.commit("feature")
        wait_for(lambda: "==> ci/1" in watcher.stderr(), "a run found by polling")


def test_retry_through_the_watcher_keeps_the_number(repo: RepoMaker) -> None:
    trusted_repo(repo)
    with watching(repo.root) as watcher:
        repo.commit("feature")
        wait_for(lambda: "==> ci/1 failed" in watcher.stderr(), "the failing run")
        (repo.root / "fixed").touch()
        retried = run_cli("retry", "ci/1", cwd=repo.root)
        assert retried.returncode == 0, retried.stderr
        assert "Test/unit | testing" in retried.stdout
        assert "Deploy/ship | shipped ci/1" in retried.stdout
        # What already succeeded is not printed again.
        assert "Build/compile" not in retried.stdout
    detail = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    unit = detail["stages"][1]["actions"][0]
    assert detail["status"] == "succeeded" and unit["attempt"] == 2
    assert [a["status"] for a in unit["earlier_attempts"]] == ["failed"]
    assert len(runs_json(repo.root)) == 1


def test_retry_without_an_engine_runs_it_here(repo: RepoMaker) -> None:
    trusted_repo(repo)
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    (repo.root / "fixed").touch()
    retried = run_cli("retry", "ci/1", "--all", cwd=repo.root)
    assert retried.returncode == 0, retried.stderr
    assert "==> ci/1 succeeded" in retried.stderr
    refused = run_cli("retry", "ci/1", cwd=repo.root)
    assert refused.returncode == 1
    assert "ci/1 is succeeded; only a run that failed can be retried" in refused.stderr


def test_transitions_hold_runs_until_enabled(repo: RepoMaker) -> None:
    trusted_repo(repo)
    (repo.root / "fixed").touch()
    out = run_cli("transition", "disable", "ci", "Deploy", "--reason", "freeze", cwd=repo.root)
    assert out.returncode == 0 and "transition into Deploy disabled (freeze)" in out.stdout
    listed = run_cli("transition", "list", cwd=repo.root, check=True).stdout
    assert "ci: into Deploy disabled by" in listed and listed.rstrip().endswith("freeze")
    first = run_cli("transition", "disable", "ci", "Build", "--reason", "x", cwd=repo.root)
    assert first.returncode == 1 and "Build is the first stage" in first.stderr
    with watching(repo.root) as watcher:
        repo.commit("one")
        wait_for(
            lambda: any(r["waiting_for"] == "Deploy" for r in runs_json(repo.root)), "held run"
        )
        repo.commit("two")
        wait_for(lambda: "==> ci/1 superseded" in watcher.stderr(), "the older one replaced")
        run_cli("transition", "enable", "ci", "Deploy", cwd=repo.root, check=True)
        wait_for(lambda: "==> ci/2 succeeded" in watcher.stderr(), "the newest goes on")


def test_cancel_wait_and_cancel_now(repo: RepoMaker) -> None:
    trusted_repo(
        repo,
        """
        name: ci
        stages:
          - name: Build
            actions:
              - name: slow
                kind: build
                run: 'while [ ! -e "$PIPEDECK_REPO_ROOT/go" ]; do sleep 0.05; done; echo done'

              - {name: next, kind: build, run_order: 2, run: 'echo next'}
        """,
    )
    with watching(repo.root) as watcher:
        repo.commit("one")
        wait_for(lambda: any(r["status"] == "running" for r in runs_json(repo.root)), "running")
        asked = run_cli("cancel", "ci/1", "--wait", "--detach", cwd=repo.root)
        assert "cancel requested (once its running actions finish)" in asked.stdout
        (repo.root / "go").touch()
        wait_for(lambda: "==> ci/1 cancelled" in watcher.stderr(), "stopped after slow")
        detail = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
        statuses = [a["status"] for a in detail["stages"][0]["actions"]]
        assert statuses == ["succeeded", "skipped"]
        (repo.root / "go").unlink()
        repo.commit("two")
        wait_for(lambda: any(r["status"] == "running" for r in runs_json(repo.root)), "running")
        now = run_cli("cancel", "ci/2", cwd=repo.root)
        assert now.returncode == 0 and "ci/2: cancelled" in now.stdout


def test_kill_9_of_the_watcher_interrupts_its_runs_and_ends_their_processes(
    repo: RepoMaker,
) -> None:
    trusted_repo(
        repo,
        """
        name: ci
        stages:
          - name: Build
            actions:
              - name: spawn
                kind: build
                run: |
                  setsid bash -c 'echo $$ > "$PIPEDECK_REPO_ROOT/daemon.pid"; exec sleep 120' &
                  sleep 120
        """,
    )
    with watching(repo.root) as watcher:
        repo.commit("one")
        wait_for(lambda: read_pid(repo.root / "daemon.pid") is not None, "the daemon")
        os.kill(watcher.proc.pid, signal.SIGKILL)
        watcher.proc.wait()
    daemon = read_pid(repo.root / "daemon.pid")
    assert daemon is not None
    # The action's processes end with the engine, the setsid daemon too, before any command.
    wait_for(lambda: gone(daemon), "the setsid daemon to end")
    # The next engine (or any command) finds the dead engine's run.
    shown = run_cli("runs", cwd=repo.root, check=True)
    assert "ci/1 was left running; marked interrupted" in shown.stderr
    assert runs_json(repo.root)[0]["status"] == "interrupted"
    # The lock went with the dead process: a new watcher starts.
    with watching(repo.root) as again:
        assert again.proc.poll() is None


def test_run_from_another_worktree_runs_that_worktree_s_commit(repo: RepoMaker) -> None:
    trusted_repo(repo)
    (repo.root / "fixed").touch()
    other = repo.root.parent / "feature-tree"
    git(repo.root, "worktree", "add", "-q", "-b", "feature", str(other))
    (other / "feature.txt").write_text("new\n")
    git(other, "add", "-A")
    git(other, "commit", "-qm", "feature work")
    feature_head = git(other, "rev-parse", "HEAD")
    # That worktree's own pipeline file, edited there and not committed.
    ci = other / "pipelines" / "ci.yml"
    ci.write_text(ci.read_text().replace("echo compiled", "echo FEATURE compiled"))
    with watching(repo.root):
        handed = run_cli("run", "ci", cwd=other)
        assert f"==> ci/1 started for {feature_head[:7]} on feature" in handed.stderr
        assert "Build/compile | FEATURE compiled ci/1" in handed.stdout
    (run,) = runs_json(repo.root)
    assert (run["commit"], run["branch"]) == (feature_head, "feature")
    assert run["pipeline_file"] == "working tree"
    shown = run_cli("show", "ci/1", cwd=repo.root, check=True).stdout
    assert f"file   {ci} from the working tree, not as committed" in shown.splitlines()


def test_a_client_following_a_run_whose_engine_dies_sees_it_interrupted(
    repo: RepoMaker,
) -> None:
    trusted_repo(
        repo,
        """
        name: ci
        stages:
          - name: Build
            actions:
              - {name: wait, kind: build, run: 'echo waiting; sleep 120'}
        """,
    )
    with watching(repo.root) as watcher:
        out = repo.root.parent / "client.out"
        with out.open("w") as sink:
            client = subprocess.Popen(
                [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=sink, stderr=subprocess.STDOUT
            )
        wait_for(lambda: "Build/wait | waiting" in out.read_text(), "the handed-off run")
        os.kill(watcher.proc.pid, signal.SIGKILL)
        watcher.proc.wait()
        assert client.wait(timeout=30) == 1
    assert "==> ci/1 interrupted" in out.read_text()
    assert runs_json(repo.root)[0]["status"] == "interrupted"


GATED = """
name: ci
stages:
  - name: Build
    actions:
      - {name: compile, kind: build, run: 'echo compiled'}
  - name: Gate
    actions:
      - {name: ok, kind: approval, timeout: 1h}
  - name: Ship
    actions:
      - {name: deploy, kind: deploy, run: 'echo shipped'}
"""


def newest_waits(root: Path) -> bool:
    runs = runs_json(root)
    return bool(runs) and runs[0]["status"] == "waiting"


def test_stopping_watch_leaves_a_waiting_run_waiting_and_approve_carries_it_on(
    repo: RepoMaker,
) -> None:
    trusted_repo(repo, GATED)
    with watching(repo.root) as watcher:
        repo.commit("feature")
        wait_for(lambda: newest_waits(repo.root), "the run to wait at its gate")
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.proc.wait(timeout=30) == 0
        assert "ci/1 stays waiting for an approval" in watcher.stderr()
        assert "cancelling" not in watcher.stderr()
    assert [(r["run"], r["status"]) for r in runs_json(repo.root)] == [("ci/1", "waiting")]
    # Decided while nothing watches: `approve` itself carries the run to its end.
    approved = run_cli("approve", "ci/1", "--comment", "later", cwd=repo.root)
    assert approved.returncode == 0, approved.stderr
    assert "==> ci/1 succeeded" in approved.stderr
    assert runs_json(repo.root)[0]["status"] == "succeeded"


HELD = """
name: ci
environments:
  production: {wait_timer: 1h}
stages:
  - name: Production
    actions:
      - {name: deploy, kind: deploy, run: 'echo shipped'}
"""


def test_stopping_watch_says_a_held_deploy_stays_held_and_why(repo: RepoMaker) -> None:
    trusted_repo(repo, HELD)
    with watching(repo.root) as watcher:
        repo.commit("feature")
        wait_for(lambda: newest_waits(repo.root), "the deploy to be held")
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.proc.wait(timeout=30) == 0
        said = watcher.stderr()
        assert re.search(
            r"ci/1 stays held: its deploy waits 1h \(until \d\d:\d\d:\d\d\); the next"
            r" console or `pipedeck watch` takes it up, and holds it again",
            said,
        ), said
        assert "pipedeck approve" not in said  # there is nothing to approve
    # The run says why it waits while no engine runs it.
    shown = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    [deploy] = shown["stages"][0]["actions"]
    assert (deploy["status"], deploy["hold"][:9]) == ("waiting", "waits 1h ")
    # Cancelled, it holds nothing any more.
    assert run_cli("cancel", "ci/1", cwd=repo.root).returncode == 0
    shown = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    [deploy] = shown["stages"][0]["actions"]
    assert deploy["status"] == "cancelled" and "hold" not in deploy


def test_the_next_watch_takes_up_a_run_left_waiting(repo: RepoMaker) -> None:
    trusted_repo(repo, GATED)
    with watching(repo.root):
        repo.commit("feature")
        wait_for(lambda: newest_waits(repo.root), "the run to wait at its gate")
    with watching(repo.root) as watcher:
        wait_for(lambda: "waits for approval" in watcher.stderr(), "the gate asked again")
        approved = run_cli("approve", "ci/1", cwd=repo.root)
        assert approved.returncode == 0, approved.stderr
        wait_for(lambda: "==> ci/1 succeeded" in watcher.stderr(), "the new watcher to ship it")
