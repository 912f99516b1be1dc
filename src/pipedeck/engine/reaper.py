"""The parent of every action's script: it ends the whole tree the script started.

Run as its own small program (`python -I -S reaper.py GRACE PARENT COMMAND...`), so it imports
only the standard library. It makes itself a child subreaper (Linux `PR_SET_CHILD_SUBREAPER`):
every process the script starts, double-forked or `setsid`, stays its descendant whatever it
does to its session, group or environment, because an orphan is handed to the nearest
subreaper above it instead of to init. When the script ends, or when the engine asks (SIGTERM)
or dies (`PR_SET_PDEATHSIG`), it sends SIGTERM to every descendant, gives them GRACE seconds,
then SIGKILLs whatever is left until nothing is, and only then exits, with the script's own
status (a script killed by a signal makes the reaper die by the same signal). SIGUSR1 asks
for the same without the grace.
"""

from __future__ import annotations

# The C module, not `signal`: that one imports `enum`, which doubles this program's start-up,
# paid once per action.
import _signal as signal  # type: ignore[import-not-found]  # (no stubs)
import os
import sys
import time
from typing import NoReturn

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
NOW = signal.SIGUSR1
"""Asked of a reaper to end its tree without grace (a forced quit)."""
STOP = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, NOW}
DEFAULTED = tuple(sig for sig in range(1, 32) if sig not in (signal.SIGKILL, signal.SIGSTOP))
"""The standard signals a script starts with at their default disposition. Python ignores
SIGPIPE and SIGXFSZ for itself; `nohup` or a shell's background job leave SIGHUP, SIGINT and
SIGQUIT ignored, and an ignored signal survives exec. (33 and up belong to the C library.)"""
WATCHED = {signal.SIGCHLD, *STOP}


def _prctl(option: int, value: int) -> None:
    # `_ctypes` directly: importing `ctypes` costs this program more than the rest of its
    # start-up together. Where that private call is missing, `ctypes` does the same.
    try:
        import _ctypes

        call = _ctypes.call_function
        address = _ctypes.dlsym(_ctypes.dlopen(None, os.RTLD_NOW), "prctl")  # type: ignore[arg-type]
    except (ImportError, AttributeError):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        result = libc.prctl(option, value, 0, 0, 0)
    else:
        result = call(address, (option, value, 0, 0, 0))
    if result != 0:
        raise OSError(f"prctl({option}, {value}) failed")


def _original_environment() -> list[bytes]:
    """The environment this process was started with, as the kernel handed it over.

    Python may add to its own environment at start (`LC_CTYPE` under the C locale); the script
    must get exactly what the engine gave, so it is read back from /proc.
    """
    with open("/proc/self/environ", "rb") as f:
        return [entry for entry in f.read().split(b"\0") if entry]


def _descendants() -> list[int]:
    """Every process below this one (zombies included: they still need reaping)."""
    try:
        return _descendants_listed()
    except OSError:
        return _descendants_scanned()


def _descendants_listed() -> list[int]:
    # /proc/<pid>/task/<tid>/children: a few small reads instead of one per process.
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            tasks = [entry.name for entry in os.scandir(f"/proc/{pid}/task")]
        except FileNotFoundError:
            continue  # it ended meanwhile
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                    below = [int(p) for p in f.read().split()]
            except FileNotFoundError:
                continue
            found.extend(below)
            todo.extend(below)
    return found


