"""Stages run in order; run-order groups in order; a group's actions at once."""

from __future__ import annotations

from pathlib import Path

from pipedeck.engine import Engine
from pipedeck.store import Status
from tests.conftest import RepoMaker

STAMP = 'python3 "$PIPEDECK_REPO_ROOT/stamp.py"'
STAMP_PY = """
import os, time
# One write(2) per line: O_APPEND keeps it whole even when actions write at the same time.
line = f"{os.environ['PIPEDECK_ACTION']} {time.time()}\\n"
path = os.path.join(os.environ["PIPEDECK_REPO_ROOT"], "stamps")
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
os.write(fd, line.encode())
"""


def stamps(root: Path) -> list[tuple[str, float]]:
    lines = (root / "stamps").read_text().splitlines()
    return [(name, float(t)) for name, t in (line.split() for line in lines)]


async def test_run_order_groups_run_in_sequence_and_in_parallel(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.write("stamp.py", STAMP_PY)
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Work
            actions:
              - {{name: a, kind: build, run: '{STAMP}; sleep 0.4; {STAMP}'}}
              - {{name: b, kind: build, run: '{STAMP}; sleep 0.4; {STAMP}'}}
              - {{name: c, kind: build, run_order: 2, run: '{STAMP}'}}
          - name: After
            actions:
              - {{name: d, kind: test, run: '{STAMP}'}}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    seen = stamps(repo.root)
    first = {n: t for n, t in reversed(seen)}
    last = {n: t for n, t in seen}
    # a and b overlap: each started before the other ended.
    assert first["a"] < last["b"] and first["b"] < last["a"]
    # c waits for the whole first group; the next stage waits for c.
    assert first["c"] >= max(last["a"], last["b"])
    assert first["d"] >= last["c"]


async def test_failure_fails_stage_and_run_and_skips_the_rest(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Test
            actions:
              - {name: broken, kind: test, run: 'echo about to fail; exit 3'}
              - {name: slow-sibling, kind: test, run: 'sleep 0.3; echo sibling done'}
              - {name: later, kind: test, run_order: 2, run: 'echo never'}
          - name: Deploy
            actions:
              - {name: ship, kind: deploy, run: 'echo never'}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    detail = engine.project.store.detail(run)
    actions = {a.action.name: a.action for _, a in detail.actions()}
    assert run.status is Status.FAILED
    assert run.error == "Test/broken: exited with code 3"
    assert actions["broken"].status is Status.FAILED
    assert actions["broken"].exit_code == 3
    # The sibling already running was left to finish.
    assert actions["slow-sibling"].status is Status.SUCCEEDED
    assert actions["later"].status is Status.SKIPPED
    assert actions["ship"].status is Status.SKIPPED
    assert [s.stage.status for s in detail.stages] == [Status.FAILED, Status.SKIPPED]
    # The failed action keeps its whole log.
    assert Path(actions["broken"].log_path or "").read_text() == "about to fail\n"


async def test_runs_are_numbered_per_pipeline(repo: RepoMaker, engine: Engine) -> None:
    for name in ("one", "two"):
        repo.pipeline(
            f"name: {name}\n"
            "stages: [{name: S, actions: [{name: a, kind: build, run: 'true'}]}]\n",
            name=name,
        )
    repo.commit()
    project = engine.project
    keys = [(await engine.run(project.pipeline(p))).key for p in ("one", "one", "two", "one")]
    assert keys == ["one/1", "one/2", "two/1", "one/3"]
    assert [r.key for r in project.store.runs()] == ["one/3", "two/1", "one/2", "one/1"]
    assert project.store.find_run("one").key == "one/3"
    assert project.store.find_run("one/2").number == 2


async def test_events_arrive_in_order(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: S
            actions: [{name: a, kind: build, run: 'echo one; echo two'}]
        """
    )
    repo.commit()
    events: list[str] = []
    text: list[str] = []

    def listen(event: object) -> None:
        events.append(type(event).__name__)
        if type(event).__name__ == "LogLines":
            text.append(event.text)  # type: ignore[attr-defined]

    engine.bus.subscribe(listen)
    await engine.run(engine.project.pipeline("ci"))
    compact = [e for i, e in enumerate(events) if e != "LogLines" or events[i - 1] != "LogLines"]
    assert compact == [
        "RunStarted",
        "StageStarted",
        "ActionStarted",
        "LogLines",
        "ActionFinished",
        "StageFinished",
        "RunFinished",
    ]
    assert "".join(text) == "one\ntwo\n"
