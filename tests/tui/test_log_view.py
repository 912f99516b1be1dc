"""The log view against real files: tail-first opening, following, timestamps, search."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from pipedeck.store.logindex import LogIndex
from pipedeck.store.logs import LogWriter
from pipedeck.tui.widgets.log_view import TAIL_LINES, LogView

ROWS = 22  # 24 terminal rows minus the view's border


class LogApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.follow_changes: list[bool] = []

    def compose(self) -> ComposeResult:
        yield LogView(time_format=lambda stamp: "12:34:56.789")

    def on_log_view_follow_changed(self, message: LogView.FollowChanged) -> None:
        assert message.control is self.view
        self.follow_changes.append(message.following)

    @property
    def view(self) -> LogView:
        return self.query_one(LogView)


async def wait_for(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run until `condition` holds (the view polls the file on a timer)."""
    for _ in range(400):
        if condition():
            return
        await pilot.pause(0.025)
    raise AssertionError("condition never held")


def numbered(count: int, start: int = 0) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(start, start + count))


def last_row(view: LogView) -> str:
    return view.visible_lines()[-1].rstrip()


async def test_showing_a_file_displays_its_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_bytes(numbered(100))
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log, title="build")
        await pilot.pause()
        rows = [row.rstrip() for row in view.visible_lines()]
        assert rows == [f"line {i}" for i in range(100 - ROWS, 100)]
        assert view.border_title == "build"
        assert view.following and not view.indexing
        assert view.border_subtitle == "following · 100 lines"


async def test_a_view_set_up_before_mounting_opens_its_file(tmp_path: Path) -> None:
    log = tmp_path / "early.log"
    log.write_bytes(b"first\nsecond")  # the last line is still being written

    class EarlyApp(App[None]):
        def compose(self) -> ComposeResult:
            view = LogView()
            view.show_file(log, title="early")
            yield view

    app = EarlyApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        await wait_for(pilot, lambda: "second" in view.visible_lines()[1])
        assert view.visible_lines()[0].rstrip() == "first"


async def test_appended_lines_appear_while_following(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = LogWriter(log)
    writer.write(numbered(50))
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log)
        await pilot.pause()
        assert last_row(view) == "line 49"
        writer.write(numbered(30, start=50) + b"partial")
        await wait_for(pilot, lambda: last_row(view) == "partial")
        assert view.visible_lines()[-2].rstrip() == "line 79"
        writer.write(b" line, now complete\n")
        await wait_for(pilot, lambda: last_row(view) == "partial line, now complete")
        assert view.line_count == 81
    writer.close()


async def test_a_file_that_appears_later_is_picked_up(tmp_path: Path) -> None:
    log = tmp_path / "later" / "a.log"
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log)
        await pilot.pause()
        assert view.line_count == 0
        writer = LogWriter(log)
        writer.write(b"hello\n")
        writer.close()
        await wait_for(pilot, lambda: view.visible_lines()[0].rstrip() == "hello")


async def test_scrolling_up_pauses_and_end_resumes(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = LogWriter(log)
    writer.write(numbered(200))
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log)
        view.focus()
        await pilot.pause()
        await pilot.press("up", "up")
        assert not view.following
        assert last_row(view) == "line 197"
        assert view.border_subtitle.startswith("paused")
        writer.write(numbered(10, start=200))
        await wait_for(pilot, lambda: view.line_count == 210)
        assert last_row(view) == "line 197"  # paused: the new lines do not pull the view
        await pilot.press("end")
        assert view.following
        await wait_for(pilot, lambda: last_row(view) == "line 209")
        assert view.border_subtitle == "following · 210 lines"

        view.post_message(events.MouseScrollUp(view, 2, 2, 0, -1, 0, False, False, False))
        await wait_for(pilot, lambda: not view.following)
        await pilot.press("pageup")
        assert last_row(view) != "line 209"
        await pilot.press("f")
        await wait_for(pilot, lambda: last_row(view) == "line 209")
        await pilot.pause()
        assert app.follow_changes == [False, True, False, True]
    writer.close()


async def test_t_toggles_timestamps(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = LogWriter(log)
    writer.write(b"compiled\n")
    writer.close()
    with log.open("ab") as f:
        f.write(b"written without a sidecar record\n")  # offsets past the last record
    untimed = tmp_path / "untimed.log"
    untimed.write_bytes(b"no sidecar at all\n")
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log)
        view.focus()
        await pilot.pause()
        assert view.visible_lines()[0].rstrip() == "compiled"
        await pilot.press("t")
        assert view.show_timestamps
        rows = [row.rstrip() for row in view.visible_lines()[:2]]
        # The sidecar's last record covers everything after its offset.
        assert rows == ["12:34:56.789 compiled", "12:34:56.789 written without a sidecar record"]
        view.show_file(untimed)
        await pilot.pause()
        assert view.visible_lines()[0].rstrip() == " " * 13 + "no sidecar at all"
        await pilot.press("t")
        assert view.visible_lines()[0].rstrip() == "no sidecar at all"


