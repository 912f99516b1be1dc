"""The console streaming under load: is it smooth, is its memory flat, is the end shown soon?

    uv run python benchmarks/bench_console.py [--lines 1000000] [--actions 8]

Streaming: the console is open (headless, 120x40) while N actions each print `seq LINES` at
full speed. Reports the largest gap between ticks of a 10 ms timer in the app (target under
50 ms), the console's RSS at idle and at its peak (target within 2x of idle), and for each
shown pane how long after its action ended the pane showed the last line (target 0.3 s).
The baseline is the timer's own period (10 ms) and the idle console's memory, both taken in
the same run. Start-up is measured by `bench_startup.py`. Figures, not assertions.
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

from pipedeck.engine import Client, Settings
from pipedeck.engine.events import ActionFinished, Event, RunFinished
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.widgets.log_panes import LogPanes

SIZE = (120, 40)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_repo(root: Path, lines: int, actions: int) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.invalid",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    }
    (root / "pipelines").mkdir(parents=True)
    body = "".join(
        f"      - {{name: seq{i}, kind: build, run: 'seq {lines}'}}\n" for i in range(actions)
    )
    (root / "pipelines" / "stream.yml").write_text(
        f"name: stream\nstages:\n  - name: Flood\n    actions:\n{body}"
    )
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", "bench"], cwd=root, check=True, env=env)


async def streaming(root: Path, lines: int) -> None:
    app = PipedeckApp(Client.open(root), settings=Settings())
    gaps: list[float] = []
    peak = [0.0]
    finished: dict[str, float] = {}
    shown_last: dict[str, float] = {}
    done = asyncio.Event()
    last_line = str(lines)

    def listen(event: Event) -> None:
        if isinstance(event, ActionFinished):
            finished[f"{event.stage}/{event.action}"] = time.perf_counter()
        if isinstance(event, RunFinished):
            done.set()

    async with app.run_test(size=SIZE) as pilot:
        await app.ready.wait()
        await pilot.pause(0.5)
        idle = rss_mb()
        last_tick = [time.perf_counter()]

        def tick() -> None:
            now = time.perf_counter()
            gaps.append(now - last_tick[0])
            if gaps[-1] > 0.03 and os.environ.get("BENCH_TRACE"):
                print(f"    gap {gaps[-1] * 1000:.0f} ms at {now - started:.3f} s")
            last_tick[0] = now
            peak[0] = max(peak[0], rss_mb()) if len(gaps) % 10 == 0 else peak[0]
            for view in app.main.query_one(LogPanes).views():
                title = str(view.border_title)
                if (
                    title in finished
                    and title not in shown_last
                    and any(last_line == row.strip() for row in view.visible_lines())
                ):
                    shown_last[title] = now

        assert app.engine is not None
        app.engine.bus.subscribe(listen)
        started = time.perf_counter()
        app.main.set_interval(0.01, tick)
        app.main.start_named("stream")
        await asyncio.wait_for(done.wait(), 300)
        ran = time.perf_counter() - started
        await pilot.pause(1.0)
        peak[0] = max(peak[0], rss_mb())
        await app.close_engine()
    latencies = [shown_last[t] - finished[t] for t in shown_last]
    print(f"streaming: {len(finished)} actions x seq {lines}, run took {ran:.2f} s")
    print(f"  largest gap between 10 ms ticks: {max(gaps) * 1000:.1f} ms (target < 50 ms)")
    print(f"  median gap: {statistics.median(gaps) * 1000:.1f} ms over {len(gaps)} ticks")
    print(f"  RSS idle {idle:.0f} MB, peak {peak[0]:.0f} MB: {peak[0] / idle:.2f}x (target <= 2x)")
    if latencies:
        print(
            f"  last line shown after its action ended: max {max(latencies) * 1000:.0f} ms,"
            f" panes measured {len(latencies)} (target 300 ms)"
        )
    else:
        print("  no pane showed a finished action's last line")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--actions", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        make_repo(root, args.lines, args.actions)
        asyncio.run(streaming(root, args.lines))


if __name__ == "__main__":
    main()
