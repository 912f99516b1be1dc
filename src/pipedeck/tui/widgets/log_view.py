"""One action's log on screen, read lazily from disk.

The view never holds the log: it asks a `LogIndex` for the few lines it is about to paint.
A big file opens tail-first: its last lines are read backwards from the end and painted at
once while a thread worker builds the index, then the view switches to absolute line
numbers. A 25 Hz timer pulls whatever the file gained since the last tick, so a chatty
action costs at most one repaint per tick, never a message per line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import Worker, WorkerState, get_current_worker

from pipedeck.store.logindex import LogIndex
from pipedeck.store.logs import LogTimes
from pipedeck.tui.text import plain
from pipedeck.tui.widgets.log_search import LogHits, LogSearch
from pipedeck.visible import visible

SYNC_BYTES = 1024 * 1024
"""New bytes indexed on the UI thread (about a millisecond); a bigger backlog, a worker's."""
INDEX_STEP = 16 * 1024 * 1024
"""Bytes per `index_more` call in the worker: progress shows and cancelling is noticed."""
TAIL_LINES = 500
"""Lines shown, and scrollable, while a big file is still being indexed."""
CACHE_LINES = 1000
STAMP_WIDTH = 13  # "HH:MM:SS.mmm "


def local_time(stamp: float) -> str:
    return datetime.fromtimestamp(stamp).strftime("%H:%M:%S.%f")[:-3]


def _to_text(line: str) -> Text:
    """A log line as the console shows it: its ANSI colours, nothing else of its codes.

    Colours become styles; every other escape sequence is dropped by the decoder, and what
    is left that a terminal would obey (a lone ESC, C1 codes, other controls) is shown by
    `visible` one for one, so the styles stay in place. Links are not followed.
    """
    if "\r" in line:
        # Progress bars redraw with a bare CR; show what a terminal ended up with.
        line = line.rsplit("\r", 1)[-1]
    # Shown before Rich sees them: it would drop some (a bell, a backspace) without a trace.
    line = visible(line, keep="\x1b\t")
    text = Text.from_ansi(line) if "\x1b" in line else Text(line)
    text.expand_tabs()
    if "\x1b" in text.plain:  # what the decoder did not take for a colour
        text.plain = visible(text.plain)
    text.spans = [
        Span(span.start, span.end, span.style.update_link(None))
        if isinstance(span.style, Style) and span.style.link
        else span
        for span in text.spans
    ]
    return text


