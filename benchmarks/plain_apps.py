"""Textual apps with nothing of pipedeck behind them: the baselines of `bench_startup.py`.

    python benchmarks/plain_apps.py trivial|layout     # run one full screen

Imports only Textual, so that run as a program it costs what Textual itself costs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from textual.app import App, ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import OptionList, Static

APP_CSS = Path(__file__).resolve().parents[1] / "src" / "pipedeck" / "tui" / "app.tcss"
TRIVIAL_TEXT = "hello from a trivial app"
LAYOUT_TEXT = "keys of a plain layout"


class Trivial(App[None]):
    def compose(self) -> ComposeResult:
        yield Static(TRIVIAL_TEXT)


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
        yield Static(LAYOUT_TEXT)


if __name__ == "__main__":
    {"trivial": Trivial, "layout": Layout}[sys.argv[1]]().run()
