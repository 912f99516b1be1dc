"""The everyday commands against the floor of any Python command line, pair by pair.

    uv run python benchmarks/bench_commands.py [--repeat 15] [--runs 200]

A repository gets `--runs` runs (a few of them left waiting at an approval gate), then, while
this process holds the repository's lock as a console would, each command is timed from spawn
to exit, alternating with `python -c "import sqlite3, json, click"` (the floor: what a CLI
that reads an SQLite file with click costs). Bytecode is compiled once into a private cache
(`PYTHONPYCACHEPREFIX`), as a user's second command runs; `--cold` also shows the first run
of `runs` without any bytecode. Prints each command's median, the floor's and their ratio
(the aim is 2x or less). Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipedeck.engine import Engine, Project, RepoLock, Settings
from pipedeck.store import Status

CI = """\
name: ci
stages:
  - name: Build
    actions:
      - {name: compile, kind: build, run: 'echo compiled; echo tests passed'}
"""
GATED = """\
name: {name}
stages:
  - name: Approve
    actions:
      - {name: gate, kind: approval, timeout: 1h}
  - name: Deploy
    actions:
      - {name: ship, kind: deploy, environment: prod, run: 'echo shipped'}
"""
FLOOR = [sys.executable, "-c", "import sqlite3, json, click"]


def make_repo(root: Path, gates: int) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    (root / "pipelines").mkdir(parents=True)
    (root / "pipelines" / "ci.yml").write_text(CI)
    # One pipeline per waiting run: a newer run of the same pipeline would supersede it.
    for n in range(1, gates + 1):
        (root / "pipelines" / f"gate{n}.yml").write_text(GATED.replace("{name}", f"gate{n}"))
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=root, check=True, env=env)


async def fill(root: Path, finished: int, waiting: int) -> None:
    """`finished` runs of ci, then one run of each gate pipeline left waiting for a person."""
    project = Project.open(root)
    engine = Engine(project, Settings(poll_interval=0.05))
    ci = project.pipeline("ci")
    for _ in range(finished):
        await engine.wait(await engine.start(ci, "HEAD"))
    for n in range(1, waiting + 1):
        await engine.start(project.pipeline(f"gate{n}"), "HEAD")
    while sum(r.status is Status.WAITING for r in project.store.runs()) < waiting:
        await asyncio.sleep(0.05)
    await engine.close()
    project.close()


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    pipedeck = shutil.which("pipedeck", path=str(Path(sys.executable).parent))
    if pipedeck is None:
        raise SystemExit("no `pipedeck` script next to this Python: run it with `uv run`")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "app"
        # approve, reject and cancel each take one waiting run per try (and one warm-up).
        waiting = 3 * (args.repeat + 1)
        make_repo(root, waiting)
        started = time.perf_counter()
        asyncio.run(fill(root, max(args.runs - waiting, 1), waiting))
        print(f"repository with {args.runs} runs made in {time.perf_counter() - started:.1f}s")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        numbers = iter(range(1, waiting + 1))
        commands: dict[str, list[str] | None] = {
            "runs": ["runs"],
            "show": ["show", "ci/100"],
            "show --json": ["show", "ci/100", "--json"],
            "logs": ["logs", "ci/100"],
            "approve": None,
            "reject": None,
            "cancel --detach": None,
            "transition list": ["transition", "list"],
            "--version": ["--version"],
            "--help": ["--help"],
        }

        def argv_of(name: str) -> list[str]:
            fixed = commands[name]
            if fixed is not None:
                return [pipedeck, *fixed]
            run = f"gate{next(numbers)}/1"
            if name == "approve":
                return [pipedeck, "approve", run, "--comment", "ok"]
            if name == "reject":
                return [pipedeck, "reject", run, "--comment", "not yet"]
            return [pipedeck, "cancel", run, "--detach"]

        if args.cold:
            cold_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
            cold_env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "empty")
            cold = timed([pipedeck, "runs"], root, cold_env)
            floor = timed(FLOOR, root, cold_env)
            print(f"without bytecode: runs {cold * 1000:.0f} ms, floor {floor * 1000:.0f} ms")

        # Held as a console holds it: a decision is recorded and left for that engine.
        lock = RepoLock.acquire(project_state(root), "console")
        assert lock is not None
        try:
            for name in commands:  # warm-up: compiles the bytecode once
                timed(argv_of(name), root, env)
            timed(FLOOR, root, env)
            print(f"{'command':<16} {'median':>8} {'floor':>8} {'ratio':>6}")
            for name in commands:
                pairs = [
                    (timed(argv_of(name), root, env), timed(FLOOR, root, env))
                    for _ in range(args.repeat)
                ]
                took = statistics.median(p[0] for p in pairs)
                floor = statistics.median(p[1] for p in pairs)
                ratio = statistics.median(p[0] / p[1] for p in pairs)
                print(f"{name:<16} {took * 1000:>6.1f}ms {floor * 1000:>6.1f}ms {ratio:>5.2f}x")
        finally:
            lock.release()


def project_state(root: Path) -> Path:
    project = Project.open(root)
    try:
        return project.state_dir
    finally:
        project.close()


if __name__ == "__main__":
    main()
