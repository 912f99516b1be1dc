"""Log viewer benchmark: how soon a 500 MB log shows its last line, against a 1 KB one.

    uv run python benchmarks/bench_log_open.py [--mb 500] [--repeat 3]

For each file, the time from `App.run_test` starting (and from the `show_file` call) to the
first painted frame whose rows include the file's last line; the ratio big / small (the
target is within 1.5x); how long the background index and a whole-file search take; and the
peak RSS growth while opening and scrolling the big file. Figures, not assertions: machines
are noisy. The big file is freshly written, so it is read from the page cache.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from textual.app import App, ComposeResult
from textual.strip import Strip

from pipedeck.tui.widgets.log_view import LogView

LAST = "LAST LINE OF THE LOG"


def write_logs(root: Path, megabytes: int) -> tuple[Path, Path]:
    lines = b"".join(
        b"%08d [build] compiling module_%04d.c ... ok\n" % (i, i % 7919) for i in range(24_000)
    )
    block = lines[: lines.rfind(b"\n", 0, 1024 * 1024) + 1]  # whole lines, just under 1 MB
    big = root / "big.log"
    with big.open("wb") as f:
        for _ in range(megabytes * 1024 * 1024 // len(block)):
            f.write(block)
        f.write(LAST.encode() + b"\n")
    # Short lines, so the small log also overflows the screen: both views then paint every
    # row and a scrollbar, and the comparison is about file size alone.
    short = b"".join(b"%04d step ok\n" % i for i in range(75))
    small = root / "small.log"
    small.write_bytes(short + LAST.encode() + b"\n")
    return big, small


@dataclass
class Marks:
    """Wall-clock points of one opening, filled in by the app and its view."""

    started: float = 0.0
    shown: float = 0.0
    painted: float = 0.0
    painted_event: asyncio.Event = field(default_factory=asyncio.Event)


class TimedLogView(LogView):
    """Notes the first time a painted row carries the last line."""

    marks: Marks

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not self.marks.painted and LAST in strip.text:
            self.marks.painted = time.perf_counter()
            self.marks.painted_event.set()
        return strip


class BenchApp(App[None]):
    def __init__(self, path: Path, marks: Marks) -> None:
        super().__init__()
        self.path = path
        self.marks = marks

    def compose(self) -> ComposeResult:
        view = TimedLogView()
        view.marks = self.marks
        yield view

    def on_mount(self) -> None:
        self.marks.shown = time.perf_counter()
        self.query_one(LogView).show_file(self.path, title=self.path.name)


async def open_once(path: Path) -> Marks:
    marks = Marks()
    marks.started = time.perf_counter()
    async with BenchApp(path, marks).run_test(size=(120, 40)):
        await asyncio.wait_for(marks.painted_event.wait(), timeout=60)
    return marks


def rss_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    return 0


class PeakSampler:
    """Samples VmRSS every few milliseconds (VmHWM cannot be reset everywhere)."""

    def __init__(self) -> None:
        self.peak = rss_kib("VmRSS")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_kib("VmRSS"))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib("VmRSS"))


async def open_index_search_scroll(path: Path) -> tuple[float, float]:
    """Open the big file, let it index, search it, and scroll through it."""
    marks = Marks()
    app = BenchApp(path, marks)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(LogView)
        while view.indexing:
            await pilot.pause(0.01)
        indexed = time.perf_counter() - marks.shown
        began = time.perf_counter()
        view.search(LAST.lower())
        while view.hits.progress is not None:
            await pilot.pause(0.01)
        searched = time.perf_counter() - began
        view.focus()
        await pilot.press("home")
        count = view.line_count
        for step in range(1, 41):
            view.scroll_to(y=count * step // 40, animate=False, force=True)
            await pilot.pause()
            await pilot.press("pagedown", "pagedown")
        await pilot.press("end")
        await pilot.pause()
    return indexed, searched


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        big, small = write_logs(Path(tmp), args.mb)
        print(f"wrote {big.stat().st_size / 2**20:.0f} MB and {small.stat().st_size} B logs"
              f" in {time.perf_counter() - began:.1f} s")  # fmt: skip
        start_rss = rss_kib("VmRSS")
        for path in (small, big):  # warm-up: imports, CSS, the first scrollbars
            await open_once(path)

        runs: dict[str, list[Marks]] = {"1 KB": [], f"{args.mb} MB": []}
        for _ in range(args.repeat):
            for marks, path in zip(runs.values(), (small, big), strict=True):
                marks.append(await open_once(path))
        print("\ntime to the first frame showing the last line (median)")
        print(f"{'':10} {'from run_test':>14} {'from show_file':>16}")
        medians = {}
        for name, marks in runs.items():
            start = statistics.median(m.painted - m.started for m in marks)
            shown = statistics.median(m.painted - m.shown for m in marks)
            medians[name] = (start, shown)
            print(f"{name:10} {ms(start):>14} {ms(shown):>16}")
        (small_start, small_shown), (big_start, big_shown) = medians.values()
        print(f"{'ratio':10} {big_start / small_start:>13.2f}x {big_shown / small_shown:>15.2f}x")
        print("  (target: the big file within 1.5x of the small one)")

        # The same routine on the small file first: what the app itself costs.
        growth = {}
        for name, path in (("1 KB", small), (f"{args.mb} MB", big)):
            before = rss_kib("VmRSS")
            with PeakSampler() as sampler:
                indexed, searched = await open_index_search_scroll(path)
            growth[name] = (sampler.peak - before) / 1024
        print(
            f"\nbackground index of {args.mb} MB: {ms(indexed)}; whole-file search: {ms(searched)}"
        )
        print("peak RSS growth while opening, indexing, searching and scrolling:")
        for name, mib in growth.items():
            print(f"  {name:8} {mib:6.1f} MiB")
        print(f"  (RSS at start: {start_rss / 1024:.0f} MiB)")


if __name__ == "__main__":
    asyncio.run(main())
