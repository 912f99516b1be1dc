"""Releases: a rollback against building again, and pruning against `rm -rf`.

    uv run python benchmarks/bench_delivery.py [--repeat 3]

Two figures, each against a baseline timed in the same run:
- rollback: `Engine.rollback` of the deploy stage to the previous release (its sealed
  artifact handed to the deploy again, ledger entry, tags), against a full run of the same
  pipeline on the same commit (source, a build of a few seconds, test, deploy of 600
  modules and a 10 MB file), and
  against the `cp -r` the deploy itself does;
- prune: `pipedeck prune` of 40 runs of about 20 MB each (each a copy of a real run's
  directory: artifacts, workspaces and logs), against `rm -rf` of copies of the same
  directories.

Prints ratios; lower is better. Figures, not assertions: machines are noisy.
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
from pipedeck.engine.retention import human_size, plan_prune, prune
from pipedeck.store import Status

RELEASE = """
name: release
retention: {{runs: 1000}}
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Build
    actions:
      - name: package
        kind: build
        inputs: [source]
        outputs: [app]
        run: |
          # A build that does some work: byte-compile a generated package, then bundle it.
          python3 - <<'EOF'
          import os
          for i in range({modules}):
              os.makedirs(f"pkg/m{{i // 100}}", exist_ok=True)
              with open(f"pkg/m{{i // 100}}/mod{{i}}.py", "w") as f:
                  f.write("".join(f"def f{{j}}(x):\\n    return x * {{j}}\\n" for j in range(200)))
          EOF
          python3 -m compileall -q pkg
          head -c {data} /dev/urandom > pkg/data.bin
          cp -r pkg "$PIPEDECK_OUTPUT_APP/"
  - name: Test
    actions: [{{name: unit, kind: test, inputs: [app], run: 'test -s pkg/data.bin'}}]
  - name: Production
    actions:
      - name: deploy
        kind: deploy
        environment: production
        inputs: [app]
        run: rm -rf "{target}" && cp -r pkg "{target}"
"""


async def full_run(root: Path) -> float:
    project = Project.open(root)
    engine = Engine(project, Settings())
    try:
        start = time.perf_counter()
        run = await engine.run(project.pipeline("release"))
        elapsed = time.perf_counter() - start
        assert run.status.value == "succeeded", run.error
        return elapsed
    finally:
        await engine.close()
        project.close()


async def roll_back(root: Path) -> float:
    project = Project.open(root)
    engine = Engine(project, Settings())
    try:
        start = time.perf_counter()
        run = await engine.wait(await engine.rollback(project.pipeline("release"), "Production"))
        elapsed = time.perf_counter() - start
        assert run.status.value == "succeeded", run.error
        return elapsed
    finally:
        await engine.close()
        project.close()


def cp_r(src: Path, dst: Path) -> float:
    shutil.rmtree(dst, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(["cp", "-r", str(src), str(dst)], check=True)
    return time.perf_counter() - start


def rollback_figures(base: Path, repeat: int) -> None:
    repo, target = base / "repo", base / "production"
    make_repo(repo, {"release": RELEASE.format(modules=600, data=10_000_000, target=target)})
    asyncio.run(full_run(repo))
    rows = []
    for _ in range(repeat):
        built = asyncio.run(full_run(repo))  # a new release
        back = asyncio.run(roll_back(repo))  # back to the one before
        copy = cp_r(target, base / "copy")
        rows.append((built, back, copy))
    built, back, copy = (statistics.median(c) for c in zip(*rows, strict=True))
    print(f"rollback of the deploy stage, median of {repeat}")
    print(f"  full run (build, test, deploy)  {built * 1000:8.0f} ms")
    print(f"  rollback                        {back * 1000:8.0f} ms   x{back / built:.2f} of it")
    print(f"  cp -r of the release            {copy * 1000:8.0f} ms   rollback x{back / copy:.1f}")


def prune_figures(base: Path, repeat: int) -> None:
    repo = base / "prune-repo"
    make_repo(
        repo, {"release": RELEASE.format(modules=100, data=2_000_000, target=base / "prod-2")}
    )
    for _ in range(3):
        asyncio.run(full_run(repo))
    project = Project.open(repo)
    store = project.store
    try:
        runs = store.runs("release", limit=None)
        template = store.layout(runs[-1]).root
        size = sum(f.stat().st_size for f in template.rglob("*") if f.is_file())
        rows = []
        for _ in range(repeat):
            # 40 old runs, each a copy of a real run's directory; then time removing them
            # through prune, and removing copies of them with rm -rf.
            copies = base / "copies"
            shutil.rmtree(copies, ignore_errors=True)
            copies.mkdir()
            for n in range(40):
                run = store.create_run(
                    "release",
                    [],
                    commit=runs[0].commit,
                    commit_subject="bench",
                    branch="main",
                    variables={},
                )
                for where in (store.layout(run).root, copies / str(n)):
                    shutil.rmtree(where, ignore_errors=True)
                    subprocess.run(["cp", "-a", str(template), str(where)], check=True)
                store.set_run_status(run.id, Status.SUCCEEDED)
            os.sync()
            start = time.perf_counter()
            plan = plan_prune(store, lambda _: 3)
            freed = prune(store, plan).freed
            pruning = time.perf_counter() - start
            os.sync()
            start = time.perf_counter()
            subprocess.run(["rm", "-rf", str(copies)], check=True)
            removing = time.perf_counter() - start
            rows.append((pruning, removing, freed, len(plan.runs)))
        pruning, removing = (statistics.median(r[i] for r in rows) for i in (0, 1))
        print(f"prune of 40 runs of {human_size(size)} each, median of {repeat}")
        print(f"  rm -rf of the same directories  {removing * 1000:8.0f} ms")
        ratio = pruning / removing
        print(f"  prune (plan, mark, remove)      {pruning * 1000:8.0f} ms   x{ratio:.2f}")
        print(f"  freed {human_size(rows[-1][2])} in {rows[-1][3]} runs")
    finally:
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipedeck-bench-") as tmp:
        rollback_figures(Path(tmp), args.repeat)
        prune_figures(Path(tmp), args.repeat)


if __name__ == "__main__":
    main()
