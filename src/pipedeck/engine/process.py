"""Running one action's script: its own process tree, its log, its end.

The script runs under `bash -eo pipefail`, as the only child of a reaper (`reaper.py`) in a new
session. The reaper is a child subreaper, so every process the script starts stays below it
whatever it does to its session, group or environment; when the script ends, or on a timeout
or cancel (SIGTERM to the reaper), or when the engine dies, the reaper sends SIGTERM to all of
them, waits a grace period, SIGKILLs what is left, and exits with the script's status. Two nets
stay under it: the action's process group is signalled, and any process still carrying the
action's marker in its environment (one that got out from under a killed reaper) is killed.
Where Linux's subreaper is not available, the process group alone is what is ended.

Output (stdout and stderr on one pipe, so their order is kept) is read in chunks straight from
the pipe, appended to the log file as it arrives, and handed to a callback as whole lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipedeck.engine import procfs
from pipedeck.engine.masking import Masker
from pipedeck.engine.spawner import Spawner
from pipedeck.engine.sweep import REAPER, end_marked, signal_group
from pipedeck.store.logs import LogWriter

logger = logging.getLogger(__name__)

MAX_PENDING_LINE = 1 << 20
"""A line longer than this is passed on in pieces rather than held in memory without end."""
KILL_WAIT = 5.0
"""Seconds to wait for a group to vanish after SIGKILL before reporting it and moving on."""
SUBREAPER = sys.platform.startswith("linux") and procfs.AVAILABLE
"""The reaper needs Linux's PR_SET_CHILD_SUBREAPER and /proc."""


@dataclass(frozen=True, slots=True)
class ProcessResult:
    exit_code: int | None
    timed_out: bool = False
    cancelled: bool = False
    write_error: OSError | None = None
    """The log could not be written (a full disk), so the action was ended."""


