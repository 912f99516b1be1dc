"""A virtualenv kept in a build cache: the second run against the first.

    uv run python benchmarks/bench_cache.py [--repeat 3]

A build action creates a virtualenv and installs a few pinned packages into it
(`requirements.txt`, from the package index), with `cache: {key:
"venv-#{hash:requirements.txt}", paths: [.venv]}`. The first run has no cache: it creates
the virtualenv and downloads and installs everything, then saves `.venv`. Each later run
restores `.venv` and pip finds every requirement already there. Prints the build action's
time in each; lower is better. Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench_engine import make_repo
from pipedeck.engine import Caches, Engine, Project, Settings, human_size

REQUIREMENTS = "six==1.16.0\nidna==3.7\nattrs==23.2.0\npackaging==24.0\n"

PIPELINE = f"""
name: venv
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Build
    actions:
      - name: deps
        kind: build
        inputs: [source]
        cache:
          key: "venv-#{{hash:requirements.txt}}"
          paths: [.venv]
        run: |
          [ -x .venv/bin/python ] || "{sys.executable}" -m venv .venv
          .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
          .venv/bin/python -c "import six, idna, attrs, packaging"
"""


async def build_seconds(root: Path) -> float:
    project = Project.open(root)
    engine = Engine(project, Settings())
    try:
        started = time.perf_counter()
        run = await engine.run(project.pipeline("venv"))
        assert run.status.value == "succeeded", run.error
        took = time.perf_counter() - started
        for stage in project.store.detail(run).stages:
            for action in stage.actions:
                if action.action.name == "deps":
                    start, end = action.action.started_at, action.action.finished_at
                    assert start and end
                    parse = datetime.fromisoformat
                    return (parse(end[:-1]) - parse(start[:-1])).total_seconds()
        return took
    finally:
        await engine.close()
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipedeck-bench-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "requirements.txt").write_text(REQUIREMENTS)
        make_repo(repo, {"venv": PIPELINE})
        first = asyncio.run(build_seconds(repo))
        [entry] = Caches(repo / ".git" / "pipedeck").entries()
        later = [asyncio.run(build_seconds(repo)) for _ in range(args.repeat)]
        cached = statistics.median(later)
        print(f"virtualenv with 4 packages; cache of {entry.files} files, {human_size(entry.size)}")
        print(f"  first run, no cache (venv, download, install)  {first:6.2f} s")
        print(
            f"  with the cache restored, median of {args.repeat}         {cached:6.2f} s"
            f"   x{cached / first:.2f} of the first"
        )


if __name__ == "__main__":
    main()
