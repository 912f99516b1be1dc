"""The console's scenes, built for real: the README screenshots and the snapshot tests.

Each scene makes a small repository whose commits are identical on every machine (fixed
authors and dates), runs its pipelines with the real engine, and then rewrites every time in
the run history to fixed values. With the console's clock frozen as well, a scene looks the
same wherever and whenever it is drawn.

`screenshots/generate.py` saves them as SVG files; `tests/tui/test_snapshots.py` compares them
with the committed snapshots.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static

from pipedeck.engine import Client, Engine, Project, Settings
from pipedeck.engine.requests import disable_transition
from pipedeck.engine.trust import TrustStore
from pipedeck.store import RunRecord, Status, StoreError
from pipedeck.store.db import format_time, parse_time
from pipedeck.store.layout import DB_NAME
from pipedeck.tui.app import PipedeckApp
from pipedeck.tui.clock import Clock
from pipedeck.tui.screens.approval import ApprovalDialog
from pipedeck.tui.screens.environments import EnvironmentsScreen
from pipedeck.tui.screens.history import HistoryScreen
from pipedeck.tui.screens.log_screen import LogScreen
from pipedeck.tui.screens.tests_view import ResultsScreen
from pipedeck.tui.widgets.log_panes import LogPanes
from pipedeck.tui.widgets.log_view import LogView
from pipedeck.tui.widgets.run_list import RunList
from pipedeck.tui.widgets.stage_graph import StageGraph

FROZEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
"""The console's now in every scene."""
SETTINGS = Settings(kill_grace=0.5, poll_interval=0.05)
REPO_NAME = "shop"
WIDE, SMALL, LARGE = (120, 40), (80, 24), (200, 50)

# --- the repository ----------------------------------------------------------------------------

PEOPLE = {
    "ada": ("Ada Lovelace", "ada@example.invalid"),
    "grace": ("Grace Hopper", "grace@example.invalid"),
    "alan": ("Alan Turing", "alan@example.invalid"),
}

CHECKOUT_OK = "def total(cart):\n    return sum(item.price for item in cart) * 107 // 100\n"
CHECKOUT_BROKEN = "def total(cart):\n    return round(sum(item.price for item in cart) * 1.07)\n"

TESTS = [
    "cart_adds_items",
    "cart_removes_items",
    "cart_merges_duplicates",
    "cart_is_empty_at_first",
    "catalog_lists_products",
    "catalog_searches_by_name",
    "catalog_hides_archived",
    "prices_are_in_cents",
    "prices_round_half_up",
    "payments_accepts_cards",
    "payments_refuses_expired_cards",
    "payments_records_receipts",
    "checkout_requires_an_address",
    "checkout_total_includes_tax",
    "checkout_sends_confirmation",
    "checkout_empties_the_cart",
]


def pipeline_yaml(hold_tests: bool = False) -> str:
    """Source → Build (2 in parallel) → Test (2 in parallel) → Approve → Deploy."""
    hold = "\n          sleep 60" if hold_tests else ""
    names = " ".join(TESTS)
    return f"""\
name: ci
stages:
  - name: Source
    actions:
      - {{name: checkout, kind: source, outputs: [source]}}

  - name: Build
    actions:
      - name: compile
        kind: build
        inputs: [source]
        run: |
          echo "compiling shop (4 modules)"
          for m in cart catalog checkout payments; do echo "  compiled src/$m.py"; done
          echo "done: 4 modules, 0 warnings"
      - name: assets
        kind: build
        inputs: [source]
        outputs: [bundle]
        run: |
          echo "bundling 12 images, 3 stylesheets"
          echo "shop" > "$PIPEDECK_OUTPUT_BUNDLE/shop.txt"
          echo "bundle: 184 KiB"

  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        reports: [report.xml]
        run: |
          echo "collected {len(TESTS)} tests"
          failed=0
          echo '<testsuite name="shop">' > report.xml
          for t in {names}; do
            line="<testcase classname='tests.test_${{t%%_*}}' name='test_$t' time='0.04'"
            if [ "$t" = checkout_total_includes_tax ] && grep -q round src/checkout.py; then
              echo "FAIL test_$t"
              echo "     expected total(cart) == 10700, got 10701"
              failed=1
              why="expected total(cart) == 10700, got 10701"
              echo "$line><failure message='$why'/></testcase>" >> report.xml
            else
              echo "ok   test_$t"
              echo "$line/>" >> report.xml
            fi
          done
          echo '</testsuite>' >> report.xml{hold}
          if [ "$failed" = 1 ]; then echo "{len(TESTS) - 1} passed, 1 failed"; exit 1; fi
          echo "{len(TESTS)} passed"
      - name: lint
        kind: test
        inputs: [source]
        run: |
          echo "checking 4 files"
          echo "src/cart.py: ok"
          echo "src/catalog.py: ok"
          echo "src/checkout.py: ok"
          echo "src/payments.py: ok"{hold}
          echo "lint clean"

  - name: Approve
    actions:
      - name: release
        kind: approval
        message: "Ship #{{source.commit_short}} (#{{source.subject}}) to production?"
        timeout: 1h

  - name: Deploy
    actions:
      - name: production
        kind: deploy
        environment: production
        inputs: [bundle]
        run: echo "released shop"
"""


