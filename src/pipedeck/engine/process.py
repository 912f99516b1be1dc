"""Running one action's script: its own process group, its log, its end.

The script runs under `bash -eo pipefail` in a new session, so the whole tree it starts shares
one process group. Output (stdout and stderr on one pipe, so their order is kept) is read in
chunks by a thread, appended to the log file as it arrives, and handed to a callback on the
event loop as whole lines. A timeout or a cancel sends SIGTERM to the group, waits a grace
period, then SIGKILL; when the script ends on its own, anything it left running in its group is
ended the same way, so no process of an action outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipedeck.engine import procfs
from pipedeck.store.logs import LogWriter

log = logging.getLogger(__name__)

READ_SIZE = 1 << 16
"""A pipe holds 64 KiB; reading that much at a time drains it in one call."""
MAX_PENDING_LINE = 1 << 20
"""A line longer than this is passed on in pieces rather than held in memory without end."""
KILL_WAIT = 5.0
"""Seconds to wait for a group to vanish after SIGKILL before reporting it and moving on."""


@dataclass(frozen=True, slots=True)
class ProcessResult:
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False


class _PipeReader(threading.Thread):
    """Copies the action's output pipe to its log, off the event loop.

    Reading and writing happen in this thread (both release the GIL), so a flood of output
    costs the event loop — and the console drawn on it — nothing. Only when someone wants
    the lines (`on_lines`) are whole-line batches handed to the loop, one per read.
    """

    def __init__(
        self,
        fd: int,
        log: LogWriter,
        on_lines: Callable[[bytes], None] | None,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(name=f"pipedeck-log-{fd}", daemon=True)
        self._fd = fd
        self._log = log
        self._on_lines = on_lines
        self._loop = loop
        self._stop_reading = threading.Event()
        self._pending = b""
        self.done: asyncio.Future[None] = loop.create_future()

    def stop(self) -> None:
        """Give up on the pipe (a daemon that left the group still holds it open)."""
        self._stop_reading.set()

    def run(self) -> None:
        try:
            self._copy()
        finally:
            os.close(self._fd)
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def _copy(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN | select.POLLHUP)
        ends_with_newline = True
        while not self._stop_reading.is_set():
            if not poller.poll(100):
                continue
            data = os.read(self._fd, READ_SIZE)
            if not data:
                break
            self._log.write(data)
            ends_with_newline = data.endswith(b"\n")
            if self._on_lines is not None:
                self._collect(data)
        # A last line without its newline is completed, in the file and for listeners.
        if not ends_with_newline:
            self._log.write(b"\n")
        if self._pending:
            self._emit(self._pending + b"\n")

    def _collect(self, data: bytes) -> None:
        cut = data.rfind(b"\n")
        if cut < 0:
            self._pending += data
            if len(self._pending) >= MAX_PENDING_LINE:
                self._emit(self._pending)
                self._pending = b""
            return
        head = data[: cut + 1]
        self._emit(self._pending + head if self._pending else head)
        self._pending = data[cut + 1 :]

    def _emit(self, chunk: bytes) -> None:
        assert self._on_lines is not None
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._on_lines, chunk)


def _group_alive(pgid: int) -> bool:
    """True while any process of the group is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(procfs.running_in_group(pgid)) if procfs.AVAILABLE else True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def _gone(pgid: int, within: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while _group_alive(pgid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def end_group(pgid: int, grace: float) -> None:
    """SIGTERM the group, give it `grace` seconds, then SIGKILL whatever is left."""
    if not _group_alive(pgid):
        return
    _signal_group(pgid, signal.SIGTERM)
    if await _gone(pgid, grace):
        return
    _signal_group(pgid, signal.SIGKILL)
    # A process in uninterruptible sleep (or one we may not signal) can outlive SIGKILL for a
    # while; say so rather than hang the run on it.
    if not await _gone(pgid, KILL_WAIT):
        survivors = procfs.running_in_group(pgid) if procfs.AVAILABLE else []
        log.warning("process group %d still has %s after SIGKILL", pgid, survivors or "members")


async def run_script(
    script: str,
    *,
    cwd: Path,
    env: Mapping[str, str],
    log_path: Path,
    on_lines: Callable[[bytes], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    timeout: float | None = None,
    cancel: asyncio.Event | None = None,
    grace: float = 5.0,
) -> ProcessResult:
    """Run `script` with bash; return once it and everything it started are gone."""
    loop = asyncio.get_running_loop()
    log = LogWriter(log_path)
    read_end, write_end = os.pipe()
    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                "bash",
                "--noprofile",
                "--norc",
                "-eo",
                "pipefail",
                "-c",
                script,
                stdin=subprocess.DEVNULL,
                stdout=write_end,
                stderr=write_end,
                cwd=cwd,
                env=dict(env),
                start_new_session=True,
            )
        finally:
            os.close(write_end)
    except BaseException:
        os.close(read_end)
        log.close()
        raise
    reader = _PipeReader(read_end, log, on_lines, loop)
    reader.start()
    try:
        pgid = proc.pid
        exited = asyncio.ensure_future(proc.wait())
        try:
            if on_start is not None:
                on_start(pgid)
            timed_out, cancelled = await _wait(exited, timeout, cancel)
        except BaseException:
            # The engine is stopping (or failed around us): the action's processes must not
            # outlive it, and the script is reaped so nothing is left half-closed.
            await asyncio.shield(_end_and_reap(pgid, grace, exited))
            raise
        # Stopped or finished, whatever is left in the group goes too.
        await end_group(pgid, grace)
        code = await exited
        # A daemon that left the group may still hold the pipe; do not wait on it forever.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(reader.done), 1.0)
    finally:
        reader.stop()
        await asyncio.shield(reader.done)
        log.close()
    return ProcessResult(exit_code=code, timed_out=timed_out, cancelled=cancelled)


async def _end_and_reap(pgid: int, grace: float, exited: asyncio.Future[int]) -> None:
    await end_group(pgid, grace)
    await exited


async def _wait(
    exited: asyncio.Future[int], timeout: float | None, cancel: asyncio.Event | None
) -> tuple[bool, bool]:
    """Wait for the process to exit, the timeout, or a cancel; say which of the latter two."""
    waiters: set[asyncio.Future[Any]] = {exited}
    cancel_task = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    if cancel_task is not None:
        waiters.add(cancel_task)
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if cancel_task is not None:
            cancel_task.cancel()
    if exited in done:
        return False, False
    if cancel_task is not None and cancel_task in done:
        return False, True
    return True, False
