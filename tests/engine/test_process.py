"""The process runner: chunked reading, long lines, process groups, timeout and cancel."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pipedeck.engine.process import run_script
from tests.conftest import gone

ENV = {"PATH": os.environ["PATH"]}


async def test_output_reaches_log_and_listener_as_whole_lines(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    result = await run_script(
        "seq 1 200000; printf 'no newline at end'",
        cwd=tmp_path,
        env=ENV,
        log_path=tmp_path / "a.log",
        on_lines=chunks.append,
    )
    assert result.exit_code == 0
    lines = b"".join(chunks).decode().splitlines()
    assert lines[0] == "1" and lines[199999] == "200000"
    assert lines[-1] == "no newline at end"
    assert all(c.endswith(b"\n") for c in chunks)
    # The log is line-oriented: an unterminated last line is completed there too, so a
    # message appended after it (a timeout notice) starts on its own line.
    log = (tmp_path / "a.log").read_bytes()
    assert log.endswith(b"200000\nno newline at end\n")
    assert log.count(b"\n") == 200001


async def test_a_one_megabyte_line_is_kept_whole(tmp_path: Path) -> None:
    chunks: list[bytes] = []
    script = "python3 -c \"import sys; sys.stdout.write('x' * (1 << 20) + '\\nafter\\n')\""
    result = await run_script(
        script, cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log", on_lines=chunks.append
    )
    assert result.exit_code == 0
    lines = b"".join(chunks).split(b"\n")
    assert lines[0] == b"x" * (1 << 20)
    assert lines[1] == b"after"
    assert (tmp_path / "a.log").stat().st_size == (1 << 20) + len("\nafter\n")


async def test_stderr_and_stdout_share_the_log_in_order(tmp_path: Path) -> None:
    await run_script(
        "echo out1; echo err1 >&2; echo out2",
        cwd=tmp_path,
        env=ENV,
        log_path=tmp_path / "a.log",
    )
    assert (tmp_path / "a.log").read_text() == "out1\nerr1\nout2\n"


async def test_bash_runs_with_errexit_and_pipefail(tmp_path: Path) -> None:
    result = await run_script(
        "false | cat; echo not reached", cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log"
    )
    assert result.exit_code == 1
    assert (tmp_path / "a.log").read_text() == ""


async def test_timeout_kills_the_whole_group_even_processes_ignoring_term(tmp_path: Path) -> None:
    script = """
    trap '' TERM
    (trap '' TERM; sleep 60) &
    echo $! > child.pid
    echo $$ > main.pid
    sleep 60
    """
    result = await run_script(
        script, cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log", timeout=0.5, grace=0.3
    )
    assert result.timed_out and not result.cancelled
    assert result.exit_code == -9  # TERM was ignored, so KILL ended it
    for name in ("child.pid", "main.pid"):
        assert gone(int((tmp_path / name).read_text()))


async def test_cancel_ends_the_group(tmp_path: Path) -> None:
    cancel = asyncio.Event()
    task = asyncio.create_task(
        run_script(
            "echo started; sleep 60 & echo $! > child.pid; wait",
            cwd=tmp_path,
            env=ENV,
            log_path=tmp_path / "a.log",
            cancel=cancel,
            grace=1.0,
        )
    )
    while not (tmp_path / "child.pid").exists() or not (tmp_path / "child.pid").read_text():
        await asyncio.sleep(0.02)
    cancel.set()
    result = await task
    assert result.cancelled
    assert gone(int((tmp_path / "child.pid").read_text()))
    assert (tmp_path / "a.log").read_text() == "started\n"


async def test_processes_left_behind_by_a_finished_script_are_ended(tmp_path: Path) -> None:
    result = await run_script(
        "(trap '' TERM; sleep 60) > /dev/null & echo $! > child.pid; echo done",
        cwd=tmp_path,
        env=ENV,
        log_path=tmp_path / "a.log",
        grace=0.3,
    )
    assert result.exit_code == 0
    assert gone(int((tmp_path / "child.pid").read_text()))


async def test_log_is_on_disk_while_the_action_still_runs(tmp_path: Path) -> None:
    task = asyncio.create_task(
        run_script(
            "echo first; touch ready; sleep 60",
            cwd=tmp_path,
            env=ENV,
            log_path=tmp_path / "a.log",
            timeout=5,
            cancel=(cancel := asyncio.Event()),
            grace=0.2,
        )
    )
    while not (tmp_path / "ready").exists():
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.05)
    assert (tmp_path / "a.log").read_text() == "first\n"
    cancel.set()
    await task


async def test_cancelling_the_task_ends_the_group(tmp_path: Path) -> None:
    task = asyncio.create_task(
        run_script(
            "sleep 60 & echo $! > child.pid; sleep 60",
            cwd=tmp_path,
            env=ENV,
            log_path=tmp_path / "a.log",
            grace=0.3,
        )
    )
    while not (tmp_path / "child.pid").exists() or not (tmp_path / "child.pid").read_text():
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert gone(int((tmp_path / "child.pid").read_text()))