RELEASE = """\
name: ci
environments:
  staging: {approval: none}
  production: {approval: required, approvers: [ada, grace], prevent_self_approval: true}
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: assets
        kind: build
        inputs: [source]
        outputs: [bundle]
        run: echo "shop" > "$PIPEDECK_OUTPUT_BUNDLE/shop.txt"
  - name: Staging
    actions:
      - {name: deploy, kind: deploy, environment: staging, inputs: [bundle], run: echo ok}
  - name: Integration
    actions:
      - {name: checkout-flow, kind: test, run: echo "12 passed against staging"}
  - name: Production
    actions:
      - {name: deploy, kind: deploy, environment: production, inputs: [bundle], run: echo ok}
"""
"""Continuous deployment to staging, a test there, continuous delivery to production."""


def sharded_yaml() -> str:
    """The tests in three shards, with reports, and a compatibility matrix beside them."""
    names = " ".join(TESTS)
    return f"""\
name: ci
stages:
  - name: Source
    actions:
      - {{name: checkout, kind: source, outputs: [source]}}

  - name: Test
    actions:
      - name: unit
        kind: test
        inputs: [source]
        parallel: 3
        reports: [report.xml]
        run: |
          echo '<testsuite name="shop">' > report.xml
          i=0; failed=0
          for t in {names}; do
            i=$((i + 1)); [ $((i % PIPEDECK_SHARDS + 1)) = "$PIPEDECK_SHARD" ] || continue
            line="<testcase classname='tests.test_${{t%%_*}}' name='test_$t' time='0.0$i'"
            if [ "$t" = checkout_total_includes_tax ] && grep -q round src/checkout.py; then
              echo "FAIL test_$t"
              failed=1
              why="expected total(cart) == 10700, got 10701"
              echo "$line><failure message='$why'>assert 10701 == 10700</failure></testcase>" \\
                >> report.xml
            else
              echo "ok   test_$t"
              echo "$line/>" >> report.xml
            fi
          done
          echo '</testsuite>' >> report.xml
          exit $failed
      - name: compat
        kind: test
        inputs: [source]
        fail_fast: false
        matrix:
          python: ["3.12", "3.13"]
          db: [sqlite, postgres]
          exclude: [{{python: "3.12", db: postgres}}]
        run: 'echo "shop on python #{{matrix.python}} with $PIPEDECK_MATRIX_DB: ok"'
"""


NIGHTLY = """\
name: nightly
stages:
  - name: Check
    actions:
      - {name: audit, kind: test, run: 'echo "0 vulnerable packages"'}
"""


