"""The console's main screens against committed SVG snapshots.

The scenes are the README screenshots' (`screenshots/scenes.py`): real repositories with fixed
commits, real runs, every time in the history rewritten to a fixed value and the console's
clock frozen, so a snapshot is the same on every machine. Update them after a deliberate
change with `uv run pytest tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from pipedeck.store import Store
from tests.conftest import gone

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "screenshots"))
import scenes

SnapCompare = Callable[..., bool]


def shoot(snap_compare: SnapCompare, tmp_path: Path, name: str) -> None:
    """Build scene `name`, compare the console in that state with its snapshot, and check
    that nothing the scene started outlives the console."""
    scene = scenes.SCENES[name]
    built = asyncio.run(scene.build(tmp_path))
    try:
        app = scenes.make_app(built.root)
        try:
            assert snap_compare(app, terminal_size=scene.size, run_before=scene.prepare)
        finally:
            asyncio.run(scenes.stop_engine(app))
            app.client.close()
    finally:
        built.stop()
    store = Store(app.client.state_dir)
    try:
        # A run waiting for its approval stays waiting (for the next engine); nothing else.
        assert [r.key for r in store.active_runs() if not store.idle(r.id)] == []
        pids = [
            action.action.pid
            for run in store.runs()
            for _, action in store.detail(run).actions()
            if action.action.pid is not None
        ]
    finally:
        store.close()
    assert [pid for pid in pids if not gone(pid)] == []


def test_a_run_in_progress_with_parallel_actions(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "main")


def test_a_failed_run(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "failed")


def test_the_approval_dialog(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "approval")


def test_the_approval_dialog_at_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """Message, what ships, the comment box and both buttons all in view."""
    shoot(snap_compare, tmp_path, "approval-80x24")


def test_the_approval_dialog_at_200x50(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "approval-200x50")


def test_history(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "history")


def test_the_full_screen_log(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "log")


def test_the_main_screen_at_80x24(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "small")


def test_execution_modes_waiting_superseded_held(snap_compare: SnapCompare, tmp_path: Path) -> None:
    """A run inside Test, a newer one waiting to enter it, the one between them superseded,
    and the transition into Deploy disabled: all held by `pipedeck watch` in another process."""
    shoot(snap_compare, tmp_path, "modes")


def test_the_environments(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "environments")


def test_shards_as_one_line_and_a_matrix_as_one_group(
    snap_compare: SnapCompare, tmp_path: Path
) -> None:
    shoot(snap_compare, tmp_path, "shards")


def test_the_test_view(snap_compare: SnapCompare, tmp_path: Path) -> None:
    shoot(snap_compare, tmp_path, "tests")
