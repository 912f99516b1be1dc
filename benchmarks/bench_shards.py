"""Shards balanced by timings, against an equal-count split of the same suite.

    uv run python benchmarks/bench_shards.py [--total 20] [--seed 7]

A generated suite of 120 test files whose tests sleep skewed times (a few long, many short,
`--total` seconds in all), run by a test action with `parallel: 4`:
- balanced: `pytest $(pipedeck shard --glob 'tests/test_*.py')`; the first run has no
  history and splits by file size, the second splits by the first run's timings;
- equal count: the same suite cut into four runs of 30 files (sorted by name), in the same
  process, on the same machine.

For each split it prints the slowest shard against the ideal (all the tests' time / 4), by
the tests' own time in the reports (what a split controls) and by the shard's wall time
(which adds pytest's start). Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_engine import make_repo
from pipedeck.engine import Engine, Project, Settings

SHARDS = 4
FILES = 120
PYTEST = f'"{sys.executable}" -m pytest -q -p no:cacheprovider -p no:asyncio'

PIPELINES = {
    "balanced": f"""
name: balanced
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        parallel: {SHARDS}
        reports: [report.xml]
        run: |
          {PYTEST} $(pipedeck shard --glob 'tests/test_*.py') --junitxml=report.xml
""",
    "count": f"""
name: count
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        parallel: {SHARDS}
        reports: [report.xml]
        run: |
          per=$(( {FILES} / PIPEDECK_SHARDS ))
          files=$(ls tests/test_*.py | sort | head -n $(( PIPEDECK_SHARD * per )) | tail -n $per)
          {PYTEST} $files --junitxml=report.xml
""",
}


def skewed(total: float, seed: int) -> list[float]:
    """120 durations: 4 long, 16 middling, 100 short, in shuffled file order, summing to
    `total` seconds."""
    weights = [40.0] * 4 + [8.0] * 16 + [1.0] * 100
    random.Random(seed).shuffle(weights)
    scale = total / sum(weights)
    return [w * scale for w in weights]


def write_suite(repo: Path, durations: list[float]) -> None:
    tests = repo / "tests"
    tests.mkdir()
    for index, seconds in enumerate(durations):
        (tests / f"test_{index:03d}.py").write_text(
            f"import time\n\n\ndef test_{index:03d}():\n    time.sleep({seconds:.4f})\n"
        )


async def one_run(root: Path, pipeline: str) -> tuple[list[float], list[float]]:
    """Each shard's tests' seconds (from its report) and its wall seconds."""
    project = Project.open(root)
    engine = Engine(project, Settings())
    try:
        run = await engine.run(project.pipeline(pipeline))
        assert run.status.value == "succeeded", run.error
        store = project.store
        tested: dict[str, float] = defaultdict(float)
        for case in store.results.cases(run.id):
            tested[case.action] += case.duration or 0.0
        walls = []
        for stage in store.detail(run).stages:
            for action in stage.actions:
                if action.action.group_name == "unit":
                    walls.append(_seconds(action.action.started_at, action.action.finished_at))
        return [tested[f"unit.{k}"] for k in range(1, SHARDS + 1)], walls
    finally:
        await engine.close()
        project.close()


def _seconds(start: str | None, end: str | None) -> float:
    from datetime import datetime

    assert start and end
    parse = datetime.fromisoformat
    return (parse(end.replace("Z", "+00:00")) - parse(start.replace("Z", "+00:00"))).total_seconds()


def report(name: str, tested: list[float], walls: list[float], ideal: float) -> None:
    slowest = max(tested)
    print(
        f"  {name:<28} shards {' '.join(f'{t:5.2f}' for t in tested)} s"
        f"   slowest x{slowest / ideal:.2f} of ideal by test time,"
        f" wall {max(walls):5.2f} s (x{max(walls) / ideal:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--total", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    durations = skewed(args.total, args.seed)
    ideal = sum(durations) / SHARDS
    with tempfile.TemporaryDirectory(prefix="pipedeck-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        write_suite(repo, durations)
        make_repo(repo, PIPELINES)
        started = time.perf_counter()
        first = asyncio.run(one_run(repo, "balanced"))
        second = asyncio.run(one_run(repo, "balanced"))
        count = asyncio.run(one_run(repo, "count"))
        took = time.perf_counter() - started
        print(
            f"{FILES} test files, {sum(durations):.1f} s of tests, {SHARDS} shards:"
            f" ideal {ideal:.2f} s a shard"
        )
        report("pipedeck shard, no history", *first, ideal)
        report("pipedeck shard, by timings", *second, ideal)
        report("equal count (30 files each)", *count, ideal)
        print(
            f"  second run's slowest shard against the equal-count split's:"
            f" x{max(second[0]) / max(count[0]):.2f} (test time),"
            f" x{max(second[1]) / max(count[1]):.2f} (wall); all three runs {took:.0f} s"
        )


if __name__ == "__main__":
    main()