class Repo:
    """A repository whose commit SHAs depend only on what the scene commits."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._commits = 0
        root.mkdir(parents=True)
        self._git("init", "-q", "-b", "main")
        # Deployments tag the repository through the engine: give it an identity of its own.
        self._git("config", "user.name", "pipedeck")
        self._git("config", "user.email", "pipedeck@example.invalid")

    def _git(self, *args: str, env: dict[str, str] | None = None) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=self.root,
            check=True,
            capture_output=True,
            text=True,
            env={**os.environ, **(env or {})},
        ).stdout.strip()

    def commit(self, message: str, author: str, files: dict[str, str]) -> str:
        for name, text in files.items():
            path = self.root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            if name.startswith("pipelines/"):
                TrustStore().trust(path)  # as its author would: it runs on new commits
        self._commits += 1
        name, email = PEOPLE[author]
        date = f"2026-01-01T{8 + self._commits:02d}:00:00+00:00"
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
            "GIT_COMMITTER_DATE": date,
        }
        self._git("add", "-A")
        self._git("-c", "commit.gpgsign=false", "commit", "-q", "-m", message, env=env)
        return self._git("rev-parse", "HEAD")


def start_shop(parent: Path) -> Repo:
    repo = Repo(parent / REPO_NAME)
    repo.commit(
        "Start the shop",
        "ada",
        {
            "README.md": "# shop\n\nA small web shop.\n",
            "src/cart.py": "class Cart(list):\n    pass\n",
            "src/checkout.py": CHECKOUT_OK,
        },
    )
    repo.commit("Add the delivery pipeline", "ada", {"pipelines/ci.yml": pipeline_yaml()})
    return repo


# --- running pipelines headless -------------------------------------------------------------


async def run_through(
    root: Path, name: str = "ci", decision: tuple[str, str, str | None] | None = None
) -> RunRecord:
    """Run pipeline `name` on HEAD to its end; `decision` answers its approval:
    (approved|rejected, who, comment)."""
    project = Project.open(root)
    engine = Engine(project, SETTINGS)
    try:
        store = project.store
        run = await engine.start(project.pipeline(name))
        if decision is not None:
            result, by, comment = decision
            while store.run_by_id(run.id).status.active and not store.waiting_approvals(run.id):
                await asyncio.sleep(0.02)
            current = store.run_by_id(run.id)
            if current.status.active:
                if result == "approved":
                    engine.approve(current, comment, by=by, email=PEOPLE[by][1])
                else:
                    engine.reject(current, comment or "no", by=by)
        return await engine.wait(run)
    finally:
        await engine.close()
        project.close()


async def roll_back(root: Path, stage: str, to: int, by: str) -> RunRecord:
    """Roll `stage` of ci back to run `to`, approved by `by`."""
    project = Project.open(root)
    engine = Engine(project, SETTINGS)
    try:
        store = project.store
        run = await engine.rollback(project.pipeline("ci"), stage, store.find_run(f"ci/{to}"))
        while store.run_by_id(run.id).status.active and not store.waiting_approvals(run.id):
            await asyncio.sleep(0.02)
        engine.approve(store.run_by_id(run.id), None, by=by, email=PEOPLE[by][1])
        return await engine.wait(run)
    finally:
        await engine.close()
        project.close()


# --- fixed times -------------------------------------------------------------------------------

NEWEST_RUN_AGE = timedelta(seconds=95)
RUN_SPACING = timedelta(minutes=47)
OVERLAP_SPACING = timedelta(minutes=2)
"""Between runs made one after another while the first still runs."""
DURATIONS = {
    "source": 0.6,
    "approval": 134.0,
}


def _duration(kind: str, name: str) -> float:
    """A plausible, fixed time for an action to take."""
    return DURATIONS.get(kind, 1.1 + 0.9 * (sum(map(ord, name)) % 5))


def normalise(state_dir: Path, spacing: timedelta = RUN_SPACING) -> None:
    """Rewrite every time in the run history to a fixed value, keeping the order of events.

    The newest run was created `NEWEST_RUN_AGE` before `FROZEN`, older ones `spacing` apart
    (`RUN_SPACING` unless told); inside a run, stages and run-order groups follow each other
    and every action takes a fixed time for its kind and name. Unfinished parts keep no end.
    """
    db = sqlite3.connect(state_dir / DB_NAME, isolation_level=None, timeout=30)
    db.row_factory = sqlite3.Row
    try:
        db.execute("BEGIN IMMEDIATE")
        runs = db.execute("SELECT * FROM runs ORDER BY id").fetchall()
        for index, run in enumerate(runs):
            created = FROZEN - NEWEST_RUN_AGE - spacing * (len(runs) - 1 - index)
            _normalise_run(db, run, created)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.close()


def _normalise_run(db: sqlite3.Connection, run: sqlite3.Row, created: datetime) -> None:
    def stamp(moment: datetime | None) -> str | None:
        return None if moment is None else format_time(moment)

    clock = created + timedelta(seconds=0.8)
    started = clock if run["started_at"] else None
    stages = db.execute("SELECT * FROM stages WHERE run_id = ? ORDER BY position", (run["id"],))
    for stage in stages.fetchall():
        actions = db.execute(
            "SELECT * FROM actions WHERE stage_id = ? ORDER BY run_order, position", (stage["id"],)
        ).fetchall()
        stage_start = clock
        for order in sorted({a["run_order"] for a in actions}):
            group_end = clock
            for action in (a for a in actions if a["run_order"] == order):
                begin = clock if action["started_at"] else None
                end = None
                if action["finished_at"]:
                    end = (begin or clock) + timedelta(
                        seconds=_duration(action["kind"], action["name"])
                    )
                    group_end = max(group_end, end)
                db.execute(
                    "UPDATE actions SET started_at = ?, finished_at = ? WHERE id = ?",
                    (stamp(begin), stamp(end), action["id"]),
                )
                approval = db.execute(
                    "SELECT requested_at, expires_at FROM approvals WHERE action_id = ?",
                    (action["id"],),
                ).fetchone()
                if approval is not None:
                    asked = begin or clock
                    wait = parse_time(approval["expires_at"]) - parse_time(approval["requested_at"])
                    db.execute(
                        "UPDATE approvals SET requested_at = ?, expires_at = ?, decided_at = ?"
                        " WHERE action_id = ?",
                        (
                            stamp(asked),
                            stamp(asked + timedelta(seconds=round(wait.total_seconds()))),
                            stamp(end),
                            action["id"],
                        ),
                    )
                db.execute(
                    "UPDATE deployments SET deployed_at = ?,"
                    " finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE ? END"
                    " WHERE action_id = ?",
                    (stamp(begin or clock), stamp(end or clock), action["id"]),
                )
            clock = group_end
        db.execute(
            "UPDATE stages SET started_at = ?, finished_at = ? WHERE id = ?",
            (
                stamp(stage_start if stage["started_at"] else None),
                stamp(clock if stage["finished_at"] else None),
                stage["id"],
            ),
        )
    db.execute(
        "UPDATE runs SET created_at = ?, started_at = ?, finished_at = ? WHERE id = ?",
        (
            stamp(created),
            stamp(started),
            stamp(clock if run["finished_at"] else None),
            run["id"],
        ),
    )


# --- waiting for the console ---------------------------------------------------------------------


async def until(pilot: Pilot[None], condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the console never showed {what}")
        await pilot.pause(0.05)


def _app(pilot: Pilot[None]) -> PipedeckApp:
    app = pilot.app
    assert isinstance(app, PipedeckApp)
    return app


async def settle(pilot: Pilot[None], spacing: timedelta = RUN_SPACING) -> None:
    """Rewrite the times, and wait until the console has drawn them; drop the toasts."""
    app = _app(pilot)
    normalise(app.client.state_dir, spacing)
    main = app.main

    def redrawn() -> bool:
        return main.detail is not None and parse_time(main.detail.run.created_at) < FROZEN

    await until(pilot, redrawn, "the fixed times")
    await pilot.pause(0.3)  # a full refresh tick after the one that read them
    app.clear_notifications()
    await pilot.pause()


def _pane_lines(app: PipedeckApp) -> list[int]:
    return [view.line_count for view in app.main.query_one(LogPanes).views()]


async def _logs_shown(pilot: Pilot[None], lines: list[int]) -> None:
    app = _app(pilot)
    await until(pilot, lambda: sorted(_pane_lines(app)) == sorted(lines), f"logs of {lines} lines")


# --- another shell running the engine -----------------------------------------------------------


@dataclass
class Built:
    """A scene's repository, and the engine still running in another process, if any: a
    `pipedeck run` driving the newest run, or a `pipedeck watch`."""

    root: Path
    engine: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    command: str = ""
    """The engine's command line, as a person would type it."""

    def stop(self) -> None:
        """Stop the engine as Ctrl-C would (twice if it must), and wait for it: it cancels
        its runs and ends their processes before it exits."""
        proc = self.engine
        if proc is None:
            return
        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGKILL):
            if proc.poll() is not None:
                break
            proc.send_signal(sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                continue
        proc.wait()

    async def until(self, reached: Callable[[Project], bool], what: str) -> None:
        """Wait until `reached` holds of the repository's runs while the engine goes on."""
        proc = self.engine
        assert proc is not None
        project = Project.open(self.root)
        try:
            deadline = time.monotonic() + 30
            while not reached(project):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"`{self.command}` never reached {what}")
                await asyncio.sleep(0.05)
        finally:
            project.close()


