"""Build output on a terminal keeps its colours and nothing else; to a pipe it is byte-exact."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

from tests.conftest import PIPEDECK, RepoMaker

NASTY = (
    r"red \033[31mR\033[0m title \033]0;pwned\007 clip \033]52;c;ZXZpbA==\007"
    r" up \033[1A\033[2K clear \033[2J\033[H bel \007 bs \010 link \033]8;;https://x\033\\L"
)

PIPELINE = f"""
name: ci
stages:
  - name: Build
    actions:
      - name: a
        kind: build
        run: printf '{NASTY}\\nprogress 1\\rprogress 2\\n'
"""


def on_a_terminal(cwd: Path, *args: str) -> str:
    """What `pipedeck ARGS` writes to its stdout when that is a terminal (stderr apart)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [*PIPEDECK, *args], cwd=cwd, stdout=follower, stderr=subprocess.PIPE
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        proc.communicate(timeout=120)
    finally:
        os.close(leader)
    # The terminal turns each newline into CR LF on the way out.
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_a_terminal_gets_colours_and_no_other_sequence(repo: RepoMaker) -> None:
    repo.pipeline(PIPELINE)
    repo.commit()
    printed = on_a_terminal(repo.root, "run", "ci")
    line = next(x for x in printed.splitlines() if x.startswith("Build/a | red"))
    assert line == ("Build/a | red \x1b[31mR\x1b[0m title  clip  up  clear  bel ␇ bs ␈ link L")
    assert "Build/a | progress 1\rprogress 2" in printed.split("\n")
    for name, shown in (
        ("logs", on_a_terminal(repo.root, "logs", "ci/1", "Build/a")),
        ("logs -f", on_a_terminal(repo.root, "logs", "ci/1", "Build/a", "--follow")),
    ):
        assert shown.splitlines()[0] == line.removeprefix("Build/a | "), name

    log = (repo.root / ".git/pipedeck/runs/ci/1/logs/Build/a.log").read_bytes()
    assert b"\x1b]0;pwned\x07" in log and b"\x1b[2J" in log  # the log keeps what was written
    piped = subprocess.run(
        [*PIPEDECK, "logs", "ci/1", "Build/a"], cwd=repo.root, capture_output=True, timeout=60
    )
    assert piped.stdout == log
    raw = on_a_terminal(repo.root, "logs", "ci/1", "Build/a", "--raw")
    assert raw.encode() == log.replace(b"\r\n", b"\n")
