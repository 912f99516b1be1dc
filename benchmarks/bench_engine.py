"""Engine benchmarks: log ingest and spawn cost, each against a raw baseline in the same run.

    uv run python benchmarks/bench_engine.py [--lines 1000000] [--repeat 3]

Prints ratios (engine / raw); lower is better. Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from pipedeck.engine import Engine, Project, Settings
from pipedeck.engine.events import (
    ActionFinished,
    ActionStarted,
    Event,
    LogLines,
    StageFinished,
    StageStarted,
)


def make_repo(root: Path, pipelines: dict[str, str]) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    for name, text in pipelines.items():
        path = root / "pipelines" / f"{name}.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=root, check=True, env=env)


def raw(script: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(["bash", "-c", script], cwd=cwd, check=True)
    return time.perf_counter() - start


class Clock:
    """Times spans between engine events; optionally counts log lines like a client would."""

    def __init__(self, start: type[Event], end: type[Event]) -> None:
        self.start_type, self.end_type = start, end
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.lines = 0

    def __call__(self, event: Event) -> None:
        now = time.perf_counter()
        if isinstance(event, self.start_type):
            self.starts.append(now)
        elif isinstance(event, self.end_type):
            self.ends.append(now)
        elif isinstance(event, LogLines):
            self.lines += event.text.count("\n")

    def span(self) -> float:
        return max(self.ends) - min(self.starts)


async def engine_span(root: Path, pipeline: str, start: type[Event], end: type[Event]) -> float:
    """Run `pipeline` once; the time between the first `start` and last `end` event."""
    project = Project.open(root)
    engine = Engine(project, Settings())
    clock = Clock(start, end)
    engine.bus.subscribe(clock)
    run = await engine.run(project.pipeline(pipeline))
    await engine.close()
    project.close()
    assert run.status.ok, run.error
    return clock.span()


def best(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.1f} ms  (min {min(samples) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n = args.lines
    ingest = (
        "name: ingest\nstages:\n  - name: S\n    actions:\n"
        f"      - {{name: seq, kind: build, run: 'seq {n}'}}\n"
    )
    eight = "name: eight\nstages:\n  - name: S\n    actions:\n" + "".join(
        f"      - {{name: seq{i}, kind: build, run: 'seq {n}'}}\n" for i in range(8)
    )
    spawn = "name: spawn\nstages:\n  - name: S\n    actions:\n" + "".join(
        f"      - {{name: t{g}-{i}, kind: build, run_order: {g + 1}, run: 'true'}}\n"
        for g in range(20)
        for i in range(10)
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, {"ingest": ingest, "eight": eight, "spawn": spawn})
        out = Path(tmp)
        r = args.repeat

        raw1 = [raw(f"seq {n} > {out}/raw.txt", out) for _ in range(r)]
        eng1 = [
            asyncio.run(engine_span(root, "ingest", ActionStarted, ActionFinished))
            for _ in range(r)
        ]
        raw8 = [
            raw(f"for i in 1 2 3 4 5 6 7 8; do seq {n} > {out}/raw$i.txt & done; wait", out)
            for _ in range(r)
        ]
        eng8 = [
            asyncio.run(engine_span(root, "eight", StageStarted, StageFinished)) for _ in range(r)
        ]
        rawspawn = [raw("for i in $(seq 200); do /bin/true; done", out) for _ in range(r)]
        engspawn = [
            asyncio.run(engine_span(root, "spawn", StageStarted, StageFinished)) for _ in range(r)
        ]

    def ratio(a: list[float], b: list[float]) -> float:
        return statistics.median(a) / statistics.median(b)

    print(f"log ingest, one action printing seq {n} (a client counting every line):")
    print(f"  raw   seq > file          {best(raw1)}")
    print(f"  engine                    {best(eng1)}")
    print(f"  ratio {ratio(eng1, raw1):.2f}x   (aim <= 3x)")
    print("log ingest, eight such actions in parallel:")
    print(f"  raw   8 writers           {best(raw8)}")
    print(f"  engine                    {best(eng8)}")
    print(f"  ratio {ratio(eng8, raw8):.2f}x   (aim <= 6x)")
    per_action = statistics.median(engspawn) / 200 * 1000
    overhead = (statistics.median(engspawn) - statistics.median(rawspawn)) / 200 * 1000
    print("spawn, 200 actions `true` in 20 groups of 10:")
    print(f"  raw   bash loop /bin/true {best(rawspawn)}")
    print(f"  engine                    {best(engspawn)}")
    print(
        f"  ratio {ratio(engspawn, rawspawn):.2f}x   {per_action:.2f} ms per action,"
        f" {overhead:.2f} ms over raw (aim < 5 ms)"
    )


if __name__ == "__main__":
    main()