def _spawn(root: Path, *args: str, log: Path | None = None) -> Built:
    """`pipedeck ARGS` in `root`, in a session of its own; what it says to stderr goes to `log`."""
    with log.open("wb") if log is not None else open(os.devnull, "wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipedeck", *args],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
        )
    return Built(root, proc, " ".join(["pipedeck", *args]))


async def run_in_background(root: Path, reached: Callable[[Project], bool], what: str) -> Built:
    """`pipedeck run ci` in another process, left going once `reached` holds."""
    built = _spawn(root, "run", "ci")
    try:
        await built.until(reached, what)
    except BaseException:
        built.stop()
        raise
    return built


async def watch_in_background(root: Path) -> Built:
    """`pipedeck watch` in another process, once it watches: commits from here on start runs.

    What it prints goes to `watch.log` beside the repository."""
    log = root.parent / "watch.log"
    built = _spawn(root, "watch", log=log)
    proc = built.engine
    assert proc is not None
    deadline = time.monotonic() + 30
    while "watching " not in _said(log):
        if proc.poll() is not None or time.monotonic() > deadline:
            built.stop()
            raise RuntimeError(f"`pipedeck watch` never started watching:\n{_said(log)}")
        await asyncio.sleep(0.05)
    return built


def _said(log: Path) -> str:
    return log.read_text(errors="replace")


