"""Artifacts cannot be changed after they are made: sealed, checked on every use, as root too.

These run as whatever user runs the suite; where it is root (as here), read-only bits stop
nobody, so every check below holds by the manifest's hashes alone.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import stat
from pathlib import Path

import pytest

from pipedeck.engine import Engine
from pipedeck.engine.events import ApprovalRequested, Event
from pipedeck.engine.manifest import (
    ArtifactError,
    changed,
    hand_out,
    manifest_path,
    read_manifest,
    seal,
)
from pipedeck.store import RunRecord, Status
from tests.conftest import RepoMaker

ARTIFACTS = '"$PIPEDECK_REPO_ROOT/.git/pipedeck/runs/ci/$PIPEDECK_RUN_NUMBER/artifacts"'

SHIP = """
  - name: Ship
    actions:
      - name: deploy
        kind: deploy
        inputs: [app]
        run: cat bin/app > "$PIPEDECK_REPO_ROOT/shipped"
"""
BUILD = """
  - name: Build
    actions:
      - name: make
        kind: build
        outputs: [app]
        run: |
          mkdir "$PIPEDECK_OUTPUT_APP/bin"
          printf 'genuine\\n' > "$PIPEDECK_OUTPUT_APP/bin/app"
          chmod 755 "$PIPEDECK_OUTPUT_APP/bin/app"
          ln -s bin/app "$PIPEDECK_OUTPUT_APP/current"
"""


def statuses(engine: Engine, run: RunRecord) -> dict[str, tuple[Status, str | None]]:
    detail = engine.project.store.detail(run)
    return {a.action.name: (a.action.status, a.action.error) for _, a in detail.actions()}


async def test_an_action_that_rewrites_its_input_fails_and_the_deploy_never_runs(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
name: ci
stages:{BUILD}
  - name: Test
    actions:
      - name: tamper
        kind: test
        inputs: [app]
        run: |
          # The workspace is a private copy: writing there is fine.
          echo scratch > bin/app
          # The artifact itself: chmod first, as any user could; root would not even need to.
          chmod u+w {ARTIFACTS}/app/bin {ARTIFACTS}/app/bin/app
          printf 'evil!!\\n' > {ARTIFACTS}/app/bin/app
{SHIP}"""
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    found = statuses(engine, run)
    assert found["tamper"] == (
        Status.FAILED,
        "artifact 'app' was changed while this action ran: bin/app",
    )
    assert found["deploy"][0] is Status.SKIPPED
    assert not (repo.root / "shipped").exists()

    # Retried, the stage gets no copy of the changed artifact: the copy fails, file named.
    again = await engine.wait(await engine.retry(run))
    assert statuses(engine, again)["tamper"] == (
        Status.FAILED,
        "artifact 'app' was changed after it was made: bin/app (its size)",
    )
    assert not (repo.root / "shipped").exists()


async def test_a_change_made_while_the_run_waits_never_reaches_the_deploy(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        f"""
name: ci
stages:{BUILD}
  - name: Gate
    actions: [{{name: ok, kind: approval, timeout: 60s}}]
{SHIP}"""
    )
    repo.commit()
    asked = asyncio.Event()

    def listen(event: Event) -> None:
        if isinstance(event, ApprovalRequested):
            asked.set()

    engine.bus.subscribe(listen)
    run = await engine.start(engine.project.pipeline("ci"))
    await asyncio.wait_for(asked.wait(), 30)
    # Same size, same mode, by a process that is no action at all: only the hash tells.
    sealed = engine.project.store.layout(run).artifact("app") / "bin" / "app"
    with sealed.open("r+b") as f:
        f.write(b"evilish\n")
    engine.approve(run, "ship it")
    final = await engine.wait(run)
    assert final.status is Status.FAILED
    assert statuses(engine, final)["deploy"] == (
        Status.FAILED,
        "artifact 'app' was changed after it was made: bin/app (its contents)",
    )
    assert not (repo.root / "shipped").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
