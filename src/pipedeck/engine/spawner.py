"""The engine's side of the spawner (`reaper.py --serve`): actions started without starting
Python each time.

One spawner serves the whole engine process, whatever event loops come and go in it: a
daemon thread starts it (so its PDEATHSIG is tied to a thread that lives as long as the
process) and reads its replies, handing each to the loop that asked. A request sends the
command, environment and directory, with the write end of the action's output pipe attached;
the replies are the reaper's pid, then its wait status.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger(__name__)

REAPER = Path(__file__).with_name("reaper.py")
START_WAIT = 10.0
_PYTHON = (sys.executable, "-I", "-S")


@dataclass
class Started:
    """One action asked of the spawner: its reaper's pid, then how it ended."""

    loop: asyncio.AbstractEventLoop
    pid: asyncio.Future[int]
    status: asyncio.Future[int | None] = field(init=False)

    def __post_init__(self) -> None:
        self.status = self.loop.create_future()


class Spawner:
    _shared: ClassVar[Spawner | None] = None
    _guard: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def shared(cls) -> Spawner | None:
        """The process's spawner, started on first use (again if it died); None if it
        cannot be started here."""
        with cls._guard:
            if cls._shared is None or not cls._shared.alive:
                try:
                    cls._shared = cls()
                except OSError as exc:
                    log.warning("cannot start the spawner, starting reapers one by one: %s", exc)
                    cls._shared = None
            return cls._shared

    def __init__(self) -> None:
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._asked: dict[int, Started] = {}
        self._running: dict[int, Started] = {}
        self._started = threading.Event()
        self._error: OSError | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self.alive = True
        threading.Thread(
            target=self._serve, args=(theirs,), name="pipedeck-spawner", daemon=True
        ).start()
        self._started.wait(START_WAIT)
        if self._error is not None or not self._started.is_set():
            self.alive = False
            raise self._error or OSError("the spawner did not start")

    def start(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, grace: float, out: int
    ) -> Started:
        """Ask for an action; `out` (the output pipe's write end) is the caller's to close."""
        loop = asyncio.get_running_loop()
        started = Started(loop, loop.create_future())
        request = {"argv": argv, "env": dict(env), "cwd": str(cwd), "grace": grace}
        with self._lock:
            request["id"] = ident = next(self._ids)
            self._asked[ident] = started
        fds = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [out]))]
        try:
            self._sock.sendmsg([json.dumps(request).encode()], fds)
        except OSError:
            with self._lock:
                self._asked.pop(ident, None)
            self.alive = False
            raise
        return started

    def _serve(self, theirs: socket.socket) -> None:
        try:
            # Kept: the spawner lives as long as this process.
            self._proc = subprocess.Popen(
                [*_PYTHON, str(REAPER), "--serve", str(os.getpid()), str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        except OSError as exc:
            self._error = exc
            return
        finally:
            theirs.close()
            self._started.set()
        while True:
            try:
                data = self._sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            self._dispatch(json.loads(data))
        # The spawner is gone (killed): nobody will say how its actions ended.
        self.alive = False
        with self._lock:
            lost = [*self._asked.values(), *self._running.values()]
            self._asked.clear()
            self._running.clear()
        for started in lost:
            _settle(started.loop, started.pid, -1)
            _settle(started.loop, started.status, None)

    def _dispatch(self, message: dict[str, Any]) -> None:
        with self._lock:
            if "started" in message:
                started = self._asked.pop(message["id"])
                self._running[message["started"]] = started
                _settle(started.loop, started.pid, message["started"])
                return
            started_or_none = self._running.pop(message["pid"], None)
        if started_or_none is not None:
            _settle(started_or_none.loop, started_or_none.status, message["status"])


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any], value: Any) -> None:
    def set_it() -> None:
        if not future.done():
            future.set_result(value)

    # A loop that closed meanwhile has nobody waiting any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(set_it)