def _newest(project: Project) -> RunRecord | None:
    runs = project.store.runs("ci", limit=1)
    return runs[0] if runs else None


def _run(project: Project, number: int) -> RunRecord | None:
    try:
        return project.store.find_run(f"ci/{number}")
    except StoreError:
        return None


def _tests_printed(project: Project, number: int = 2) -> bool:
    """Both test actions of run `number` run, and have printed all they print before pausing."""
    run = _run(project, number)
    if run is None:
        return False
    wanted = {"unit": len(TESTS) + 1, "lint": 5}
    for stage, action in project.store.detail(run).actions():
        if stage.name == "Test":
            record = action.action
            if record.status is not Status.RUNNING or not record.log_path:
                return False
            path = Path(record.log_path)
            if not path.exists() or path.read_bytes().count(b"\n") != wanted[record.name]:
                return False
    return True


def _waiting(project: Project) -> bool:
    run = _newest(project)
    return run is not None and run.number >= 2 and run.status is Status.WAITING


def _waits_for(project: Project, number: int, stage: str) -> bool:
    """Run `number` waits at the boundary of `stage`."""
    run = _run(project, number)
    return run is not None and run.status.active and run.waiting_for == stage


def _superseded(project: Project, number: int) -> bool:
    run = _run(project, number)
    return run is not None and run.status is Status.SUPERSEDED


# --- scenes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    name: str
    """Also the screenshot's file name."""
    size: tuple[int, int]
    build: Callable[[Path], Coroutine[None, None, Built]]
    """Makes the repository (and its history) under a directory."""
    steps: Callable[[Pilot[None]], Awaitable[None]]
    """Brings the open console to the state shown."""

    async def prepare(self, pilot: Pilot[None]) -> None:
        """Once the console is all there (files read, engine or client role settled), the
        scene's own steps."""
        await until(pilot, _app(pilot).ready.is_set, "the console open")
        await self.steps(pilot)


def make_app(root: Path) -> PipedeckApp:
    """The console the CLI opens, with its clock frozen."""
    return PipedeckApp(Client.open(root), clock=Clock(frozen_at=FROZEN), settings=SETTINGS)


async def stop_engine(app: PipedeckApp) -> None:
    """Stop whatever the console's own engine still runs."""
    await app.close_engine()


async def _in_progress_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    await run_through(repo.root, "ci", ("approved", "ada", None))
    repo.commit(
        "Add a cart summary", "grace", {"src/cart.py": "class Cart(list):\n    total = 0\n"}
    )
    # The scene's only difference: the tests pause once they have printed.
    repo.commit("Profile the test suite", "alan", {"pipelines/ci.yml": pipeline_yaml(True)})
    return await run_in_background(repo.root, _tests_printed, "both test actions running")


async def _in_progress(pilot: Pilot[None]) -> None:
    # Both test actions have printed every line and pause: two panes, side by side.
    await _logs_shown(pilot, [len(TESTS) + 1, 5])
    await settle(pilot)


