"""The environment actions get: the one pipedeck was started from, less pipedeck's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipedeck.engine.environment import action_base
from tests.conftest import PIPEDECK, RepoMaker

DUMP = """
name: ci
stages:
  - name: Build
    actions:
      - name: env
        kind: build
        run: |
          env -0 > "$PIPEDECK_REPO_ROOT/env.out"
          command -v python > "$PIPEDECK_REPO_ROOT/python.out" || true
"""


def read_env(path: Path) -> dict[str, str]:
    entries = path.read_bytes().split(b"\0")
    return dict(e.decode().partition("=")[::2] for e in entries if e)


def test_a_run_started_by_uv_run_does_not_hand_its_virtualenv_to_actions(
    repo: RepoMaker,
) -> None:
    repo.pipeline(DUMP)
    repo.commit()
    venv_bin = str(Path(sys.prefix) / "bin")
    # What `uv run pipedeck` (or an activated virtualenv) leaves in the environment, and what
    # a pipedeck started inside another run's action would carry.
    env = {
        **os.environ,
        "VIRTUAL_ENV": sys.prefix,
        "UV_RUN_RECURSION_DEPTH": "1",
        "PATH": os.pathsep.join([venv_bin, os.environ["PATH"]]),
        "PIPEDECK_RUN_TOKEN": "/elsewhere#7",
        "PIPEDECK_INPUT_SOURCE": "/elsewhere/artifact",
        "KEPT": "from the shell",
    }
    done = subprocess.run(
        [*PIPEDECK, "run", "ci"], cwd=repo.root, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    seen = read_env(repo.root / "env.out")
    assert "VIRTUAL_ENV" not in seen and "UV_RUN_RECURSION_DEPTH" not in seen
    assert venv_bin not in seen["PATH"].split(os.pathsep)
    # First, the directory holding only the `pipedeck` that runs this pipedeck; then the
    # shell's PATH, less pipedeck's virtualenv.
    shim, *rest = seen["PATH"].split(os.pathsep)
    assert sorted(p.name for p in Path(shim).iterdir()) == ["pipedeck"]
    assert rest == [p for p in env["PATH"].split(os.pathsep) if p != venv_bin]
    assert "PIPEDECK_INPUT_SOURCE" not in seen
    # The run's own marker, not the one inherited.
    assert seen["PIPEDECK_RUN_TOKEN"].startswith(str((repo.root / ".git/pipedeck").resolve()))
    assert seen["KEPT"] == "from the shell"
    assert (repo.root / "python.out").read_text().strip() != str(Path(venv_bin) / "python")


def test_a_virtualenv_inside_the_repository_is_the_projects_and_stays(tmp_path: Path) -> None:
    repo = tmp_path / "project"
    venv = repo / ".venv"
    (venv / "bin").mkdir(parents=True)
    environ = {"VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:/usr/bin", "PIPEDECK_X": "1"}
    assert action_base(repo, environ, venv) == {"VIRTUAL_ENV": str(venv), "PATH": environ["PATH"]}
    outside = tmp_path / "tools" / "pipedeck-venv"
    (outside / "bin").mkdir(parents=True)
    environ = {"VIRTUAL_ENV": str(outside), "PATH": f"{outside}/bin:/usr/bin"}
    assert action_base(repo, environ, outside) == {"PATH": "/usr/bin"}
