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

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
NOW = signal.SIGUSR1
"""Asked of a reaper to end its tree without grace (a forced quit)."""
STOP = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, NOW}
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
        pid = os.fork()
        if pid == 0:
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                # Python ignores these for itself; the script gets the defaults back.
                for sig in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(sig, signal.SIG_DFL)
                os.execvpe(command[0], command, _as_mapping(environment))
            except BaseException as exc:
                os.write(2, f"pipedeck: cannot start {command[0]}: {exc}\n".encode())
            os._exit(127)
        self.script = pid

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

    def exit(self) -> None:
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


def main(argv: list[str]) -> None:
    grace, parent, command = float(argv[1]), int(argv[2]), argv[3:]
    environment = _original_environment()
    signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    reaper = Reaper(grace)
    try:
        # The engine may have died before PDEATHSIG was armed: then there is nothing to run for.
        if os.getppid() == parent:
            reaper.start(command, environment)
            reaper.wait_for_script()
        reaper.end_everything()
    except BaseException as exc:
        # Whatever went wrong here, nothing below may outlive us.
        os.write(2, f"pipedeck: the action's reaper failed: {exc!r}\n".encode())
        reaper.grace = 0.0
        reaper.end_everything()
        os._exit(125)
    reaper.exit()


if __name__ == "__main__":
    main(sys.argv)
