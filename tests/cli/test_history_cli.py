"""`pipedeck runs`, `show` and `logs`: reading what earlier runs left behind."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PIPEDECK, RepoMaker, run_cli, wait_for

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATUSES = {
    "queued",
    "running",
    "waiting",
    "succeeded",
    "failed",
    "cancelled",
    "skipped",
    "timed_out",
    "rejected",
    "interrupted",
}
RUN_KEYS = {"pipeline", "number", "status", "commit", "branch", "started_at", "finished_at"}
ACTION_KEYS = {
    "name",
    "kind",
    "status",
    "run_order",
    "started_at",
    "finished_at",
    "exit_code",
    "log_path",
    "artifacts",
}

QUICK = """
name: {name}
stages:
  - name: Build
    actions:
      - {{name: say, kind: build, run: 'echo {name} says hi'}}
"""

FAILING = """
name: ci
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: compile
        kind: build
        inputs: [source]
        run: |
          echo "compiling"
          echo "oops" >&2
          exit 3
      - {name: sibling, kind: build, run: 'echo sibling ran'}
      - {name: package, kind: build, run_order: 2, run: 'echo never'}
  - name: Test
    actions:
      - {name: unit, kind: test, run: 'echo never'}
"""


def run_all(cwd: Path, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess[str]]:
    """Independent commands, one after the other (in process: each costs no Python start)."""
    return [run_cli(*args, cwd=cwd) for args in commands]


def load(result: subprocess.CompletedProcess[str]) -> object:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def is_time(value: object) -> bool:
    return isinstance(value, str) and bool(ISO_UTC.match(value))


def test_runs_are_numbered_per_pipeline_and_listed_newest_first(repo: RepoMaker) -> None:
    repo.pipeline(QUICK.format(name="ci"))
    repo.pipeline(QUICK.format(name="deploy"), name="deploy")
    sha = repo.commit()
    for name in ("ci", "deploy", "ci"):
        assert run_cli("run", name, cwd=repo.root).returncode == 0

    everything, only_ci, text, latest, missing = run_all(
        repo.root,
        ("runs", "--json"),
        ("runs", "ci", "--json"),
        ("runs",),
        ("show", "ci", "--json"),
        ("show", "ci/9"),
    )
    listed = load(everything)
    assert isinstance(listed, list)
    assert [(r["pipeline"], r["number"]) for r in listed] == [
        ("ci", 2),
        ("deploy", 1),
        ("ci", 1),
    ]
    for r in listed:
        assert set(r) >= RUN_KEYS, r
        assert r["status"] == "succeeded"
        assert r["commit"] == sha
        assert r["branch"] == "main"
        assert is_time(r["started_at"]) and is_time(r["finished_at"]), r
        assert r["started_at"] <= r["finished_at"]

    assert [(r["pipeline"], r["number"]) for r in load(only_ci)] == [("ci", 2), ("ci", 1)]

    assert text.returncode == 0
    assert [line.split()[0] for line in text.stdout.splitlines()] == ["ci/2", "deploy/1", "ci/1"]

    shown = load(latest)  # a pipeline name alone means its latest run
    assert isinstance(shown, dict)
    assert (shown["pipeline"], shown["number"]) == ("ci", 2)

    assert missing.returncode == 1
    assert "ci/9" in missing.stderr
    assert "Traceback" not in missing.stderr


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RepoMaker, str]:
    """One repository whose only run failed in its second stage."""
    repo = RepoMaker(tmp_path_factory.mktemp("failed") / "app")
    repo.pipeline(FAILING)
    sha = repo.commit()
    result = run_cli("run", "ci", cwd=repo.root)
    assert result.returncode == 1, result.stdout + result.stderr
    return repo, sha


def test_show_a_failed_run(failed_run: tuple[RepoMaker, str]) -> None:
    repo, sha = failed_run
    latest, by_number, text = run_all(
        repo.root, ("show", "ci", "--json"), ("show", "ci/1", "--json"), ("show", "ci/1")
    )
    detail = load(latest)
    assert isinstance(detail, dict)
    assert load(by_number) == detail
    assert set(detail) >= RUN_KEYS
    assert (detail["pipeline"], detail["number"], detail["status"]) == ("ci", 1, "failed")
    assert detail["commit"] == sha
    assert is_time(detail["started_at"]) and is_time(detail["finished_at"])

    stages = {s["name"]: s for s in detail["stages"]}
    assert [s["name"] for s in detail["stages"]] == ["Source", "Build", "Test"]
    assert {n: s["status"] for n, s in stages.items()} == {
        "Source": "succeeded",
        "Build": "failed",
        "Test": "skipped",
    }
    actions = {(s["name"], a["name"]): a for s in detail["stages"] for a in s["actions"]}
    for action in actions.values():
        assert set(action) >= ACTION_KEYS, action
        assert action["status"] in STATUSES

    checkout = actions["Source", "checkout"]
    assert checkout["kind"] == "source"
    assert checkout["status"] == "succeeded"
    assert checkout["artifacts"] == ["source"]
    assert is_time(checkout["started_at"]) and is_time(checkout["finished_at"])

    compile_ = actions["Build", "compile"]
    assert (compile_["status"], compile_["exit_code"], compile_["run_order"]) == ("failed", 3, 1)
    assert compile_["kind"] == "build"
    assert compile_["artifacts"] == []
    log = Path(compile_["log_path"]).read_text()
    assert "compiling\n" in log and "oops\n" in log

    # A sibling already running in the failing group finishes; nothing after it starts.
    assert actions["Build", "sibling"]["status"] == "succeeded"
    package = actions["Build", "package"]
    assert (package["status"], package["run_order"], package["exit_code"]) == ("skipped", 2, None)
    assert package["started_at"] is None
    unit = actions["Test", "unit"]
    assert unit["status"] == "skipped"
    assert unit["started_at"] is None

    assert text.returncode == 0
    assert "failed" in text.stdout and "exit 3" in text.stdout


def test_logs_of_a_run(failed_run: tuple[RepoMaker, str]) -> None:
    repo, _ = failed_run
    everything, one, unknown = run_all(
        repo.root, ("logs", "ci/1"), ("logs", "ci/1", "Build/compile"), ("logs", "ci", "Build/nope")
    )
    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert "Build/compile | compiling" in lines
    assert "Build/compile | oops" in lines
    assert "Build/sibling | sibling ran" in lines
    assert any(line.startswith("Source/checkout | ") for line in lines)
    assert not any("never" in line for line in lines)

    assert one.returncode == 0, one.stderr
    assert one.stdout == "compiling\noops\n"

    assert unknown.returncode == 1
    assert "Build/nope" in unknown.stderr
    for name in ("Source/checkout", "Build/compile", "Build/sibling", "Test/unit"):
        assert name in unknown.stderr
    assert "Traceback" not in unknown.stderr


TALKER = """
name: ci
stages:
  - name: Build
    actions:
      - name: talk
        kind: build
        timeout: 20s
        run: |
          echo "line 1"
          touch "$PIPEDECK_REPO_ROOT/started"
          while [ ! -e "$PIPEDECK_REPO_ROOT/go" ]; do sleep 0.05; done
          for i in $(seq 2 40); do echo "line $i"; done
          sleep 0.2
          echo "line 41"