async def _failed_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    await run_through(repo.root, "ci", ("approved", "ada", "looks good"))
    repo.commit("Round totals to whole cents", "grace", {"src/checkout.py": CHECKOUT_BROKEN})
    failed = await run_through(repo.root, "ci")
    assert failed.status is Status.FAILED, failed
    return Built(repo.root)


async def _failed(pilot: Pilot[None]) -> None:
    # The tests' lines, the failure's two, the summary, and what the report held.
    await _logs_shown(pilot, [len(TESTS) + 4])
    await settle(pilot)


async def _log(pilot: Pilot[None]) -> None:
    await _failed(pilot)
    app = _app(pilot)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, LogScreen), "the log screen")
    view = app.screen.query_one(LogView)
    await until(pilot, lambda: view.line_count == len(TESTS) + 4, "the whole log")


async def _approval_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    await run_through(repo.root, "ci", ("approved", "ada", None))
    repo.commit(
        "Add a cart summary", "grace", {"src/cart.py": "class Cart(list):\n    total = 0\n"}
    )
    repo.commit("Accept gift cards", "alan", {"src/payments.py": "CARDS = ['gift']\n"})
    return await run_in_background(repo.root, _waiting, "the approval")


async def _approval(pilot: Pilot[None]) -> None:
    app = _app(pilot)
    # A client console opens the dialog by itself when it sees the approval waiting; close
    # it, settle the times, and open it again as a person would with `a`.
    await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the dialog to pop up")
    await pilot.press("escape")
    await _logs_shown(pilot, [1])
    await settle(pilot)
    await pilot.press("a")
    await until(
        pilot,
        lambda: (
            isinstance(app.screen, ApprovalDialog)
            and app.focused is not None
            and app.focused.id == "approve"
        ),
        "the approval dialog",
    )


async def _history_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    root = repo.root
    await run_through(root, "ci", ("approved", "ada", "first release"))
    repo.commit("Round totals to whole cents", "grace", {"src/checkout.py": CHECKOUT_BROKEN})
    await run_through(root, "ci")
    repo.commit("Keep totals exact", "alan", {"src/checkout.py": CHECKOUT_OK})
    await run_through(root, "ci", ("rejected", "grace", "not during the sale"))
    repo.commit("Audit dependencies every night", "ada", {"pipelines/nightly.yml": NIGHTLY})
    await run_through(root, "nightly")
    await run_through(root, "ci", ("approved", "alan", "sale is over"))
    return Built(root)


async def _history(pilot: Pilot[None]) -> None:
    app = _app(pilot)
    await _logs_shown(pilot, [1])
    await settle(pilot)
    await pilot.press("h")
    await until(pilot, lambda: isinstance(app.screen, HistoryScreen), "the history")
    screen = app.screen
    await until(pilot, lambda: screen.is_mounted, "the history")
    count = screen.query_one("#count", Static)
    await until(pilot, lambda: bool(str(count.visual)), "the history's rows")


async def _environments_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    root = repo.root
    repo.commit("Deploy to staging, then production", "ada", {"pipelines/ci.yml": RELEASE})
    await run_through(root, "ci", ("approved", "grace", None))
    repo.commit(
        "Add a cart summary", "grace", {"src/cart.py": "class Cart(list):\n    total = 0\n"}
    )
    await run_through(root, "ci", ("approved", "ada", None))
    repo.commit("Round totals to whole cents", "alan", {"src/checkout.py": CHECKOUT_BROKEN})
    await run_through(root, "ci", ("approved", "grace", "sale starts"))
    rolled = await roll_back(root, "Production", 2, by="ada")
    assert rolled.status is Status.SUCCEEDED, rolled
    repo.commit("Keep totals exact", "alan", {"src/checkout.py": CHECKOUT_OK})
    return await run_in_background(root, _waiting, "production's gate")


async def _environments(pilot: Pilot[None]) -> None:
    app = _app(pilot)
    # The client console pops the dialog for production's gate by itself: close it first.
    await until(pilot, lambda: isinstance(app.screen, ApprovalDialog), "the dialog to pop up")
    await pilot.press("escape")
    await settle(pilot)
    await pilot.press("e")
    await until(pilot, lambda: isinstance(app.screen, EnvironmentsScreen), "the environments")
    screen = app.screen
    deploys = screen.query_one("#deployment-rows", DataTable)
    await until(pilot, lambda: screen.is_mounted and deploys.row_count > 0, "the deploys")
    await pilot.press("enter")


