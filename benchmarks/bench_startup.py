"""Console start-up to its first painted frame, against a trivial Textual app in the same run.

    uv run python benchmarks/bench_startup.py [--repeat 7]

Three pairs of figures, each the median of `--repeat` tries:

* In process (modules already imported): from building the app to the first refresh after
  it is ready, for a trivial app (one `Static`), for the console's layout built of plain
  widgets (the same containers, CSS and widget count, no pipedeck code: what Textual itself
  costs for this screen), and for the console on a repository with history.
* Whole process, as a person starting it sees it: `pipedeck` spawned on a pseudo-terminal,
  timed until its first frame is drawn (the run list and keys, from the store) and until the
  engine watches (pipeline files loaded, engine and watcher started), against a trivial
  Textual app timed the same way, pair by pair. Bytecode is compiled once into a private
  cache (`PYTHONPYCACHEPREFIX`), as a second start runs. This includes imports.

Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App

import plain_apps
from bench_console import make_repo
from pipedeck.engine import Client
from pipedeck.tui.app import PipedeckApp
from plain_apps import LAYOUT_TEXT, TRIVIAL_TEXT, Layout, Trivial
from terminal import time_to_text

SIZE = (120, 40)


async def first_frame(make: Callable[[], App[None]]) -> tuple[float, float]:
    """Seconds to the first frame, and to the console being all there (engine started)."""
    start = time.perf_counter()
    app = make()
    painted = asyncio.Event()
    async with app.run_test(size=SIZE) as pilot:
        app.call_after_refresh(painted.set)
        await painted.wait()
        took = time.perf_counter() - start
        ready = took
        if isinstance(app, PipedeckApp):
            await app.ready.wait()
            ready = time.perf_counter() - start
        await pilot.pause(0)
        if isinstance(app, PipedeckApp):
            await app.close_engine()
    if isinstance(app, PipedeckApp):
        app.client.close()
    return took, ready


FIRST_FRAME = ("stream", "#3", "Quit")
"""What the console's first frame shows, from the store alone: the pipeline, its runs, keys."""
FILLED_IN = ("watching for commits",)
"""Shown once the pipeline files are loaded and the engine and watcher have started."""


def whole_processes(root: Path, repeat: int) -> None:
    """Trivial app and console alternately, each spawned on a terminal of `SIZE`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(root.parent / "pycache")
    plain = str(Path(plain_apps.__file__))
    trivial, layout = [sys.executable, plain, "trivial"], [sys.executable, plain, "layout"]
    console = [sys.executable, "-m", "pipedeck", "--repo", str(root)]
    times: dict[str, list[float]] = {"trivial": [], "layout": [], "first": [], "filled": []}
    for n in range(repeat + 1):  # the first round compiles the bytecode: not counted
        (painted,) = time_to_text(trivial, [(TRIVIAL_TEXT,)], cwd=root, env=env)
        (drawn,) = time_to_text(layout, [(LAYOUT_TEXT,)], cwd=root, env=env)
        first, filled = time_to_text(console, [FIRST_FRAME, FILLED_IN], cwd=root, env=env)
        if n:
            times["trivial"].append(painted)
            times["layout"].append(drawn)
            times["first"].append(first)
            times["filled"].append(filled)
    base = statistics.median(times["trivial"])
    print(f"start-up of a whole process on a {SIZE[0]}x{SIZE[1]} terminal, spawn to frame:")
    report("trivial Textual app", base, base)
    report("console layout, plain widgets", base, statistics.median(times["layout"]))
    report("console, first frame", base, statistics.median(times["first"]))
    report("console, engine watching", base, statistics.median(times["filled"]))


def report(label: str, base: float, other: float) -> None:
    print(f"  {label:<34} median {other * 1000:6.0f} ms  {other / base:.2f}x")


async def in_process(root: Path, repeat: int) -> None:
    makers: dict[str, Callable[[], App[None]]] = {
        "trivial Textual app": Trivial,
        "console layout, plain widgets": Layout,
        "console": lambda: PipedeckApp(Client.open(root)),
    }
    medians = {}
    for label, make in makers.items():
        await first_frame(make)  # the first of each pays one-off costs (CSS parsing caches)
        times = [await first_frame(make) for _ in range(repeat)]
        medians[label] = statistics.median(t[0] for t in times)
        if label == "console":
            medians["console, engine started"] = statistics.median(t[1] for t in times)
    print("start-up in process (modules imported) to the first frame:")
    base = medians["trivial Textual app"]
    for label, median in medians.items():
        report(label, base, median)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, lines=10, actions=8)
        for _ in range(3):  # some history for the run list and the graph
            subprocess.run(
                [sys.executable, "-m", "pipedeck", "--repo", str(root), "run", "stream"],
                check=True,
                capture_output=True,
            )
        asyncio.run(in_process(root, args.repeat))
        whole_processes(root, args.repeat)
    print("target: the console's first frame within 1.3x of the trivial app's, whole process")


if __name__ == "__main__":
    main()
