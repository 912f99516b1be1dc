"""Sealed artifacts: a 50 MB file and 2,000 small files through build -> test -> deploy.

    uv run python benchmarks/bench_artifacts.py [--repeat 3]

Two figures, each against `cp -r` of the same tree timed in the same run:
- each step alone: sealing the build's output (check, hash, freeze, manifest) and handing a
  checked copy to a consumer, each against one `cp -r`;
- the whole flow through the engine: a run of build -> test -> deploy whose test and deploy
  take the artifact, minus the same run whose actions take nothing, against the two `cp -r`
  the same flow would need to give test and deploy their own copies.

Prints ratios (pipedeck / cp -r); lower is better. Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_engine import make_repo
from pipedeck.engine import Engine, Project, Settings
from pipedeck.engine.manifest import hand_out, remove_tree, seal

FLOW = """
name: {name}
stages:
  - name: Build
    actions:
      - name: make
        kind: build
        {outputs}
        run: cp -r "{data}/." "{dest}"
  - name: Test
    actions: [{{name: unit, kind: test, {inputs} run: 'true'}}]
  - name: Deploy
    actions: [{{name: ship, kind: deploy, {inputs} run: 'true'}}]
"""


def make_tree(root: Path) -> None:
    root.mkdir(parents=True)
    with open(root / "big.bin", "wb") as f:
        f.write(os.urandom(50 * 1024 * 1024))
    for i in range(2000):
        sub = root / f"pkg{i // 100:02d}"
        sub.mkdir(exist_ok=True)
        (sub / f"mod{i:04d}.py").write_text(f"VALUE = {i}\n" * 20)


def settle() -> None:
    """Write back what earlier steps left dirty, so no step pays for the one before it."""
    os.sync()


def cp_r(src: Path, dst: Path) -> float:
    remove_tree(dst)
    settle()
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    return time.perf_counter() - start


def timed(fn: object, *args: object, **kwargs: object) -> float:
    settle()
    start = time.perf_counter()
    fn(*args, **kwargs)  # type: ignore[operator]
    return time.perf_counter() - start


def steps(data: Path, scratch: Path) -> tuple[float, float, float]:
    baseline = cp_r(data, scratch / "cp")
    staging, final, copy = scratch / "staging", scratch / "sealed", scratch / "copy"
    for path in (staging, final, copy):
        remove_tree(path)
    subprocess.run(["cp", "-r", str(data), str(staging)], check=True)
    sealing = timed(seal, staging, final)
    handing = timed(hand_out, final, copy, writable=True)
    return baseline, sealing, handing


async def engine_run(root: Path, name: str) -> float:
    project = Project.open(root)
    engine = Engine(project, Settings())
    try:
        settle()
        start = time.perf_counter()
        run = await engine.run(project.pipeline(name))
        elapsed = time.perf_counter() - start
        assert run.status.value == "succeeded", run.error
        return elapsed
    finally:
        await engine.close()
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipedeck-bench-") as tmp:
        base = Path(tmp)
        data = base / "data"
        make_tree(data)
        scratch = base / "scratch"
        scratch.mkdir()
        pipelines = {
            "sealed": FLOW.format(
                name="sealed",
                outputs="outputs: [data]",
                inputs="inputs: [data],",
                data=data,
                dest="$PIPEDECK_OUTPUT_DATA",
            ),
            "bare": FLOW.format(
                name="bare", outputs="", inputs="", data=data, dest="$PIPEDECK_WORKSPACE/data"
            ),
        }
        repo = base / "repo"
        make_repo(repo, pipelines)
        rows: list[tuple[float, float, float, float, float]] = []
        for _ in range(args.repeat):
            baseline, sealing, handing = steps(data, scratch)
            sealed = asyncio.run(engine_run(repo, "sealed"))
            bare = asyncio.run(engine_run(repo, "bare"))
            flow_baseline = cp_r(data, scratch / "cp1") + cp_r(data, scratch / "cp2")
            rows.append((baseline, sealing, handing, sealed - bare, flow_baseline))
            shutil.rmtree(repo / ".git" / "pipedeck" / "runs", ignore_errors=True)
        med = [statistics.median(column) for column in zip(*rows, strict=True)]
        baseline, sealing, handing, overhead, flow_baseline = med
        print("50 MB file + 2,000 small files, median of", args.repeat)
        print(f"  cp -r                       {baseline * 1000:8.1f} ms")
        print(f"  seal (check, hash, freeze)  {sealing * 1000:8.1f} ms   x{sealing / baseline:.2f}")
        print(f"  checked copy to a consumer  {handing * 1000:8.1f} ms   x{handing / baseline:.2f}")
        print(f"  flow overhead in the engine {overhead * 1000:8.1f} ms")
        print(f"  two cp -r (test, deploy)    {flow_baseline * 1000:8.1f} ms")
        print(f"  flow vs two cp -r           x{overhead / flow_baseline:.2f}")


if __name__ == "__main__":
    main()