async def test_devices_fifos_and_a_replaced_output_directory_are_refused(
    repo: RepoMaker, engine: Engine, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    (outside / "keep.txt").chmod(0o644)
    repo.pipeline(
        f"""
name: ci
stages:
  - name: Build
    actions:
      - name: device
        kind: build
        outputs: [dev]
        run: mknod "$PIPEDECK_OUTPUT_DEV/zero" c 1 5
      - {{name: fifo, kind: build, outputs: [fifo], run: 'mkfifo "$PIPEDECK_OUTPUT_FIFO/pipe"'}}
      - name: collected-fifo
        kind: build
        outputs: [{{name: got, paths: [pipe]}}]
        run: mkfifo pipe
      - name: swap
        kind: build
        outputs: [swapped]
        run: rmdir "$PIPEDECK_OUTPUT_SWAPPED" && ln -s {outside} "$PIPEDECK_OUTPUT_SWAPPED"
"""
    )
    repo.commit()
    run = await asyncio.wait_for(engine.run(engine.project.pipeline("ci")), 60)
    found = statuses(engine, run)
    tail = "; an artifact holds only files, directories and symlinks inside it"
    assert found["device"] == (Status.FAILED, "zero is a character device" + tail)
    assert found["fifo"] == (Status.FAILED, "pipe is a FIFO" + tail)
    assert found["collected-fifo"] == (Status.FAILED, "pipe is not a regular file" + tail)
    assert found["swap"] == (
        Status.FAILED,
        "the output directory swapped was replaced by a symlink; refused",
    )
    # Nothing outside lost its write bits; no half-made artifact is left to use.
    assert (outside / "keep.txt").stat().st_mode & 0o777 == 0o644
    assert outside.stat().st_mode & stat.S_IWUSR
    for name in ("dev", "fifo", "got", "swapped"):
        artifact = engine.project.store.layout(run).artifact(name)
        assert not artifact.exists() and not manifest_path(artifact).exists()


def test_a_sealed_artifact_records_every_entry_and_notices_any_change(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    (staging / "sub").mkdir(parents=True)
    (staging / "sub" / "a.txt").write_text("alpha\n")
    (staging / "run.sh").write_text("#!/bin/sh\n")
    (staging / "run.sh").chmod(0o755)
    (staging / "link").symlink_to("sub/a.txt")
    final = tmp_path / "app"
    seal(staging, final)
    entries = {e.path: (e.kind, e.size, e.mode, e.target) for e in read_manifest(final)}
    assert entries == {
        "sub": ("dir", 0, 0o555, ""),
        "sub/a.txt": ("file", 6, 0o444, ""),
        "run.sh": ("file", 10, 0o555, ""),
        "link": ("link", 0, 0o777, "sub/a.txt"),
    }
    (file_entry,) = [e for e in read_manifest(final) if e.path == "sub/a.txt"]
    assert file_entry.sha256 == hashlib.sha256(b"alpha\n").hexdigest()
    assert changed(final) is None

    copy = tmp_path / "copy"
    hand_out(final, copy, writable=False)
    assert (copy / "link").read_text() == "alpha\n"
    assert not (copy / "sub" / "a.txt").stat().st_mode & 0o222

    # An added file, a chmod, and a removed manifest (a crash before it was written).
    (final / "sub").chmod(0o755)
    (final / "sub" / "new.txt").write_text("x")
    assert changed(final) == "sub/new.txt"
    manifest_path(final).unlink()
    with pytest.raises(ArtifactError, match="was never finished"):
        hand_out(final, tmp_path / "again", writable=True)


def test_links_that_leave_the_artifact_are_refused_however_they_are_written(
    tmp_path: Path,
) -> None:
    # From sub/: absolute, plainly up and out, out by way of a name, out through a link
    # (`d` is `..`, so `d/../..` looks like two steps up from sub but is three).
    for target in ("/etc/hostname", "../../outside", "../sub/../../outside", "d/../.."):
        staging = tmp_path / "staging"
        (staging / "sub").mkdir(parents=True)
        (staging / "sub" / "d").symlink_to("..")
        (staging / "sub" / "bad").symlink_to(target)
        with pytest.raises(ArtifactError, match="outside the artifact"):
            seal(staging, tmp_path / "app")
        assert not (tmp_path / "app").exists()
        shutil.rmtree(staging)
