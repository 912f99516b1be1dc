"""The console's first frame comes from the store alone; files, git and the engine follow.

Checked in a fresh interpreter: an import hook holds the survey thread at its first import
of what loading pipeline files needs (pydantic, PyYAML, GitPython, the engine) until the
probe has read the screen, so what the first frame shows cannot have come from them; and it
records any such import made on the event loop's thread, which must be none.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import RepoMaker

PIPELINE = """
name: ci
stages:
  - name: Build
    actions:
      - {name: compile, kind: build, run: 'echo compiled'}
  - name: Check
    actions:
      - {name: unit, kind: test, run: 'echo "3 passed"'}
"""

PROBE = textwrap.dedent(
    """
    import asyncio, json, sys, threading
    from pathlib import Path

    HEAVY = ("pydantic", "yaml", "git", "watchfiles")
    ENGINE = ("pipedeck.definition.model", "pipedeck.engine.engine", "pipedeck.engine.service")
    gate = threading.Event()
    on_loop, held = [], []

    class Hold:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in HEAVY or name in ENGINE:
                if threading.current_thread() is threading.main_thread():
                    on_loop.append(name)
                elif not gate.is_set():
                    held.append(name)
                    gate.wait(60)
            return None

    sys.meta_path.insert(0, Hold())
    from pipedeck.tui import make_app

    def screen(app):
        # Textual has no public reader of the composed screen; its compositor renders it.
        strips = app.screen._compositor.render_strips()
        return ["".join(segment.text for segment in strip) for strip in strips]

    async def until(pilot, condition):
        for _ in range(1200):
            if condition():
                return
            await pilot.pause(0.05)
        raise SystemExit("timed out")

    async def main():
        report = {}
        app = make_app(Path(sys.argv[1]))
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: bool(held))
            await pilot.pause()
            report["first"] = screen(app)
            report["loaded_then"] = app.main.loaded
            report["engine_then"] = app.engine is not None
            gate.set()
            await until(pilot, app.ready.is_set)
            await until(pilot, lambda: "watching for commits" in screen(app)[0])
            report["after"] = screen(app)
            await app.close_engine()
        report["on_loop"], report["held"] = on_loop, held
        with open(sys.argv[2], "w") as f:
            json.dump(report, f)

    asyncio.run(main())
    """
)


def test_the_first_frame_shows_the_history_before_any_file_or_git_is_read(
    repo: RepoMaker, tmp_path: Path
) -> None:
    repo.pipeline(PIPELINE)
    head = repo.commit("Add the pipeline")
    for _ in range(2):
        ran = subprocess.run(
            [sys.executable, "-m", "pipedeck", "--repo", str(repo.root), "run", "ci"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stderr
    report_path = tmp_path / "report.json"
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(repo.root), str(report_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(report_path.read_text())
    first, after = "\n".join(report["first"]), "\n".join(report["after"])

    # Held at its first heavy import, the survey had loaded nothing, nor the engine started:
    assert report["held"] and not report["loaded_then"] and not report["engine_then"]
    # and yet the first frame shows the repository, its branch, the runs and the graph.
    assert f"pipedeck · {repo.root.name} · main · HEAD … · opening…" in report["first"][0]
    assert "ci" in first and "#2" in first and "#1" in first
    assert "Build" in first and "Check" in first and "compile" in first
    # Nothing of the pipeline model, GitPython or the engine was imported on the loop.
    assert report["on_loop"] == []
    # Filled in: the commit read with git, the engine watching.
    assert f"HEAD {head[:7]} Add the pipeline" in report["after"][0]
    assert "watching for commits" in report["after"][0]
    assert "#2" in after