"""


def test_logs_follow_prints_lines_as_they_come_until_the_run_ends(
    repo: RepoMaker, tmp_path: Path
) -> None:
    repo.pipeline(TALKER)
    repo.commit()
    outputs = {name: tmp_path / f"{name}.out" for name in ("run", "all", "one")}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with outputs["run"].open("wb") as out:
            runner = subprocess.Popen(
                [*PIPEDECK, "run", "ci"], cwd=repo.root, stdout=out, stderr=subprocess.STDOUT
            )
        procs.append(runner)
        wait_for((repo.root / "started").exists, "the action to start")
        followers = {}
        for name, extra in (("all", []), ("one", ["Build/talk"])):
            with outputs[name].open("wb") as out:
                followers[name] = subprocess.Popen(
                    [*PIPEDECK, "logs", "ci/1", *extra, "--follow"],
                    cwd=repo.root,
                    stdout=out,
                    stderr=subprocess.PIPE,
                )
            procs.append(followers[name])
        # Both followers print what is already there while the run is still going.
        wait_for(lambda: "line 1\n" in outputs["all"].read_text(), "follow to print line 1")
        wait_for(lambda: "line 1\n" in outputs["one"].read_text(), "follow to print line 1")
        assert runner.poll() is None
        assert all(f.poll() is None for f in followers.values())
        (repo.root / "go").touch()

        assert runner.wait(timeout=30) == 0
        for follower in followers.values():
            _, err = follower.communicate(timeout=30)
            assert follower.returncode == 0, err
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    expected = [f"line {i}" for i in range(1, 42)]
    assert outputs["one"].read_text().splitlines() == expected
    assert outputs["all"].read_text().splitlines() == [f"Build/talk | {x}" for x in expected]
