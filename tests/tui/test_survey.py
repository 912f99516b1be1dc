"""The console's reading thread: what it notices, and what cannot hold it (or the console) up."""

from __future__ import annotations

import asyncio
import os
import threading
import time

from pipedeck.engine import Client
from pipedeck.tui.control import Control
from pipedeck.tui.survey import Survey
from tests.conftest import RepoMaker
from tests.tui.conftest import CI


def survey_of(repo: RepoMaker) -> tuple[Client, Survey]:
    client = Client.open(repo.root)
    return client, Survey(client.root, client.pipelines_dir, client.state_dir)


async def test_an_edit_is_seen_beside_a_dangling_symlink(repo: RepoMaker) -> None:
    path = repo.pipeline(CI)
    (repo.root / "pipelines" / "old.yml").symlink_to("gone.yml")
    repo.commit("pipelines")
    client, survey = survey_of(repo)
    try:
        first = await survey.pipelines()
        assert first is not None and [p.name for p in first.pipelines] == ["ci"]
        assert await survey.pipelines() is None  # nothing changed
        path.write_text(CI.replace("name: ci", "name: renamed"))
        again = await survey.pipelines()
        assert again is not None and [p.name for p in again.pipelines] == ["renamed"]
    finally:
        await survey.close()
        client.close()


async def test_a_file_swapped_for_a_fifo_does_not_hold_the_notes_up(repo: RepoMaker) -> None:
    path = repo.pipeline(CI)
    repo.commit("pipeline")
    client, survey = survey_of(repo)
    try:
        loaded = await survey.pipelines()
        assert loaded is not None
        path.unlink()
        os.mkfifo(path)  # opened for reading with no writer, it would block for ever
        notes = await asyncio.wait_for(survey.notes(loaded.pipelines), 60)
        assert notes == {"ci": ("⚠ not trusted (T)",)}
    finally:
        await survey.close()
        client.close()


async def test_closing_does_not_wait_for_a_job_that_is_stuck(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    repo.commit("pipeline")
    client, survey = survey_of(repo)
    stuck = threading.Event()
    release = threading.Event()

    def hung_read() -> None:  # as a read of a FIFO, or a git that never answers
        stuck.set()
        release.wait()

    try:
        job = asyncio.ensure_future(survey._on_thread(hung_read))
        while not stuck.is_set():
            await asyncio.sleep(0.01)
        await survey.close()  # returns: the stuck job is left on its daemon thread
        assert not job.done()
    finally:
        release.set()
        client.close()
    deadline = time.monotonic() + 30
    while not job.done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert job.done()


def test_a_console_still_opening_refuses_to_act_as_a_client(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    repo.commit("pipeline")
    client = Client.open(repo.root)
    said: list[str] = []
    try:
        control = Control(client, said.append)
        assert control.opening
        assert control.cancel(1, wait=False) is False
        assert control.decide(1, True, "", "Approval/gate") is False
        assert said == ["the console is still opening the repository: a moment"] * 2
        assert client.store.requests.take_next() is None  # nothing was asked of any engine
    finally:
        client.close()
