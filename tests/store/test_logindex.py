"""The sparse line index: lines by number, growth, tail-first reads and search."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import pytest

from pipedeck.store.logindex import LogIndex


def expected_lines(data: bytes) -> list[str]:
    """What a viewer should show: split on "\\n" only, one "\\r" dropped before it."""
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\n")
    if text.endswith("\n") or not text:
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def write(tmp_path: Path, data: bytes, name: str = "a.log") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def check_all(path: Path, data: bytes, block_size: int) -> None:
    want = expected_lines(data)
    with LogIndex(path, block_size=block_size) as index:
        index.index_more()
        assert index.complete
        assert index.size_indexed == len(data)
        assert index.line_count == len(want)
        assert index.lines(0, index.line_count) == want
        for i, line in enumerate(want):
            assert index.line(i) == line
        for n in (1, 2, 5, len(want) + 3):
            assert index.tail_lines(n) == want[-n:]


VARIED = {
    "empty": b"",
    "one newline": b"\n",
    "blank lines": b"\n\n\n",
    "no trailing newline": b"alpha\nbeta\ngamma",
    "single partial line": b"just one line",
    "crlf": b"one\r\ntwo\r\n\r\nthree\r\n",
    "crlf without final newline": b"one\r\ntwo",
    "utf-8": "h\u00e9llo\n\u65e5\u672c\u8a9e\n\U0001f680 launch\n".encode(),
}


@pytest.mark.parametrize("name", list(VARIED))
@pytest.mark.parametrize("block_size", [1, 3, 7, 64 * 1024])
def test_lines_match_a_plain_split(tmp_path: Path, name: str, block_size: int) -> None:
    data = VARIED[name]
    check_all(write(tmp_path, data), data, block_size)


@pytest.mark.parametrize("block_size", [5, 16, 4096])
def test_lines_straddling_block_boundaries(tmp_path: Path, block_size: int) -> None:
    rng = random.Random(block_size)
    data = b"".join(
        b"x" * rng.randrange(0, 3 * block_size) + rng.choice([b"\n", b"\r\n"]) for _ in range(300)
    )
    check_all(write(tmp_path, data), data, block_size)


def test_a_one_megabyte_line_spans_many_blocks(tmp_path: Path) -> None:
    big = b"0123456789abcdef" * 65536  # 1 MiB
    data = b"before\n" + big + b"\nafter\n" + big  # the last line has no newline
    path = write(tmp_path, data)
    with LogIndex(path, block_size=4096) as index:
        index.index_more()
        assert index.line_count == 4
        assert index.line(0) == "before"
        assert index.line(1) == big.decode()
        assert index.line(2) == "after"
        assert index.line(3) == big.decode()
        assert index.tail_lines(2) == ["after", big.decode()]
    check_all(path, data, 4096)


def test_a_growing_file_is_indexed_incrementally(tmp_path: Path) -> None:
    path = write(tmp_path, b"")
    with LogIndex(path, block_size=8) as index:
        assert index.line_count == 0 and index.complete
        assert index.index_more() is False
        written = b""
        for chunk in (b"par", b"tial", b" line\nsecond", b"\n", b"", b"x" * 40 + b"\nend"):
            with path.open("ab") as f:
                f.write(chunk)
            written += chunk
            assert not index.complete or not chunk
            changed = index.index_more()
            assert index.complete
            assert index.lines(0, index.line_count) == expected_lines(written)
            if chunk in (b"\n", b""):
                assert changed is False  # completing a line or nothing new keeps the count
        assert index.line(0) == "partial line"
        assert index.line(index.line_count - 1) == "end"


def test_index_more_respects_max_bytes(tmp_path: Path) -> None:
    data = b"".join(b"line %d\n" % i for i in range(1000))
    path = write(tmp_path, data)
    with LogIndex(path, block_size=64) as index:
        steps = 0
        while index.index_more(max_bytes=500):
            steps += 1
            assert index.size_indexed <= 500 * steps
            assert index.lines(0, index.line_count) == expected_lines(data[: index.size_indexed])
        assert index.complete and index.line_count == 1000
        assert steps == -(-len(data) // 500)


def test_a_missing_file_reads_as_empty_until_it_appears(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    with LogIndex(path) as index:
        assert index.size == 0 and index.tail_lines(3) == []
        assert index.index_more() is False
        path.write_bytes(b"hello\n")
        assert index.index_more() is True
        assert index.lines(0, 5) == ["hello"]


def test_tail_lines_need_no_index(tmp_path: Path) -> None:
    data = b"".join(b"row %d\n" % i for i in range(10_000))
    with LogIndex(write(tmp_path, data), block_size=128) as index:
        assert index.tail_lines(3) == ["row 9997", "row 9998", "row 9999"]
        assert index.size_indexed == 0 and index.line_count == 0
        assert index.tail_lines(0) == []


def test_line_offset_points_at_each_line(tmp_path: Path) -> None:
    data = b"a\nbb\r\n\nccc\ndd"
    with LogIndex(write(tmp_path, data), block_size=2) as index:
        index.index_more()
        offsets = [index.line_offset(i) for i in range(index.line_count)]
        assert offsets == [0, 2, 6, 7, 11]
        assert index.line_offset(index.line_count) == len(data)


def test_indexing_in_a_thread_while_reading(tmp_path: Path) -> None:
    data = b"".join(b"entry %06d\n" % i for i in range(200_000))
    with LogIndex(write(tmp_path, data), block_size=1024) as index:
        worker = threading.Thread(target=lambda: index.index_more())
        worker.start()
        while worker.is_alive():
            count = index.line_count
            if count:
                assert index.line(count - 1) == f"entry {count - 1:06d}"
        worker.join()
        assert index.line_count == 200_000


def test_invalid_utf8_is_replaced(tmp_path: Path) -> None:
    data = b"ok\n\xff\xfebad\nhalf \xe2\x82\n"
    with LogIndex(write(tmp_path, data)) as index:
        index.index_more()
        assert index.lines(0, 3) == ["ok", "\ufffd\ufffdbad", "half \ufffd"]
        assert index.search("bad") == [1]


def test_search_finds_lines_case_insensitively(tmp_path: Path) -> None:
    lines = [f"step {i}: {'ERROR disk full' if i % 250 == 7 else 'ok'}" for i in range(5000)]
    lines[4999] = "Last line mentions error without newline"
    data = "\n".join(lines).encode()
    seen: list[float] = []
    with LogIndex(write(tmp_path, data), block_size=256) as index:
        index.index_more()
        hits = index.search("error", progress=seen.append)
        assert hits == [i for i, line in enumerate(lines) if "error" in line.lower()]
        assert seen[-1] == 1.0 and seen == sorted(seen)
        assert index.search("error", start_line=1000) == [h for h in hits if h >= 1000]
        assert index.search("error", limit=3) == hits[:3]
        assert index.search("") == []
        assert index.search("not there") == []


def test_search_non_ascii_and_long_lines(tmp_path: Path) -> None:
    long = "x" * 3_000_000 + "Needle" + "y" * 10
    lines = ["Stra\u00dfe", "plain", long, "STRASSE", "\u00c9t\u00e9 \u00e9t\u00e9"]
    data = "\n".join(lines).encode() + b"\n"
    with LogIndex(write(tmp_path, data)) as index:
        index.index_more()
        assert index.search("needle") == [2]
        assert index.search("stra\u00dfe") == [0, 3]  # casefold: sharp s matches "ss"
        assert index.search("\u00c9T\u00c9") == [4]


def test_search_can_be_cancelled(tmp_path: Path) -> None:
    data = b"match\n" * 1_000_000  # several reads
    cancel = threading.Event()
    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        cancel.set()

    with LogIndex(write(tmp_path, data)) as index:
        index.index_more()
        hits = index.search("MATCH", progress=progress, cancel=cancel)
        assert 0 < len(hits) < 1_000_000
        assert hits == list(range(len(hits)))
        assert seen[0] < 1.0


def test_a_closed_index_reads_as_empty(tmp_path: Path) -> None:
    index = LogIndex(write(tmp_path, b"one\ntwo\n"))
    index.index_more()
    index.close()
    assert index.index_more() is False
    assert index.tail_lines(1) == []
    assert index.search("one") == []
    index.close()  # idempotent


def test_line_at_maps_offsets_back_to_lines(tmp_path: Path) -> None:
    data = b"a\nbb\r\n\nccc\ndd"
    with LogIndex(write(tmp_path, data), block_size=3) as index:
        index.index_more()
        owners = [index.line_at(offset) for offset in range(len(data))]
        want = [i for i, line in enumerate(data.split(b"\n")) for _ in range(len(line) + 1)]
        assert owners == want[: len(data)]
        assert index.line_at(10_000) == 4


def test_tail_lines_up_to_a_noted_size(tmp_path: Path) -> None:
    path = write(tmp_path, b"one\ntwo\nthree\n")
    with LogIndex(path) as index:
        noted = index.size
        with path.open("ab") as f:
            f.write(b"four\nfi")
        assert index.tail_lines(2, end=noted) == ["two", "three"]
        assert index.tail_lines(2) == ["four", "fi"]
        assert index.tail_lines(2, end=6) == ["one", "tw"]