class LogView(ScrollView, can_focus=True):
    """A log file, lazily read, optionally followed as it grows; see the module docstring."""

    DEFAULT_CSS = """
    LogView { height: 1fr; border: round $primary 40%; background: $surface; }
    LogView:focus { border: round $accent; }
    LogView > .log-view--timestamp { color: $text-muted; }
    LogView > .log-view--match { background: $warning 50%; text-style: bold; }
    LogView > .log-view--current { background: $accent 25%; }
    """
    COMPONENT_CLASSES = {"log-view--timestamp", "log-view--match", "log-view--current"}
    BINDINGS = [
        ("f", "follow", "Follow"),
        ("t", "toggle('show_timestamps')", "Times"),
        ("slash", "search", "Search"),
        Binding("n", "next_hit", "Next hit", show=False),
        Binding("N", "previous_hit", "Previous hit", show=False),
    ]

    following: reactive[bool] = reactive(True, init=False)
    """Stay at the end as the file grows; scrolling up pauses, `end`/`f` resume."""
    show_timestamps: reactive[bool] = reactive(False, init=False)
    """Show when each line arrived, from the log's `.times` sidecar."""

    @dataclass
    class FollowChanged(Message):
        """Following was paused or resumed."""

        log_view: LogView
        following: bool

        @property
        def control(self) -> LogView:
            return self.log_view

    def __init__(self, *, time_format: Callable[[float], str] = local_time, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.time_format = time_format
        """Turns a Unix time into the timestamp column's text (tests pass a fixed one)."""
        self.path: Path | None = None
        self.hits = LogHits()
        """The last search: pattern, progress, matching lines, the current one."""
        self._index: LogIndex | None = None
        self._times: LogTimes | None = None
        self._tail: list[str] | None = None  # set while a big file is being indexed
        self._tail_size = 0  # the file size the tail was read at
        self._indexer: Worker[None] | None = None
        self._searcher: Worker[list[int]] | None = None
        self._pending_hit = False  # a jump asked for while still tail-first
        self._shown = (0, 0)  # (line count, bytes) last drawn
        self._lines: dict[int, str] = {}
        self._strips: dict[int, Strip] = {}
        self._max_width = 0
        self._style: Style | None = None
        self._subtitle = ""

    @property
    def indexing(self) -> bool:
        """Still showing the tail of a big file while the index is built."""
        return self._tail is not None

    @property
    def line_count(self) -> int:
        """Lines the view can scroll through now (the tail's, while indexing)."""
        if self._tail is not None:
            return len(self._tail)
        return self._index.line_count if self._index is not None else 0

    def visible_lines(self) -> list[str]:
        """The text of each row as painted now (timestamps included)."""
        return [self.render_line(y).text for y in range(self.scrollable_content_region.height)]

    def show_file(self, path: Path, *, follow: bool = True, title: str = "") -> None:
        """Show `path` (which may not exist yet): its end at once, the rest as it is indexed."""
        self._close()
        self.path = path
        self.border_title = plain(title, lines=False)
        self.set_reactive(LogView.following, follow)
        self._index = index = LogIndex(path)
        self._times = LogTimes(path)
        if index.size <= SYNC_BYTES:
            index.index_more()
        else:
            self._read_tail()
        if self.is_mounted:
            self._start()

    def clear(self) -> None:
        """Show nothing; the view can take another file later."""
        self._close()
        self.path = None
        self.border_title = self.border_subtitle = ""
        self._subtitle = ""
        self.virtual_size = Size(0, 0)
        self.refresh()

    def on_mount(self) -> None:
        self.set_interval(1 / 25, self._poll)
        if self._index is not None:
            self._start()

    def on_unmount(self) -> None:
        self._close()

    def _start(self) -> None:
        self.anchor(self.following)
        if self._tail is not None:
            # After the first frame: a thread indexing from the start slows that frame.
            self.call_after_refresh(self._start_indexing)
        self._shown = (-1, -1)
        self._poll()

    def _close(self) -> None:
        if self._indexer is not None:
            self._indexer.cancel()
        self.hits.stop()
        if self._index is not None:
            # Safe while a worker thread still reads: a closed index reads as empty.
            self._index.close()
        self._index = self._times = self._tail = None
        self._indexer = self._searcher = None
        self.hits = LogHits()
        self._invalidate()

    def _start_indexing(self) -> None:
        if self._index is None or (self._indexer is not None and not self._indexer.is_finished):
            return
        work = partial(self._index_in_thread, self._index)
        self._indexer = self.run_worker(work, "index", thread=True, exit_on_error=False)

    @staticmethod
    def _index_in_thread(index: LogIndex) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled and not index.complete:
            index.index_more(INDEX_STEP)

    def _read_tail(self) -> None:
        assert self._index is not None
        self._tail_size = self._index.size
        self._tail = self._index.tail_lines(TAIL_LINES, end=self._tail_size)
        self._invalidate()

    def _leave_tail(self) -> None:
        """The index is done: switch to absolute line numbers, keeping the same lines shown."""
        assert self._index is not None and self._tail is not None
        tail, self._tail = self._tail, None
        first = self._index.line_at(self._tail_size - 1) + 1 - len(tail) if tail else 0
        top = round(self.scroll_y)
        self._invalidate()
        self._sync_size()
        if not self.following:
            self.scroll_to(y=first + top, animate=False, force=True)
        if self._pending_hit:
            self._pending_hit = False
            self._goto(self.hits.current)

    def _poll(self) -> None:
        index = self._index
        if index is None:
            return
        indexer = self._indexer
        indexing = indexer is not None and not indexer.is_finished
        if self._tail is not None:
            if indexer is not None and indexer.is_finished:
                self._leave_tail()
            elif self.following and index.size != self._tail_size:
                self._read_tail()
                self.refresh()
        elif not indexing:
            backlog = index.size - index.size_indexed
            if backlog > SYNC_BYTES:
                self._start_indexing()
            elif backlog:
                index.index_more()
        if self._tail is None:
            shown = (index.line_count, index.size_indexed)
            if shown != self._shown:
                self._grew(shown)
        self._sync_size()
        if self.following and not self.is_vertical_scroll_end:
            self.anchor()
        self._update_subtitle()

    def _grew(self, shown: tuple[int, int]) -> None:
        (count, size), (old_count, old_size) = shown, self._shown
        self._shown = shown
        if count < old_count or size < old_size:
            self._invalidate()  # truncated
        else:
            # Only the old last line can have changed (it may have been partial).
            self._lines = {n: v for n, v in self._lines.items() if n < old_count - 1}
            self._strips = {n: v for n, v in self._strips.items() if n < old_count - 1}
        if self.show_timestamps and self._times is not None:
            self._times.refresh()
        self.refresh()

    def _sync_size(self) -> None:
        size = Size(self._max_width, self.line_count)
        if size != self.virtual_size:
            self.virtual_size = size

    def _invalidate(self) -> None:
        self._lines.clear()
        self._strips.clear()
        self._max_width = 0

    def _update_subtitle(self) -> None:
        index = self._index
        if index is None:
            return
        count = index.line_count
        lines = f"{count:,} line{'' if count == 1 else 's'}"
        if self._tail is not None:
            lines = f"indexing {index.size_indexed / max(1, index.size):.0%}"
        parts = ("following" if self.following else "paused", lines, self.hits.describe())
        subtitle = " · ".join(part for part in parts if part)
        if subtitle != self._subtitle:
            self._subtitle = subtitle
            self.border_subtitle = plain(subtitle)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style = None
        self._strips.clear()  # cached strips carry the old colours

    @property
    def _base_style(self) -> Style:
        # `rich_style` walks the ancestors' CSS: far too slow to ask for every row.
        if self._style is None:
            self._style = self.rich_style
        return self._style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        strip = self._strip(scroll_y + y)
        return strip.crop_extend(scroll_x, scroll_x + width, self._base_style)

    def _strip(self, number: int) -> Strip:
        cached = self._strips.get(number)
        if cached is not None:
            return cached
        line = self._line(number)
        if line is None:
            return Strip.blank(0)
        marked = self._tail is None and number in self.hits  # hits count lines from the top
        if line.isprintable() and not marked and not self.show_timestamps:
            # Most lines are plain text: one segment, without building and rendering a Text.
            strip = Strip([Segment(line, self._base_style)], cell_len(line))
            return self._keep(number, strip)
        text = _to_text(line)
        if marked:
            match = self.get_component_rich_style("log-view--match")
            text.highlight_words([self.hits.pattern], match, case_sensitive=False)
            if self.hits.is_current(number):
                text.stylize(self.get_component_rich_style("log-view--current"))
        if self.show_timestamps:
            style = self.get_component_rich_style("log-view--timestamp")
            text = Text.assemble((self._stamp(number).ljust(STAMP_WIDTH), style), text)
        strip = Strip(list(text.render(self.app.console))).apply_style(self._base_style)
        return self._keep(number, strip)

    def _keep(self, number: int, strip: Strip) -> Strip:
        self._max_width = max(self._max_width, strip.cell_length)
        if len(self._strips) >= CACHE_LINES:
            self._strips.clear()
        self._strips[number] = strip
        return strip

    def _line(self, number: int) -> str | None:
        if self._tail is not None:
            return self._tail[number] if 0 <= number < len(self._tail) else None
        line = self._lines.get(number)
        if line is None and self._index is not None:
            # Read a page either side at once: painting asks line by line, top to bottom.
            height = max(1, self.size.height)
            start = max(0, number - height)
            if len(self._lines) >= CACHE_LINES:
                self._lines.clear()
            self._lines.update(enumerate(self._index.lines(start, number + 2 * height), start))
            line = self._lines.get(number)
        return line

    def _stamp(self, number: int) -> str:
        if self._tail is not None or self._index is None or self._times is None:
            return ""
        stamp = self._times.at(self._index.line_offset(number))
        return "" if stamp is None else self.time_format(stamp)

    def watch_following(self, following: bool) -> None:
        # Textual keeps an anchored view at its end at every layout, before it paints.
        self.anchor(following)
        self._update_subtitle()
        self.post_message(self.FollowChanged(self, following))

    def action_follow(self) -> None:
        self.following = True
        self.anchor()

    def action_scroll_end(self) -> None:
        self.action_follow()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        # Any way up (keys, wheel, scrollbar) pauses; a clamp to the end on resize does not.
        if new < old and round(new) < self.max_scroll_y:
            self.following = False

    def watch_show_timestamps(self, show: bool) -> None:
        if show and self._times is not None:
            self._times.refresh()
        self._invalidate()
        self.refresh()

    def action_search(self) -> None:
        self.app.push_screen(LogSearch(self.hits.pattern), self.search)

    def search(self, pattern: str | None) -> None:
        """Find `pattern` (plain text, any case) in the whole file, in a worker thread."""
        if pattern is None or self._index is None:
            return
        cancel = self.hits.start(pattern)
        self._strips.clear()
        self.refresh()
        if pattern:
            work = partial(self.hits.run, self._index, pattern, cancel)
            self._searcher = self.run_worker(work, "search", thread=True, exit_on_error=False)
        self._update_subtitle()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state == WorkerState.ERROR:
            self.notify(f"{self.path}: {worker.error}", title="Log", severity="error")
        if worker is not self._searcher or not worker.is_finished:
            return
        top = 0 if self._tail is not None else round(self.scroll_y)
        first = self.hits.finish(worker.result or [], top)
        if first is not None:
            self._goto(first)
        self._update_subtitle()

    def _goto(self, hit: int) -> None:
        self.hits.current = hit
        self.following = False
        self._strips.clear()
        self.refresh()
        if self._tail is not None:
            self._pending_hit = True  # hits are absolute line numbers: wait for the index
        else:
            middle = self.scrollable_content_region.height // 2
            y = max(0, self.hits.lines[hit] - middle)
            self.scroll_to(y=y, animate=False, force=True)
        self._update_subtitle()

    def action_next_hit(self) -> None:
        if (hit := self.hits.step(1)) is not None:
            self._goto(hit)

    def action_previous_hit(self) -> None:
        if (hit := self.hits.step(-1)) is not None:
            self._goto(hit)