async def _shards_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    repo.commit("Split the tests into shards", "ada", {"pipelines/ci.yml": sharded_yaml()})
    await run_through(repo.root, "ci")
    repo.commit("Round totals to whole cents", "grace", {"src/checkout.py": CHECKOUT_BROKEN})
    failed = await run_through(repo.root, "ci")
    assert failed.status is Status.FAILED, failed
    return Built(repo.root)


async def _shards(pilot: Pilot[None]) -> None:
    # The shard that failed opens in the pane: its tests, its failure, the report's count.
    await _logs_shown(pilot, [6])
    await settle(pilot)


async def _tests(pilot: Pilot[None]) -> None:
    # The shards' tests as one list: the failed one first, with its message.
    await _shards(pilot)
    app = _app(pilot)
    app.main.query_one(StageGraph).select("Test", "unit.1")
    await pilot.press("u")
    await until(pilot, lambda: isinstance(app.screen, ResultsScreen), "the test view")
    screen = app.screen
    listing = screen.query_one(OptionList)
    await until(pilot, lambda: screen.is_mounted and listing.option_count > 0, "the tests")


async def _modes_repo(parent: Path) -> Built:
    repo = start_shop(parent)
    # The tests pause once they have printed: the first run stays inside the Test stage.
    repo.commit("Profile the test suite", "alan", {"pipelines/ci.yml": pipeline_yaml(True)})
    built = await watch_in_background(repo.root)
    try:
        repo.commit(
            "Add a cart summary", "grace", {"src/cart.py": "class Cart(list):\n    total = 0\n"}
        )
        await built.until(lambda p: _tests_printed(p, 1), "#1 inside Test")
        repo.commit("Accept gift cards", "alan", {"src/payments.py": "CARDS = ['gift']\n"})
        await built.until(lambda p: _waits_for(p, 2, "Test"), "#2 waiting to enter Test")
        repo.commit(
            "Show prices with tax",
            "ada",
            {"src/prices.py": "def with_tax(cents):\n    return cents * 107 // 100\n"},
        )
        await built.until(
            lambda p: _superseded(p, 2) and _waits_for(p, 3, "Test"),
            "#3 waiting to enter Test in place of #2",
        )
        project = Project.open(repo.root)
        try:
            disable_transition(project.store, "ci", "Deploy", "release freeze", by="grace")
        finally:
            project.close()
    except BaseException:
        built.stop()
        raise
    return built


async def _modes(pilot: Pilot[None]) -> None:
    app = _app(pilot)
    main, runs = app.main, app.main.query_one(RunList)

    def highlighted(key: str) -> bool:
        option = runs.highlighted_option
        return option is not None and option.id == key

    # The console follows the newest run, #3, waiting at Test's boundary. Show #1, inside
    # Test, as a run picked in the history is shown; only once the run list has reported
    # highlighting #3, or that report would arrive after the pick and undo it.
    await until(pilot, lambda: highlighted("ci/3"), "the newest run")
    await pilot.pause()
    await pilot.pause()
    main.show_run("ci/1")
    await until(
        pilot,
        lambda: highlighted("ci/1") and main.detail is not None and main.detail.run.number == 1,
        "run #1",
    )
    await _logs_shown(pilot, [len(TESTS) + 1, 5])
    await settle(pilot, OVERLAP_SPACING)


async def _small(pilot: Pilot[None]) -> None:
    await _logs_shown(pilot, [1])
    await settle(pilot)


SCENES = {
    scene.name: scene
    for scene in (
        Scene("main", WIDE, _in_progress_repo, _in_progress),
        Scene("failed", WIDE, _failed_repo, _failed),
        Scene("approval", WIDE, _approval_repo, _approval),
        Scene("approval-80x24", SMALL, _approval_repo, _approval),
        Scene("approval-200x50", LARGE, _approval_repo, _approval),
        Scene("history", WIDE, _history_repo, _history),
        Scene("log", WIDE, _failed_repo, _log),
        Scene("small", SMALL, _history_repo, _small),
        Scene("modes", WIDE, _modes_repo, _modes),
        Scene("environments", WIDE, _environments_repo, _environments),
        Scene("shards", WIDE, _shards_repo, _shards),
        Scene("tests", WIDE, _shards_repo, _tests),
    )
}
