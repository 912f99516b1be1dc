"""Console start-up to its first painted frame, against a trivial Textual app in the same run.

    uv run python benchmarks/bench_startup.py [--repeat 7]

Three pairs of figures, each the median of `--repeat` tries:

* In process (modules already imported): from building the app to the first refresh after
  it is ready, for a trivial app (one `Static`), for the console's layout built of plain
  widgets (the same containers, CSS and widget count, no pipedeck code: what Textual itself
  costs for this screen), and for the console on a repository with history.
* Whole process, as a person starting it sees it: from spawning Python to the first frame
  painted (headless), for the trivial app and for the console. This includes imports.

Figures, not assertions: machines are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import OptionList, Static

from bench_console import make_repo
from pipedeck.engine import Project
from pipedeck.tui.app import PipedeckApp

SIZE = (120, 40)
APP_CSS = Path(__file__).resolve().parents[1] / "src" / "pipedeck" / "tui" / "app.tcss"


class Trivial(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("hello")


class Layout(App[None]):
    """The console's widget tree with Textual's own widgets and nothing behind them."""

    CSS_PATH = str(APP_CSS)

    def compose(self) -> ComposeResult:
        yield Static("pipedeck · repo · main · HEAD", id="header")
        with Horizontal(id="body"):
            yield OptionList("▸ ci", "   ✔ #1 1234567 1m", id="runs")
            with Vertical(id="centre"):
                yield Static("╭─ Build ─╮", id="graph")
                yield Static(id="problems")
                yield Grid(id="logs")
        yield Static("keys")


async def first_frame(make: Callable[[], App[None]]) -> float:
    start = time.perf_counter()
    app = make()
    painted = asyncio.Event()
    async with app.run_test(size=SIZE) as pilot:
        app.call_after_refresh(painted.set)
        await painted.wait()
        took = time.perf_counter() - start
        await pilot.pause(0)
        if isinstance(app, PipedeckApp):
            await app.close_engine()
    return took


CHILD = """
import asyncio, sys
from pathlib import Path

async def main() -> None:
    if len(sys.argv) > 1:
        from pipedeck.engine import Project
        from pipedeck.tui.app import PipedeckApp
        app = PipedeckApp(Project.open(Path(sys.argv[1])))
    else:
        from textual.app import App
        from textual.widgets import Static
        class Trivial(App):
            def compose(self):
                yield Static("hello")
        app = Trivial()
    async with app.run_test(size=(120, 40)):
        painted = asyncio.Event()
        app.call_after_refresh(painted.set)
        await painted.wait()
        print("painted", flush=True)
        if len(sys.argv) > 1:
            await app.close_engine()

asyncio.run(main())
"""


def whole_process(*args: str) -> float:
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args], stdout=subprocess.PIPE)
    assert child.stdout is not None
    line = child.stdout.readline()
    took = time.perf_counter() - start
    child.wait()
    if line.strip() != b"painted":
        raise SystemExit(f"the child did not paint: {line!r}")
    return took


def report(label: str, base: float, other: float) -> None:
    print(f"  {label:<34} median {other * 1000:6.0f} ms  {other / base:.2f}x")


async def in_process(root: Path, repeat: int) -> None:
    makers: dict[str, Callable[[], App[None]]] = {
        "trivial Textual app": Trivial,
        "console layout, plain widgets": Layout,
        "console": lambda: PipedeckApp(Project.open(root)),
    }
    medians = {}
    for label, make in makers.items():
        await first_frame(make)  # the first of each pays one-off costs (CSS parsing caches)
        medians[label] = statistics.median([await first_frame(make) for _ in range(repeat)])
    print("start-up in process (modules imported) to the first frame:")
    base = medians["trivial Textual app"]
    for label, median in medians.items():
        report(label, base, median)


def processes(root: Path, repeat: int) -> None:
    trivial = statistics.median([whole_process() for _ in range(repeat)])
    console = statistics.median([whole_process(str(root)) for _ in range(repeat)])
    print("start-up of a whole process (imports included) to the first frame:")
    report("trivial Textual app", trivial, trivial)
    report("console", trivial, console)


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
        processes(root, args.repeat)
    print("target: the console within 1.5x of the trivial app")


if __name__ == "__main__":
    main()
