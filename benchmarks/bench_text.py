"""What showing outside text literally costs: per line, against what the console did before.

    uv run python benchmarks/bench_text.py [--lines 100000] [--repeat 5]

Three figures, each a ratio against a baseline measured in the same run, medians of
`--repeat` rounds:

- log lines with ANSI colours (and a stray control character now and then) through the log
  pane's `_to_text`, against Rich's `Text.from_ansi` alone, which is what the pane called
  before it showed control characters and dropped links;
- commit subjects through `tui.text.markup` (the header's template), against
  `Content.from_markup` of an f-string — the old way, which crashed on `[/]`;
- the same subjects through `visible` alone, against `str.translate` with an empty table.

Figures, not assertions: these machines are noisy.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from rich.text import Text
from textual.content import Content

from pipedeck.tui.text import markup
from pipedeck.tui.widgets.log_view import _to_text
from pipedeck.visible import visible


def log_lines(count: int) -> list[str]:
    lines = []
    for i in range(count):
        line = f"\x1b[32m{i:06d}\x1b[0m [build] compiling \x1b[1mmodule_{i % 97}.c\x1b[0m ok"
        if i % 50 == 0:
            line += " \x07 bell \x1b]8;;https://example.invalid\x1b\\link\x1b]8;;\x1b\\"
        lines.append(line)
    return lines


def subjects(count: int) -> list[str]:
    return [f"Fix {i % 13} things in module_{i}: keep totals exact" for i in range(count)]


def timed(work: Callable[[], object], repeat: int) -> float:
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        rounds.append(time.perf_counter() - start)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    lines, titles = log_lines(args.lines), subjects(args.lines)
    empty: dict[int, str] = {}

    cases = [
        (
            "log line: _to_text vs Text.from_ansi",
            lambda: [_to_text(line) for line in lines],
            lambda: [Text.from_ansi(line) for line in lines],
        ),
        (
            "subject: markup() vs from_markup(f-string)",
            lambda: [
                markup("HEAD [cyan]$sha[/] $subject", sha="abc1234", subject=t) for t in titles
            ],
            lambda: [Content.from_markup(f"HEAD [cyan]abc1234[/] {t}") for t in titles],
        ),
        (
            "subject: visible() vs str.translate({})",
            lambda: [visible(t) for t in titles],
            lambda: [t.translate(empty) for t in titles],
        ),
    ]
    print(f"{args.lines:,} items, median of {args.repeat} rounds")
    for name, ours, baseline in cases:
        mine, base = timed(ours, args.repeat), timed(baseline, args.repeat)
        per = mine / args.lines * 1e6
        print(f"{name:<44} {per:7.2f} µs/item  {mine / base:5.2f}x the baseline")


if __name__ == "__main__":
    main()