def _descendants_scanned() -> list[int]:
    children: dict[int, list[int]] = {}
    with os.scandir("/proc") as entries:
        names = [entry.name for entry in entries if entry.name.isdigit()]
    for name in names:
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        parent = int(stat[stat.rfind(b")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(name))
    found: list[int] = []
    todo = [os.getpid()]
    while todo:
        below = children.get(todo.pop(), [])
        found.extend(below)
        todo.extend(below)
    return found


class Reaper:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.script = 0
        self.status: int | None = None

    def reap(self) -> None:
        """Collect every child that has ended; note the script's status when it is one."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.script:
                self.status = status

    def start(self, command: list[str], environment: list[bytes]) -> None:
        try:
            # posix_spawn (vfork and exec) costs a fraction of a fork of this process. The
            # script gets an empty signal mask and every signal's default disposition.
            self.script = os.posix_spawnp(
                command[0],
                command,
                _as_mapping(environment),
                setsigmask=(),
                setsigdef=DEFAULTED,
            )
        except OSError as exc:
            os.write(2, f"pipedeck: cannot start {command[0]}: {exc}\n".encode())
            self.status = 127 << 8  # as a shell reports a command it cannot run

    def wait_for_script(self) -> None:
        """Until the script ends, or someone asks us to stop."""
        while self.status is None:
            sig = signal.sigwait(WATCHED)
            if sig == NOW:
                self.grace = 0.0
            if sig in STOP:
                return
            self.reap()

    def end_everything(self) -> None:
        below = _descendants()
        for pid in below:
            _kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        while below:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            got = signal.sigtimedwait({signal.SIGCHLD, NOW}, min(left, 0.05))
            if got is not None and got.si_signo == NOW:
                break
            self.reap()
            below = _descendants()
        # Whatever ignored SIGTERM, or was started since, is killed until none is left.
        while below:
            for pid in below:
                _kill(pid, signal.SIGKILL)
            signal.sigtimedwait({signal.SIGCHLD}, 0.05)
            self.reap()
            below = _descendants()

    def run(self, command: list[str], environment: list[bytes], parent: int) -> NoReturn:
        """Run `command` to its end and everything below it after, then exit as it did."""
        try:
            # The parent may have died before PDEATHSIG was armed: nothing to run for then.
            if os.getppid() == parent:
                self.start(command, environment)
                self.wait_for_script()
            self.end_everything()
        except BaseException as exc:
            # Whatever went wrong here, nothing below may outlive us.
            os.write(2, f"pipedeck: the action's reaper failed: {exc!r}\n".encode())
            self.grace = 0.0
            self.end_everything()
            os._exit(125)
        self.exit()

    def exit(self) -> NoReturn:
        status = self.status if self.status is not None else 0
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            # Die the way the script died, so the engine sees the signal; no core file of ours.
            import resource  # only on this path: it costs start-up time

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            if sig != signal.SIGKILL:
                signal.signal(sig, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {sig})
            os.kill(os.getpid(), sig)
            os._exit(128 + sig)
        os._exit(os.waitstatus_to_exitcode(status))


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return


def _as_mapping(environment: list[bytes]) -> dict[bytes, bytes]:
    pairs = (entry.partition(b"=") for entry in environment)
    return {name: value for name, _, value in pairs}


def serve(parent: int, sock_fd: int) -> None:
    """`--serve`: the engine's spawner. One per engine process, started once, so no action
    pays for starting Python: each request forks a reaper from here (fork of a small
    single-threaded process is safe and quick) that runs the action as `main` would.

    Requests come over a SOCK_SEQPACKET socket as JSON with the output pipe's write end
    attached; replies say the reaper's pid, and later its wait status. The spawner is a
    subreaper too: anything left by a reaper that was killed comes to it, and is killed.
    """
    import array
    import json
    import select
    import socket

    sock = socket.socket(fileno=sock_fd)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os._exit(0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    reapers: set[int] = set()
    orphans = False

    def send(message: dict[str, object]) -> None:
        sock.send(json.dumps(message).encode())

    while True:
        ready, _, _ = select.select([sock.fileno(), wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    break
                if pid == 0:
                    break
                if pid in reapers:
                    reapers.discard(pid)
                    send({"pid": pid, "status": status})
                    # A reaper that ended by itself left nothing; one killed (from inside its
                    # action) handed its tree to us.
                    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
                    orphans = orphans or killed
                else:
                    orphans = True
            # Children that are no reaper of ours are what a killed reaper left: their
            # action is over, so they go too (and what they leave comes here next).
            if orphans:
                orphans = False
                for child in _children():
                    if child not in reapers:
                        _kill(child, signal.SIGKILL)
        if sock.fileno() in ready:
            fds = array.array("i")
            data, ancillary, _, _ = sock.recvmsg(1 << 20, socket.CMSG_LEN(fds.itemsize))
            if not data:
                os._exit(0)  # the engine is gone; each reaper's PDEATHSIG ends its action
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            request = json.loads(data)
            spawner = os.getpid()
            pid = os.fork()
            if pid == 0:
                sock.close()
                signal.set_wakeup_fd(-1)
                os.close(wake_r)
                os.close(wake_w)
                _run_requested(request, fds[0], spawner)
            os.close(fds[0])
            reapers.add(pid)
            send({"id": request["id"], "started": pid})


def _children() -> list[int]:
    me = str(os.getpid())
    found = []
    with os.scandir("/proc") as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rfind(b")") + 2 :].split()[1].decode() == me:
                found.append(int(entry.name))
    return found


def _run_requested(request: dict[str, object], out: int, parent: int) -> NoReturn:
    """In a reaper forked by the spawner: the action's session, its output, its script."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    reaper = Reaper(float(request["grace"]))  # type: ignore[arg-type]
    try:
        os.setsid()
        _prctl(PR_SET_CHILD_SUBREAPER, 1)
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        os.chdir(str(request["cwd"]))
        env = request["env"]
        assert isinstance(env, dict)
        environment = [f"{k}={v}".encode("utf-8", "surrogateescape") for k, v in env.items()]
        command = request["argv"]
        assert isinstance(command, list)
    except BaseException as exc:
        os.write(2, f"pipedeck: the action's reaper failed: {exc!r}\n".encode())
        os._exit(125)
    reaper.run([str(c) for c in command], environment, parent)


def main(argv: list[str]) -> None:
    if argv[1] == "--serve":
        serve(int(argv[2]), int(argv[3]))
        return
    grace, parent, command = float(argv[1]), int(argv[2]), argv[3:]
    environment = _original_environment()
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    Reaper(grace).run(command, environment, parent)


if __name__ == "__main__":
    main(sys.argv)
