"""Watching benchmarks: trigger latency, and commit bursts under each execution mode.

    uv run python benchmarks/bench_triggers.py [--commits 20] [--burst 20] [--seconds 2]

Trigger latency is the time from `git commit` returning to the first action's script running
(the script stamps `$EPOCHREALTIME` as its first command), through the real ref watcher and
engine. The raw baseline, taken in the same run, is the time from `git commit` returning to a
`bash` started right then by this process stamping its own first command.

The burst makes N commits in S seconds with the engine watching, for each execution mode, and
reports from the store: runs started, superseded, order inversions (queued: must be 0), and
the most runs inside one stage at once (superseded and queued: must be 1). Figures, not
assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_engine import make_repo
from pipedeck.engine import Engine, Project, Settings
from pipedeck.engine.service import EngineService
from pipedeck.engine.trust import TrustStore
from pipedeck.store import Status
from pipedeck.store.db import parse_time

STAMP = 'echo $EPOCHREALTIME > "$PIPEDECK_REPO_ROOT/../started-$PIPEDECK_RUN_NUMBER"'

LATENCY = f"""
name: ci
execution_mode: parallel
stages:
  - name: Build
    actions:
      - {{name: first, kind: build, run: '{STAMP}'}}
"""

BURST = """
name: ci
execution_mode: {mode}
stages:
  - name: Build
    actions:
      - {{name: compile, kind: build, run: 'sleep 0.3'}}
  - name: Test
    actions:
      - {{name: unit, kind: test, run: 'sleep 0.5'}}
  - name: Deploy
    actions:
      - {{name: ship, kind: deploy, run: 'sleep 0.2'}}
"""

GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def commit(root: Path, message: str) -> float:
    """Commit with the git CLI; return the wall-clock time it returned."""
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", message], cwd=root, check=True, env=GIT_ENV
    )
    return time.time()


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


@contextlib.asynccontextmanager
async def watching(root: Path):  # type: ignore[no-untyped-def]
    project = Project.open(root)
    engine = Engine(project, Settings(poll_interval=0.05))
    service = EngineService(engine)
    task = asyncio.create_task(service.serve())
    await asyncio.sleep(0.3)  # the watch is in place
    try:
        yield engine, service
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await engine.close()
        project.close()


def new_repo(parent: Path, text: str) -> Path:
    root = parent / "app"
    make_repo(root, {"ci": text})
    TrustStore().trust(root / "pipelines" / "ci.yml")
    return root


async def trigger_latency(parent: Path, commits: int) -> tuple[list[float], list[float]]:
    root = new_repo(parent, LATENCY)
    engine_ms: list[float] = []
    async with watching(root) as (engine, _):
        for n in range(1, commits + 1):
            returned = await asyncio.to_thread(commit, root, f"change {n}")
            stamp = parent / f"started-{n}"
            while not stamp.exists() or not stamp.read_text().endswith("\n"):
                await asyncio.sleep(0.005)
            engine_ms.append((float(stamp.read_text()) - returned) * 1000)
            await engine.wait_all()
    raw_ms = []
    for n in range(commits):
        returned = commit(root, f"raw {n}")
        out = subprocess.run(  # noqa: ASYNC221 - the baseline: nothing else runs meanwhile
            ["bash", "-c", "echo $EPOCHREALTIME"], capture_output=True, text=True
        )
        raw_ms.append((float(out.stdout) - returned) * 1000)
    return engine_ms, raw_ms


async def burst(parent: Path, mode: str, commits: int, seconds: float) -> dict[str, object]:
    root = new_repo(parent / mode, BURST.format(mode=mode))
    async with watching(root) as (engine, _):
        for n in range(commits):
            await asyncio.to_thread(commit, root, f"burst {n}")
            await asyncio.sleep(seconds / commits)
        await asyncio.sleep(0.5)  # the last commit's run has started
        await engine.wait_all()
        store = engine.project.store
        runs = sorted(store.runs("ci"), key=lambda r: r.number)
        spans: dict[str, list[tuple[float, float, int]]] = {}
        for run in runs:
            for stage in store.detail(run).stages:
                s = stage.stage
                if s.started_at and s.finished_at:
                    spans.setdefault(s.name, []).append(
                        (
                            parse_time(s.started_at).timestamp(),
                            parse_time(s.finished_at).timestamp(),
                            run.number,
                        )
                    )
    most_inside = 0
    inversions = 0
    for entries in spans.values():
        for start, _, _ in entries:
            most_inside = max(most_inside, sum(1 for a, b, _ in entries if a <= start < b))
        numbers = [number for _, _, number in sorted(entries)]
        inversions += sum(1 for a, b in itertools.pairwise(numbers) if b < a)
    statuses = [r.status for r in runs]
    return {
        "runs started": len(runs),
        "succeeded": statuses.count(Status.SUCCEEDED),
        "superseded": statuses.count(Status.SUPERSEDED),
        "order inversions": inversions,
        "most runs inside one stage": most_inside,
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipedeck-bench-") as tmp:
        os.environ["PIPEDECK_TRUST_FILE"] = str(Path(tmp) / "trust.json")
        engine_ms, raw_ms = await trigger_latency(Path(tmp) / "latency", args.commits)
        print(f"trigger latency over {args.commits} commits (git commit returned → script runs):")
        print(
            f"  engine: median {statistics.median(engine_ms):.1f} ms, p95 {p95(engine_ms):.1f} ms,"
            f" max {max(engine_ms):.1f} ms"
        )
        print(
            f"  raw bash spawn: median {statistics.median(raw_ms):.1f} ms, p95 {p95(raw_ms):.1f} ms"
        )
        print(f"  ratio of p95s: {p95(engine_ms) / p95(raw_ms):.1f}x")
        for mode in ("superseded", "queued", "parallel"):
            report = await burst(Path(tmp) / "burst", mode, args.burst, args.seconds)
            shown = ", ".join(f"{k} {v}" for k, v in report.items())
            print(f"{args.burst} commits in {args.seconds:g}s, {mode}: {shown}")


if __name__ == "__main__":
    asyncio.run(main())