class _Reader(asyncio.SubprocessProtocol):
    """Writes each chunk to the log at once; forwards complete lines to `on_lines`."""

    def __init__(
        self,
        log: LogWriter,
        on_lines: Callable[[bytes], None] | None,
        masker: Masker | None = None,
    ) -> None:
        self._log = log
        self._on_lines = on_lines
        self._masker = masker
        self.write_error: OSError | None = None
        """Why the log stopped taking output (a full disk): the action is ended for it."""
        self._pending = b""
        self._ends_with_newline = True
        self.exited = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.unwritable: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        # Secrets are masked before anything sees the output: file, events, panes.
        if self._masker is not None:
            data = self._masker.feed(data)
        if data:
            self._take(data)

    def _take(self, data: bytes) -> None:
        if self.write_error is not None:
            return  # what cannot be kept is not passed on either
        try:
            self._log.write(data)
        except OSError as exc:
            self.write_error = exc
            if not self.unwritable.done():
                self.unwritable.set_result(None)
            return
        self._ends_with_newline = data.endswith(b"\n")
        if self._on_lines is None:
            return
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
        self._on_lines(chunk)

    def flush(self) -> None:
        """End of output: a last line without its newline is completed, in file and event."""
        if self._masker is not None and (rest := self._masker.flush()):
            self._take(rest)
        if not self._ends_with_newline and self.write_error is None:
            with contextlib.suppress(OSError):
                self._log.write(b"\n")
            self._ends_with_newline = True
        if self._pending and self._on_lines is not None:
            self._emit(self._pending + b"\n")
        self._pending = b""

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _group_alive(pgid: int) -> bool:
    """True while any process of the group is still running (zombies do not count)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return bool(procfs.running_in_group(pgid)) if procfs.AVAILABLE else True


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
    signal_group(pgid, signal.SIGTERM)
    if await _gone(pgid, grace):
        return
    signal_group(pgid, signal.SIGKILL)
    # A process in uninterruptible sleep (or one we may not signal) can outlive SIGKILL for a
    # while; say so rather than hang the run on it.
    if not await _gone(pgid, KILL_WAIT):
        survivors = procfs.running_in_group(pgid) if procfs.AVAILABLE else []
        logger.warning("process group %d still has %s after SIGKILL", pgid, survivors or "members")


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
    spawn_lock: asyncio.Lock | None = None,
    marker: str | None = None,
    masker: Masker | None = None,
) -> ProcessResult:
    """Run `script` with bash; return once it and everything it started are gone.

    `marker` is a `NAME=value` entry of `env` that only this action's processes carry: any
    still alive after the tree is ended are killed by it.
    """
    loop = asyncio.get_running_loop()
    log = LogWriter(log_path)
    try:
        async with spawn_lock or contextlib.nullcontext():
            transport, reader = await _spawn(loop, log, on_lines, script, cwd, env, grace, masker)
        pid = transport.get_pid()
        try:
            if on_start is not None:
                on_start(pid)
            timed_out, cancelled = await _wait(reader.exited, timeout, cancel, reader.unwritable)
        except BaseException:
            # The engine is stopping (or failed around us): the action's processes must not
            # outlive it, and the script is reaped so nothing is left half-closed.
            await asyncio.shield(_end(transport, grace, reader.exited, marker))
            transport.close()
            raise
        try:
            # Stopped or finished, whatever is left goes too.
            await _end(transport, grace, reader.exited, marker)
            # A process that got away may still hold the pipe; do not wait on it forever.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader.closed), 1.0)
            reader.flush()
            code = transport.get_returncode()
        finally:
            transport.close()
    finally:
        log.close()
    return ProcessResult(code, timed_out, cancelled, reader.write_error)


async def _spawn(
    loop: asyncio.AbstractEventLoop,
    log: LogWriter,
    on_lines: Callable[[bytes], None] | None,
    script: str,
    cwd: Path,
    env: Mapping[str, str],
    grace: float,
    masker: Masker | None,
) -> tuple[asyncio.SubprocessTransport | _Served, _Reader]:
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script]
    if SUBREAPER and (spawner := Spawner.shared()) is not None:
        try:
            served = _spawn_served(spawner, loop, log, on_lines, command, cwd, env, grace, masker)
            return await served
        except OSError as exc:
            logger.warning("the spawner failed, starting a reaper of its own: %s", exc)
    if SUBREAPER:
        # -I -S: the reaper is our own file and the standard library, nothing from the
        # environment (PYTHONPATH, site-packages) the action is given.
        reaper = [sys.executable, "-I", "-S", str(REAPER), repr(grace), str(os.getpid())]
        command = reaper + command
    return await loop.subprocess_exec(
        lambda: _Reader(log, on_lines, masker),
        *command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
    )


class _Served:
    """An action the spawner started: what `run_script` asks of a subprocess transport."""

    def __init__(self, pid: int, pipe: asyncio.ReadTransport) -> None:
        self._pid = pid
        self._pipe = pipe
        self.returncode: int | None = None

    def get_pid(self) -> int:
        return self._pid

    def get_returncode(self) -> int | None:
        return self.returncode

    def close(self) -> None:
        self._pipe.close()


class _PipeProtocol(asyncio.Protocol):
    def __init__(self, reader: _Reader) -> None:
        self._reader = reader

    def data_received(self, data: bytes) -> None:
        self._reader.pipe_data_received(1, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._reader.connection_lost(exc)


async def _spawn_served(
    spawner: Spawner,
    loop: asyncio.AbstractEventLoop,
    log: LogWriter,
    on_lines: Callable[[bytes], None] | None,
    command: list[str],
    cwd: Path,
    env: Mapping[str, str],
    grace: float,
    masker: Masker | None,
) -> tuple[_Served, _Reader]:
    reader = _Reader(log, on_lines, masker)
    read_end, write_end = os.pipe()
    try:
        started = spawner.start(command, env, cwd, grace, write_end)
    except OSError:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)
    pipe, _ = await loop.connect_read_pipe(
        lambda: _PipeProtocol(reader), os.fdopen(read_end, "rb", buffering=0)
    )
    pid = await started.pid
    if pid < 0:
        pipe.close()
        raise OSError("the spawner stopped before starting the action")
    handle = _Served(pid, pipe)

    def ended(status: asyncio.Future[int | None]) -> None:
        value = status.result()
        handle.returncode = os.waitstatus_to_exitcode(value) if value is not None else None
        reader.process_exited()

    started.status.add_done_callback(ended)
    return handle, reader


async def _end(
    transport: asyncio.SubprocessTransport | _Served,
    grace: float,
    exited: asyncio.Future[None],
    marker: str | None,
) -> None:
    """End the tree under the session leader (the reaper, or bash without one)."""
    pid = transport.get_pid()
    if SUBREAPER and not exited.done():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # The reaper takes `grace`, then kills; only a wedged reaper makes us step in.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), grace + KILL_WAIT)
    if not SUBREAPER or not exited.done():
        # No reaper: the group is what there is to end. A wedged reaper: the group, with it.
        await end_group(pid, 0.0 if SUBREAPER else grace)
    await exited
    # A reaper that exited by itself left nothing below it. One that died of SIGKILL may
    # have been killed from inside, handing its tree on: end its group, and look for its
    # marker. So does every action where there is no reaper.
    killed = transport.get_returncode() == -signal.SIGKILL
    if SUBREAPER and killed:
        await end_group(pid, 0.0)
    if marker is not None and (not SUBREAPER or killed):
        await asyncio.to_thread(end_marked, marker)


async def _wait(
    exited: asyncio.Future[None],
    timeout: float | None,
    cancel: asyncio.Event | None,
    unwritable: asyncio.Future[None],
) -> tuple[bool, bool]:
    """Wait for the process to exit, the timeout, a cancel, or its log to fail; say whether
    it was the timeout or the cancel."""
    waiters: set[asyncio.Future[Any]] = {exited, unwritable}
    cancel_task = asyncio.ensure_future(cancel.wait()) if cancel is not None else None
    if cancel_task is not None:
        waiters.add(cancel_task)
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if cancel_task is not None:
            cancel_task.cancel()
    if exited in done or unwritable in done:
        return False, False
    if cancel_task is not None and cancel_task in done:
        return False, True
    return True, False
