"""Log files, their timing sidecar, and tailing."""

from __future__ import annotations

import time
from pathlib import Path

from pipedeck.store.logs import LogTail, LogTimes, LogWriter, times_path


def test_writer_records_when_each_chunk_arrived(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    writer = LogWriter(log)
    before = time.time()
    writer.write(b"one\ntwo\n")
    time.sleep(0.05)
    middle = time.time()
    writer.write(b"three\n")
    writer.close()
    assert log.read_bytes() == b"one\ntwo\nthree\n"
    assert times_path(log).stat().st_size == 32
    times = LogTimes(log)
    times.refresh()
    first, second = times.at(0), times.at(len(b"one\ntwo\n"))
    assert first is not None and second is not None
    assert before <= first < middle <= second
    assert times.at(4) == first  # "two" came in the first chunk


def test_a_reopened_writer_continues_the_offsets(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    for text in (b"first\n", b"second\n"):
        writer = LogWriter(log)
        writer.write(text)
        writer.close()
    times = LogTimes(log)
    times.refresh()
    assert times.at(len(b"first\n")) is not None
    assert times._offsets == [0, len(b"first\n")]


def test_tail_hands_out_complete_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    tail = LogTail(log)
    assert tail.read_new() == []
    log.write_bytes(b"a\nb")
    assert tail.read_new() == ["a"]
    with log.open("ab") as f:
        f.write(b"c\nd")
    assert tail.read_new() == ["bc"]
    assert tail.read_new(final=True) == ["d"]
