"""Nothing an action starts outlives it: daemons, cleared environments, ignored signals."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from pipedeck.engine.process import SUBREAPER, run_script
from tests.conftest import gone

pytestmark = pytest.mark.skipif(not SUBREAPER, reason="needs Linux's child subreaper")

MARKER = "PIPEDECK_ACTION_TOKEN=test-action"
ENV = {"PATH": os.environ["PATH"], "PIPEDECK_ACTION_TOKEN": "test-action"}

# Daemons of every kind an action might leave: each writes its pid to a file and sleeps.
# `setsid` (a session of its own), double-forked (its parent gone at once), an empty
# environment (no marker), SIGTERM ignored, and all of them at once.
DAEMONS = {
    "setsid": "setsid bash -c 'echo $$ > setsid.pid; exec sleep 60' &",
    "double": "( ( echo $BASHPID > double.pid; exec sleep 60 ) & ) ",
    "clean": "env -i /bin/bash -c 'echo $$ > clean.pid; exec sleep 60' &",
    "stubborn": "( trap '' TERM; echo $BASHPID > stubborn.pid; exec sleep 60 ) &",
    "all": (
        "setsid env -i /bin/bash -c "
        "'trap \"\" TERM; ( ( echo $BASHPID > all.pid; exec sleep 60 ) & ); sleep 60' &"
    ),
}


def pid_of(path: Path) -> int:
    return int(path.read_text())


async def until(path: Path) -> None:
    while not path.exists() or not path.read_text().endswith("\n"):
        await asyncio.sleep(0.02)


async def start_daemons(tmp_path: Path, then: str, **kwargs: object) -> list[int]:
    """Run a script that starts every daemon, waits for their pid files, then does `then`."""
    waits = " ".join(f"{name}.pid" for name in DAEMONS)
    script = "\n".join(
        [
            *DAEMONS.values(),
            f"for f in {waits}; do until [ -s $f ]; do sleep 0.01; done; done",
            then,
        ]
    )
    result = await run_script(
        script,
        cwd=tmp_path,
        env=ENV,
        log_path=tmp_path / "a.log",
        grace=0.3,
        marker=MARKER,
        **kwargs,  # type: ignore[arg-type]
    )
    pids = [pid_of(tmp_path / f"{name}.pid") for name in DAEMONS]
    assert len(set(pids)) == len(DAEMONS)
    return [result.exit_code or 0, *pids]


async def test_a_script_that_succeeds_leaves_no_daemon(tmp_path: Path) -> None:
    code, *pids = await start_daemons(tmp_path, "echo done")
    assert code == 0
    # run_script has returned: every one of them is already gone, none waited for.
    assert [pid for pid in pids if not gone(pid)] == []


async def test_a_script_that_fails_leaves_no_daemon(tmp_path: Path) -> None:
    code, *pids = await start_daemons(tmp_path, "exit 3")
    assert code == 3
    assert [pid for pid in pids if not gone(pid)] == []


async def test_a_timeout_leaves_no_daemon(tmp_path: Path) -> None:
    # The timeout is long enough for the daemons to start and short enough not to wait a minute.
    code, *pids = await start_daemons(tmp_path, "trap '' TERM; sleep 60", timeout=3.0)
    assert code == -9
    assert [pid for pid in pids if not gone(pid)] == []


async def test_a_cancel_leaves_no_daemon(tmp_path: Path) -> None:
    cancel = asyncio.Event()

    async def cancel_when_started() -> None:
        for name in DAEMONS:  # every one of them started before the cancel
            await until(tmp_path / f"{name}.pid")
        cancel.set()

    canceller = asyncio.create_task(cancel_when_started())
    code, *pids = await start_daemons(tmp_path, "sleep 60", cancel=cancel, timeout=60)
    await canceller
    assert code == -15
    assert [pid for pid in pids if not gone(pid)] == []


async def test_many_daemons_at_once_all_end(tmp_path: Path) -> None:
    script = """
    for i in $(seq 100); do
      setsid bash -c 'trap "" TERM; echo $$ >> many.pids; exec sleep 60' &
    done
    until [ "$(wc -l < many.pids)" -ge 100 ]; do sleep 0.01; done
    """
    result = await run_script(
        script, cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log", grace=0.2, marker=MARKER
    )
    assert result.exit_code == 0
    pids = [int(line) for line in (tmp_path / "many.pids").read_text().split()]
    assert len(pids) == 100
    assert [pid for pid in pids if not gone(pid)] == []


async def test_a_script_that_kills_its_reaper_still_leaves_nothing(tmp_path: Path) -> None:
    """The nets under the reaper: the spawner it leaves its tree to, the action's group, and
    the marker in the environment."""
    script = """
    setsid bash -c 'echo $$ > marked.pid; exec sleep 60' &
    ( echo $BASHPID > grouped.pid; exec sleep 60 ) &
    setsid env -i /bin/bash -c 'echo $$ > unmarked.pid; exec sleep 60' &
    until [ -s marked.pid ] && [ -s grouped.pid ] && [ -s unmarked.pid ]; do sleep 0.01; done
    kill -9 $PPID
    sleep 60
    """
    result = await run_script(
        script, cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log", grace=0.2, marker=MARKER
    )
    assert result.exit_code == -9
    for name in ("marked.pid", "grouped.pid"):
        assert gone(pid_of(tmp_path / name)), name
    # No marker, a session of its own: only the spawner knows it, and ends it at once.
    unmarked = pid_of(tmp_path / "unmarked.pid")

    async def ended() -> None:
        while not gone(unmarked):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(ended(), 30)


async def test_the_script_gets_exactly_the_environment_it_was_given(tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "ONLY": "this"}
    result = await run_script(
        "env -0 > env.out", cwd=tmp_path, env=env, log_path=tmp_path / "a.log"
    )
    assert result.exit_code == 0
    entries = (tmp_path / "env.out").read_bytes().split(b"\0")
    names = {entry.partition(b"=")[0].decode() for entry in entries if entry}
    # bash adds only its own; the reaper (a Python program) adds nothing, not even LC_CTYPE.
    assert names - {"PWD", "SHLVL", "_", "OLDPWD"} == {"PATH", "ONLY"}


async def test_the_script_keeps_default_signal_dispositions(tmp_path: Path) -> None:
    # Python ignores SIGPIPE for itself; a script must not inherit that: `yes` in `yes | head`
    # is ended by SIGPIPE (141), not left to complain of a broken pipe.
    result = await run_script(
        "grep SigIgn /proc/self/status > ignored; set +o pipefail; yes | head -1; "
        'echo "${PIPESTATUS[0]}" > status',
        cwd=tmp_path,
        env=ENV,
        log_path=tmp_path / "a.log",
    )
    assert result.exit_code == 0
    ignored = int((tmp_path / "ignored").read_text().split()[1], 16)
    # No standard signal is ignored (32 and 33 are the C library's own, set up by it).
    assert ignored & ((1 << 31) - 1) == 0, f"{ignored:x}"
    assert (tmp_path / "status").read_text() == "141\n"


async def test_a_script_killed_by_a_signal_is_reported_so(tmp_path: Path) -> None:
    result = await run_script("kill -SEGV $$", cwd=tmp_path, env=ENV, log_path=tmp_path / "a.log")
    assert result.exit_code == -11
    # The reaper died the script's death without leaving a core file of its own.
    assert not list(tmp_path.glob("core*"))
