"""Shared fixtures: real git repositories in tmp_path, a real store, a real engine."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipedeck.engine import Engine, Project, Settings

PIPEDECK = [sys.executable, "-m", "pipedeck"]


@pytest.fixture(autouse=True, scope="session")
def git_identity() -> Iterator[None]:
    """Commits in tests must not depend on the machine's git config."""
    values = {
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.invalid",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.invalid",
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def trust_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Trust is recorded outside the repository, in the user's home: never the real one here."""
    path = tmp_path_factory.mktemp("trust") / "trust.json"
    saved = os.environ.get("PIPEDECK_TRUST_FILE")
    os.environ["PIPEDECK_TRUST_FILE"] = str(path)
    yield path
    if saved is None:
        os.environ.pop("PIPEDECK_TRUST_FILE", None)
    else:
        os.environ["PIPEDECK_TRUST_FILE"] = saved


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


class RepoMaker:
    """Writes files into a fresh repository and commits them with the real git CLI."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "-b", "main")

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    def pipeline(self, text: str, name: str = "ci") -> Path:
        return self.write(f"pipelines/{name}.yml", text)

    def commit(self, message: str = "change") -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> RepoMaker:
    maker = RepoMaker(tmp_path / "app")
    maker.write("README.md", "hello\n")
    return maker


FAST = Settings(kill_grace=0.5, poll_interval=0.05)


@pytest.fixture
def open_project(repo: RepoMaker) -> Iterator[Callable[[], Project]]:
    opened: list[Project] = []

    def _open() -> Project:
        project = Project.open(repo.root)
        opened.append(project)
        return project

    yield _open
    for project in opened:
        project.close()


@pytest.fixture
async def engine(open_project: Callable[[], Project]) -> AsyncIterator[Engine]:
    eng = Engine(open_project(), FAST)
    yield eng
    await eng.close()


def run_cli(
    *args: str, cwd: Path, check: bool = False, process: bool = False
) -> subprocess.CompletedProcess[str]:
    """`pipedeck ARGS` run from `cwd`: what it prints and its exit status.

    In this process, through click's `CliRunner`: for what a command says and does, a process
    of its own proves nothing more and costs a Python start each time. `process=True` runs the
    real command line in a child process, for what only a process shows (what it imports,
    how it ends, signals).
    """
    if process:
        result = subprocess.run(
            [*PIPEDECK, *args], cwd=cwd, capture_output=True, text=True, timeout=120
        )
    else:
        result = _in_process(list(args), cwd)
    if check and result.returncode != 0:
        raise AssertionError(f"pipedeck {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


# click 8.2 keeps stderr apart by itself and no longer takes `mix_stderr`.
_APART = {"mix_stderr": False} if "mix_stderr" in inspect.signature(CliRunner).parameters else {}


def _in_process(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    from pipedeck.cli import main

    here = Path.cwd()
    os.chdir(cwd)
    try:
        ran = CliRunner(**_APART).invoke(main, args, prog_name="pipedeck")
    finally:
        os.chdir(here)
    stderr = ran.stderr
    if ran.exception is not None and not isinstance(ran.exception, SystemExit):
        assert ran.exc_info is not None
        # What a user would have seen: the checks for tracebacks look at stderr.
        stderr += "".join(traceback.format_exception(*ran.exc_info))
    return subprocess.CompletedProcess(["pipedeck", *args], ran.exit_code, ran.stdout, stderr)


def gone(pid: int) -> bool:
    """The process no longer runs (an unreaped zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] == "Z"


def wait_for(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