async def test_search_finds_hits_and_n_moves_between_them(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    lines = [f"step {i}" + (" ERROR here" if i in (30, 120, 300) else "") for i in range(400)]
    log.write_text("\n".join(lines) + "\n")
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.view
        view.show_file(log)
        view.focus()
        await pilot.pause()
        await pilot.press("slash")
        await pilot.press(*"error", "enter")
        await wait_for(pilot, lambda: bool(view.hits.lines))
        assert view.hits.lines == [30, 120, 300]
        # From the end of the log the search wraps to the first hit, centred.
        assert view.hits.current == 0 and not view.following
        assert view.visible_lines()[ROWS // 2].rstrip() == "step 30 ERROR here"
        assert "1/3 hits for 'error'" in view.border_subtitle
        await pilot.press("n")
        assert view.hits.current == 1
        assert view.visible_lines()[ROWS // 2].rstrip() == "step 120 ERROR here"
        await pilot.press("n", "n")
        assert view.hits.current == 0
        await pilot.press("N")
        assert view.hits.current == 2
        assert view.visible_lines()[ROWS // 2].rstrip() == "step 300 ERROR here"

        await pilot.press("slash")
        await pilot.press("escape")
        assert view.hits.pattern == "error" and view.hits.lines == [30, 120, 300]
        await pilot.press("slash", *"[nothing]", "enter")
        await wait_for(pilot, lambda: view.hits.progress is None)
        assert view.hits.lines == []
        # The subtitle is markup: the pattern is escaped so it shows as typed.
        assert view.border_subtitle.endswith("no hits for '\\[nothing]'")


@pytest.fixture(scope="module")
def big_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 50 MB log, written fast from one repeated block; answers its path and line count."""
    log = tmp_path_factory.mktemp("big") / "big.log"
    block = b"".join(b"%07d some build output that goes on for a while\n" % i for i in range(20000))
    repeats = 50 * 1024 * 1024 // len(block) + 1
    with log.open("wb") as f:
        for _ in range(repeats):
            f.write(block)
        f.write(b"the very last line\n")
    return log, repeats * 20000 + 1


class GatedLogView(LogView):
    """Holds its indexing thread until the test opens the gate, so the test can act while
    the tail is still what is shown, whatever the machine's speed."""

    gate = threading.Event()

    @staticmethod
    def _index_in_thread(index: LogIndex) -> None:
        GatedLogView.gate.wait(timeout=30)
        LogView._index_in_thread(index)


class GatedApp(App[None]):
    def compose(self) -> ComposeResult:
        yield GatedLogView()


@asynccontextmanager
async def gated() -> AsyncIterator[tuple[LogView, Pilot[None]]]:
    """A view whose index is held back until the test sets the gate (always set at exit)."""
    app = GatedApp()
    GatedLogView.gate.clear()
    try:
        async with app.run_test(size=(80, 24)) as pilot:
            yield app.query_one(LogView), pilot
    finally:
        GatedLogView.gate.set()


async def test_paging_up_while_indexing_keeps_the_same_lines_in_view(
    big_log: tuple[Path, int],
) -> None:
    log, total = big_log
    async with gated() as (view, pilot):
        view.show_file(log)
        view.focus()
        await pilot.pause()
        await pilot.press("pageup", "pageup")
        assert view.indexing and not view.following
        top = view.visible_lines()[0]
        assert top.startswith("0019")  # tail lines, two pages up from the end
        GatedLogView.gate.set()
        await wait_for(pilot, lambda: not view.indexing)
        assert view.visible_lines()[0] == top
        assert round(view.scroll_y) == total - 3 * ROWS
        assert not view.following


async def test_a_search_done_while_indexing_jumps_once_indexed(big_log: tuple[Path, int]) -> None:
    log, total = big_log
    async with gated() as (view, pilot):
        view.show_file(log)
        await pilot.pause()
        view.search("0000042 SOME")
        await wait_for(pilot, lambda: view.hits.progress is None)
        assert view.hits.lines == list(range(42, total, 20000))
        assert view.indexing and view.hits.current == 0
        GatedLogView.gate.set()
        await wait_for(pilot, lambda: not view.indexing)
        assert view.visible_lines()[ROWS // 2].startswith("0000042 some build output")
        assert view.border_subtitle.startswith("paused")


async def test_a_large_log_shows_its_end_before_indexing_completes(
    big_log: tuple[Path, int],
) -> None:
    log, total = big_log
    async with gated() as (view, pilot):
        view.show_file(log, title="big")
        await pilot.pause()
        # The index is held back: what is painted comes from reading the end alone.
        assert view.indexing
        assert view.line_count == TAIL_LINES
        assert last_row(view) == "the very last line"
        assert view.visible_lines()[-2].rstrip().endswith("goes on for a while")
        assert view.border_subtitle == "following · indexing 0%"
        GatedLogView.gate.set()
        await wait_for(pilot, lambda: not view.indexing)
        assert view.line_count == total
        assert view.following and round(view.scroll_y) == total - ROWS
        assert last_row(view) == "the very last line"
        assert view.border_subtitle == f"following · {total:,} lines"
