"""`kill -9` of the process running a pipeline: the next pipedeck command cleans up after it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.conftest import PIPEDECK, RepoMaker, gone, run_cli, wait_for

SPEW = """
name: ci
stages:
  - name: Build
    actions:
      - name: spew
        kind: build
        timeout: 120s
        run: |
          echo $$ > "$PIPEDECK_REPO_ROOT/script.pid"
          bash -c 'trap "" TERM; echo $$ > "$PIPEDECK_REPO_ROOT/stubborn.pid"; exec sleep 60' &
          setsid bash -c 'echo $$ > "$PIPEDECK_REPO_ROOT/daemon.pid"; exec sleep 60' &
          for i in $(seq 1 50); do echo "line $i"; done
          sleep 60
  - name: Test
    actions:
      - {name: unit, kind: test, run: 'echo never'}
"""

GATED = """
name: ci
stages:
  - name: Approve
    actions:
      - {name: gate, kind: approval, timeout: 60s}
  - name: Deploy
    actions:
      - {name: ship, kind: deploy, run: 'echo never'}
"""

ACTIVE = {"queued", "running", "waiting"}


def ignores_sigterm(pid: int) -> bool:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return int(text) if text.endswith("\n") else None


def log_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    """Read the store with plain sqlite3, without any pipedeck code."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def all_statuses(detail: dict[str, Any]) -> list[str]:
    return [detail["status"]] + [x["status"] for s in detail["stages"] for x in [s, *s["actions"]]]


