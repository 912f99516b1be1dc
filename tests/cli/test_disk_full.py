"""A full disk: the writing action ends, the run is recorded failed in one line, the log stays.

The state directory sits on a small tmpfs of its own (mounting needs root), so the disk that
fills up is a real one and nothing else on the machine notices.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PIPEDECK, RepoMaker, run_cli

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")

FLOOD = """
name: ci
stages:
  - name: Build
    actions:
      - {name: flood, kind: build, run: 'seq 1 100000000'}
      - {name: quiet, kind: build, run_order: 2, run: 'echo never'}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_fails_the_run_at_once_in_one_line(repo: RepoMaker, small_disk: Path) -> None:
    repo.pipeline(FLOOD)
    repo.commit()
    state = small_disk / "state"
    done = subprocess.run(
        [*PIPEDECK, "--state-dir", str(state), "run", "ci"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if "no space left" in line]
    assert said == [
        "<-- Build/flood failed: no space left on device: its log could not be written",
        "==> ci/1 failed (Build/flood: no space left on device: its log could not be written)",
    ]
    listed = run_cli("--state-dir", str(state), "show", "ci/1", "--json", cwd=repo.root)
    detail = json.loads(listed.stdout)
    assert detail["status"] == "failed"
    flood, quiet = detail["stages"][0]["actions"]
    assert (flood["status"], flood["error"]) == (
        "failed",
        "no space left on device: its log could not be written",
    )
    assert quiet["status"] == "skipped"
    # What was written before the disk filled is kept, whole lines from the first.
    log = (state / "runs/ci/1/logs/Build/flood.log").read_bytes()
    assert len(log) > 1_000_000
    assert log.startswith(b"1\n2\n3\n")
