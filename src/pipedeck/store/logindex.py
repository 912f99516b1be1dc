"""Random access by line number into a log that may be huge and may still be growing.

The index is sparse: for each fixed-size block of the file it keeps only the number of
newlines before the block, so a 500 MB log costs a few thousand integers. Reading line `i`
bisects to its block and reads just that region with `os.pread`; nothing holds the file's
text in memory. The end of a file can be read before (or without) indexing it, so a viewer
can show the tail of a big log at once while a worker thread builds the index.

Concurrency: one thread may index (`index_more`) while another reads (`lines`, `search`).
The index lists are only mutated under `_lock`; every `pread` happens under `_io_lock`, so
`close()` can never pull the descriptor out from under a read in another thread (a closed
index reads as empty, which every loop here treats as end of file).
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import AnyStr

BLOCK_SIZE = 64 * 1024
# Reads while indexing or searching: large enough for C-speed counting, small enough that a
# worker thread does not hold the GIL for long between syscalls.
READ_SIZE = 1024 * 1024
_NEWLINE_CACHE = 16


class LogIndex:
    """Line-numbered view of one log file; see the module docstring."""

    def __init__(self, path: Path, block_size: int = BLOCK_SIZE) -> None:
        if block_size < 1:
            raise ValueError("block_size must be positive")
        self.path = path
        self.block_size = block_size
        self._fd = -1
        self._closed = False
        self._lock = threading.Lock()  # guards the index fields below
        self._io_lock = threading.Lock()  # guards the descriptor
        self._index_lock = threading.Lock()  # one indexer at a time
        # _starts[k]: newlines in bytes [0, k * block_size); entries exist for every block
        # boundary up to _indexed.
        self._starts: list[int] = [0]
        self._newlines = 0
        self._indexed = 0
        self._ends_with_newline = True  # vacuously true for an empty prefix
        # Newline positions of recently read blocks: rendering a screen asks for the same
        # one or two blocks over and over. Keyed by (block, end read) so a block that was
        # partial when cached is simply read again once it has grown.
        self._block_cache: dict[int, tuple[int, bytes]] = {}
        """Block number -> (bytes read up to, those bytes) for recently read blocks."""
        self._open()

    # -- descriptor ---------------------------------------------------------------------

    def _open(self) -> bool:
        """Open the file if it exists yet: an action's log appears when the action starts."""
        if self._fd >= 0:
            return True
        if self._closed:
            return False
        try:
            self._fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        return True

    def _read(self, offset: int, length: int) -> bytes:
        with self._io_lock:
            if self._fd < 0 or length <= 0:
                return b""
            return os.pread(self._fd, length, offset)

    def close(self) -> None:
        with self._io_lock:
            self._closed = True
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def __enter__(self) -> LogIndex:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- state --------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Current size of the file on disk (0 while it does not exist)."""
        with self._io_lock:
            if self._fd < 0 and not self._open():
                return 0
            return os.fstat(self._fd).st_size

    @property
    def size_indexed(self) -> int:
        return self._indexed

    @property
    def complete(self) -> bool:
        return self._indexed >= self.size

    @property
    def line_count(self) -> int:
        """Lines in the indexed prefix; a last line without its newline counts."""
        with self._lock:
            return self._newlines + (0 if self._ends_with_newline else 1)

    # -- indexing -----------------------------------------------------------------------

    def index_more(self, max_bytes: int | None = None) -> bool:
        """Extend the index over bytes appended since the last call (at most `max_bytes`).

        Returns True if `line_count` changed. Safe to call from a worker thread.
        """
        with self._index_lock:
            if self._closed:
                return False
            before = self.line_count
            size = self.size
            if size < self._indexed:
                self._reset()  # truncated or replaced: start over
            target = size if max_bytes is None else min(size, self._indexed + max_bytes)
            block = self.block_size
            while self._indexed < target:
                pos = self._indexed
                data = self._read(pos, min(READ_SIZE, target - pos))
                if not data:
                    break
                if pos + len(data) < size and (last := data.rfind(b"\n")) >= 0:
                    # More of the file follows: publish whole lines only, so a reader never
                    # sees half a line that is complete on disk.
                    data = data[: last + 1]
                # Count per block so every block boundary crossed gets its entry, then
                # publish the whole read at once.
                starts: list[int] = []
                newlines = self._newlines
                cursor = 0
                while cursor < len(data):
                    boundary = (pos + cursor) // block * block + block
                    cut = min(len(data), boundary - pos)
                    newlines += data.count(b"\n", cursor, cut)
                    cursor = cut
                    if pos + cursor == boundary:
                        starts.append(newlines)
                with self._lock:
                    self._starts.extend(starts)
                    self._newlines = newlines
                    self._indexed = pos + len(data)
                    self._ends_with_newline = data.endswith(b"\n")
            return self.line_count != before

    def _reset(self) -> None:
        with self._lock:
            self._starts = [0]
            self._newlines = 0
            self._indexed = 0
            self._ends_with_newline = True
            self._block_cache = {}

    # -- reading by line ----------------------------------------------------------------

    def _block(self, k: int, end: int) -> tuple[int, bytes]:
        """Block `k`'s bytes up to `end`, kept for the next call (a growing last block is
        extended with only the new bytes)."""
        start = k * self.block_size
        with self._lock:
            cached = self._block_cache.get(k)
        data = cached[1] if cached is not None and cached[0] <= end else b""
        if cached is not None and cached[0] > end:
            return start, cached[1][: end - start]
        if start + len(data) < end:
            data += self._read(start + len(data), end - start - len(data))
            with self._lock:
                if len(self._block_cache) >= _NEWLINE_CACHE and k not in self._block_cache:
                    self._block_cache.clear()
                self._block_cache[k] = (start + len(data), data)
        return start, data

    def _newline_positions(self, k: int, end: int) -> list[int]:
        """Absolute offsets of the newlines in block `k`, read up to `end`."""
        start, data = self._block(k, end)
        positions: list[int] = []
        at = data.find(b"\n")
        while at >= 0:
            positions.append(start + at)
            at = data.find(b"\n", at + 1)
        return positions

    def _newline_offset(self, j: int) -> int:
        """Byte offset of the newline numbered `j` (0-based); must be indexed."""
        with self._lock:
            k = bisect_right(self._starts, j) - 1
            before = self._starts[k]
            end = min((k + 1) * self.block_size, self._indexed)
        start, data = self._block(k, end)
        n = j - before
        # Split at most n+1 times, in C: what is left after the split holds everything past
        # newline n, so its length says where that newline is. No Python loop per line.
        rest = data.split(b"\n", n + 1)[-1]
        return start + len(data) - len(rest) - 1

    def line_offset(self, i: int) -> int:
        """Byte offset where line `i` starts; `line_offset(line_count)` is the indexed end."""
        with self._lock:
            newlines, indexed = self._newlines, self._indexed
        if i <= 0:
            return 0
        if i > newlines:
            return indexed
        return self._newline_offset(i - 1) + 1

    def line_at(self, offset: int) -> int:
        """Number of the line holding byte `offset`, clamped to the indexed bytes."""
        with self._lock:
            offset = max(0, min(offset, self._indexed - 1))
            if offset <= 0:
                return 0
            k = offset // self.block_size
            before = self._starts[k]
            end = min((k + 1) * self.block_size, self._indexed)
        return before + bisect_left(self._newline_positions(k, end), offset)

    def lines(self, start: int, end: int) -> list[str]:
        """Lines `start` to `end` (exclusive), clamped to the indexed lines."""
        count = self.line_count
        start, end = max(0, start), min(end, count)
        if start >= end:
            return []
        first = self.line_offset(start)
        last = self.line_offset(end)
        parts = self._read(first, last - first).split(b"\n")
        return [_decode(part) for part in parts[: end - start]]

    def line(self, i: int) -> str:
        found = self.lines(i, i + 1)
        if not found:
            raise IndexError(i)
        return found[0]

    def tail_lines(self, n: int, end: int | None = None) -> list[str]:
        """The last `n` lines of the file as it is now (or of its first `end` bytes), read
        backwards from the end.

        Needs no index, so the end of a huge log can be shown before indexing finishes;
        `end` lets a caller that noted the size tie the lines to it while the file grows.
        """
        if n <= 0:
            return []
        end = self.size if end is None else min(end, self.size)
        pos = end
        data = b""
        # n lines need n newlines before them (n + 1 if the file ends with one).
        while pos > 0 and data.count(b"\n") <= n:
            step = min(pos, max(self.block_size, len(data)))
            pos -= step
            chunk = self._read(pos, step)
            if not chunk:
                break
            data = chunk + data
        if not data:
            return []
        parts = data.split(b"\n")
        if data.endswith(b"\n"):
            parts.pop()
        if pos > 0:
            parts = parts[1:]  # the first part may be a partial line
        return [_decode(part) for part in parts[-n:]]

    # -- search -------------------------------------------------------------------------

    def search(
        self,
        pattern: str,
        start_line: int = 0,
        progress: Callable[[float], None] | None = None,
        cancel: threading.Event | None = None,
        limit: int | None = None,
    ) -> list[int]:
        """Numbers of the lines, from `start_line` on, containing `pattern` (plain text,
        case-insensitive), scanning the file as it is now in whole-line chunks.

        `progress` gets the fraction scanned; a set `cancel` stops early with the hits so
        far; `limit` caps how many hits are collected.
        """
        if not pattern:
            return []
        # ASCII patterns compare lowered bytes (no decoding); others casefolded text.
        ascii_only = pattern.isascii()
        start_line = max(0, min(start_line, self.line_count))
        pos = first = self.line_offset(start_line)
        end = self.size
        line = start_line
        hits: list[int] = []
        while pos < end:
            if cancel is not None and cancel.is_set():
                break
            data = self._read(pos, min(READ_SIZE, end - pos))
            # Cut after the last newline so no line (nor a UTF-8 sequence) is split; a line
            # longer than one read is read whole.
            while pos + len(data) < end and b"\n" not in data:
                more = self._read(pos + len(data), min(READ_SIZE, end - pos - len(data)))
                if not more:
                    break
                data += more
            if not data:
                break
            if pos + len(data) < end:
                data = data[: data.rfind(b"\n") + 1]
            if ascii_only:
                line = _scan(data.lower(), pattern.lower().encode(), b"\n", line, hits, limit)
            else:
                text = data.decode("utf-8", "replace").casefold()
                line = _scan(text, pattern.casefold(), "\n", line, hits, limit)
            pos += len(data)
            if progress is not None:
                progress((pos - first) / max(1, end - first))
            if limit is not None and len(hits) >= limit:
                break
        if progress is not None:
            progress(1.0)
        return hits


def _scan(
    hay: AnyStr,
    needle: AnyStr,
    newline: AnyStr,
    line: int,
    hits: list[int],
    limit: int | None,
) -> int:
    """Append the lines of `hay` (starting at line number `line`) that contain `needle`;
    return the line number just past `hay`."""
    last = pos = 0
    while limit is None or len(hits) < limit:
        at = hay.find(needle, pos)
        if at < 0:
            break
        line += hay.count(newline, last, at)
        hits.append(line)
        last = hay.find(newline, at)
        if last < 0:
            return line
        pos = last
    return line + hay.count(newline, last)


def _decode(raw: bytes) -> str:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    return raw.decode("utf-8", errors="replace")