def test_kill_9_leaves_an_interrupted_run_its_log_and_no_processes(
    repo: RepoMaker, tmp_path: Path
) -> None:
    repo.pipeline(SPEW)
    repo.commit()
    state = repo.root / ".git" / "pipedeck"
    log = state / "runs" / "ci" / "1" / "logs" / "Build" / "spew.log"
    names = ("script.pid", "stubborn.pid", "daemon.pid")
    pids: list[int] = []
    with (tmp_path / "run.out").open("wb") as out:
        proc = subprocess.Popen(
            [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: len(log_lines(log)) >= 50, "50 log lines")
        wait_for(lambda: all(read_pid(repo.root / n) for n in names), "the pid files")
        pids = [read_pid(repo.root / n) or 0 for n in names]
        _, stubborn, daemon = pids
        assert ignores_sigterm(stubborn)
        assert os.getsid(daemon) == daemon  # a session, and so a process group, of its own
        assert proc.poll() is None
        proc.kill()  # SIGKILL: no cleanup of any kind in pipedeck
        proc.wait()

        # The store as the killed process left it, read before any pipedeck process opens it.
        rows = query(state / "pipedeck.db", "SELECT pipeline, number, status FROM runs")
        assert rows == [("ci", 1, "running")]
        # No pipedeck command has run since, yet the action's processes end with the engine,
        # the one that ignores SIGTERM and the one in a session of its own too: the action's
        # reaper outlives the engine only to end them.
        wait_for(lambda: all(gone(pid) for pid in pids), "the action's processes to end")

        listed = run_cli("runs", "--json", cwd=repo.root)
        assert listed.returncode == 0, listed.stderr
        runs = json.loads(listed.stdout)
        assert [(r["number"], r["status"]) for r in runs] == [(1, "interrupted")]
        assert runs[0]["finished_at"] is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if pid and not gone(pid):
                os.kill(pid, signal.SIGKILL)

    assert log_lines(log)[:50] == [f"line {i}" for i in range(1, 51)]

    with ThreadPoolExecutor(2) as pool:
        shown, logs = pool.map(
            lambda args: run_cli(*args, cwd=repo.root, process=True),
            [("show", "ci/1", "--json"), ("logs", "ci/1", "Build/spew")],
        )
    detail = json.loads(shown.stdout)
    assert detail["status"] == "interrupted"
    assert detail["stages"][0]["actions"][0]["status"] == "interrupted"
    assert not ACTIVE & set(all_statuses(detail)), detail
    assert logs.returncode == 0
    assert logs.stdout.splitlines()[:50] == [f"line {i}" for i in range(1, 51)]


def test_kill_9_while_waiting_for_approval_leaves_it_waiting_and_approve_carries_it_on(
    repo: RepoMaker, tmp_path: Path
) -> None:
    """Nothing was at work when the engine died: the run keeps waiting (CodePipeline keeps an
    approval open for days), and `pipedeck approve`, finding no engine, carries it to its end."""
    repo.pipeline(GATED)
    repo.commit()
    with (tmp_path / "run.out").open("wb") as out:
        proc = subprocess.Popen(
            [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            # Reading the history while the run is alive must leave it alone.
            result = run_cli("show", "ci", "--json", cwd=repo.root)
            if result.returncode == 0 and json.loads(result.stdout)["status"] == "waiting":
                break
            assert proc.poll() is None, (tmp_path / "run.out").read_text()
            assert time.monotonic() < deadline, "the run never waited for approval"
            time.sleep(0.1)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    # Two commands right after the crash: both open the store, both may try to recover.
    with ThreadPoolExecutor(2) as pool:
        shown, runs = pool.map(
            lambda args: run_cli(*args, cwd=repo.root, process=True),
            [("show", "ci", "--json"), ("runs", "--json")],
        )
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert detail["status"] == "waiting"
    assert detail["stages"][0]["actions"][0]["status"] == "waiting"
    assert json.loads(runs.stdout)[0]["status"] == "waiting"

    approved = run_cli("approve", "ci", "--comment", "after the crash", cwd=repo.root)
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.splitlines()[0].startswith("ci/1: approved by ")
    # It printed the rest of the run as `pipedeck run` does.
    assert "Deploy/ship | never" in approved.stdout
    assert "==> ci/1 succeeded" in approved.stderr
    done = json.loads(run_cli("show", "ci", "--json", cwd=repo.root).stdout)
    assert done["status"] == "succeeded"
    assert not ACTIVE & set(all_statuses(done)), done
    assert "Traceback" not in approved.stderr


TALKER = """
name: ci
stages:
  - name: Build
    actions:
      - name: talk
        kind: build
        timeout: 120s
        run: |
          for i in $(seq 1 20); do echo "line $i"; done
          sleep 60
"""


def test_logs_follow_ends_when_the_engine_is_killed(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(TALKER)
    repo.commit()
    log = repo.root / ".git" / "pipedeck" / "runs" / "ci" / "1" / "logs" / "Build" / "talk.log"
    followed = tmp_path / "follow.out"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with (tmp_path / "run.out").open("wb") as out:
            runner = subprocess.Popen(
                [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=out, stderr=subprocess.STDOUT
            )
        procs.append(runner)
        wait_for(lambda: len(log_lines(log)) >= 20, "20 log lines")
        with followed.open("wb") as out:
            follower = subprocess.Popen(
                [*PIPEDECK, "logs", "ci/1", "--follow"],
                cwd=repo.root,
                stdout=out,
                stderr=subprocess.DEVNULL,
            )
        procs.append(follower)
        wait_for(lambda: "line 20" in followed.read_text(), "follow to print the log so far")
        runner.kill()
        runner.wait()
        try:
            follower.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("logs --follow still waits for a run nobody drives") from None
        printed = followed.read_text().splitlines()
        assert printed[:20] == [f"Build/talk | line {i}" for i in range(1, 21)]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        # Any pipedeck command ends what the killed run left running.
        run_cli("runs", cwd=repo.root)


ESCAPED = """
name: ci
stages:
  - name: Build
    actions:
      - name: clean
        kind: build
        timeout: 120s
        run: |
          root="$PIPEDECK_REPO_ROOT"
          env -i /bin/bash -c "echo \\$\\$ > '$root/clean.pid'; exec sleep 60" &
          setsid bash -c 'echo $$ > "$PIPEDECK_REPO_ROOT/daemon.pid"; exec sleep 60' &
          echo $PPID > "$root/reaper.pid"
          sleep 60
"""


def test_recovery_is_the_last_net_when_reaper_spawner_and_engine_are_all_killed(
    repo: RepoMaker, tmp_path: Path
) -> None:
    """The reaper and the spawner gone as well, what is left is found by the run marker and
    its group."""
    repo.pipeline(ESCAPED)
    repo.commit()
    names = ("clean.pid", "daemon.pid", "reaper.pid")
    pids: list[int] = []
    with (tmp_path / "run.out").open("wb") as out:
        proc = subprocess.Popen(
            [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: all(read_pid(repo.root / n) for n in names), "the pid files")
        clean, daemon, reaper = pids = [read_pid(repo.root / n) or 0 for n in names]
        # One child with an empty environment in the action's group, one marked daemon in a
        # session of its own.
        assert os.getpgid(clean) == reaper and os.getsid(daemon) == daemon
        # The engine's spawner, the reaper's parent, would end what a killed reaper leaves:
        # it goes too. All frozen first, so none of them notices another go and cleans up.
        spawner = int(Path(f"/proc/{reaper}/stat").read_text().rsplit(")", 1)[1].split()[1])
        assert spawner != proc.pid
        for pid in (proc.pid, spawner, reaper):
            os.kill(pid, signal.SIGSTOP)
        for pid in (reaper, spawner):
            os.kill(pid, signal.SIGKILL)
            wait_for(lambda pid=pid: gone(pid), "the reaper and the spawner to die")
        proc.kill()
        proc.wait()
        assert not gone(clean) and not gone(daemon)

        listed = run_cli("runs", "--json", cwd=repo.root)
        assert [r["status"] for r in json.loads(listed.stdout)] == ["interrupted"]
        wait_for(lambda: gone(clean) and gone(daemon), "recovery to end what was left")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in pids:
            if pid and not gone(pid):
                os.kill(pid, signal.SIGKILL)
