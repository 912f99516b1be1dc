"""The environment an action starts from: the one pipedeck was started from, less pipedeck.

Two things are pipedeck's own and never the action's:
- every `PIPEDECK_*` name: those the engine sets for the action are set afresh, and one left
  over from an outer run (pipedeck started inside an action) would name the wrong run;
- pipedeck's own virtualenv, when it is not the repository's. `uv run pipedeck` (or a
  virtualenv activated to run pipedeck) puts that environment's `bin` first on `PATH` and sets
  `VIRTUAL_ENV`, so a build's `pytest` would be pipedeck's pytest. A virtualenv inside the
  repository is the project's own (pipedeck installed as one of its dev tools) and stays.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from pipedeck.definition.model import Action
from pipedeck.definition.references import RESERVED_PREFIX

UV_RUN_DEPTH = "UV_RUN_RECURSION_DEPTH"
"""Set by `uv run` along with `VIRTUAL_ENV`: part of the same layer."""


def own_virtualenv() -> Path | None:
    """The virtualenv pipedeck runs from, if it runs from one."""
    if sys.prefix == sys.base_prefix:
        return None
    return Path(sys.prefix).resolve()


def action_base(
    repo_root: Path,
    environ: Mapping[str, str] = os.environ,
    virtualenv: Path | None = None,
) -> dict[str, str]:
    """What every action's environment starts from (before pipedeck's and the pipeline's)."""
    env = {k: v for k, v in environ.items() if not k.startswith(RESERVED_PREFIX)}
    venv = own_virtualenv() if virtualenv is None else virtualenv
    if venv is None or _inside(venv, repo_root.resolve()):
        return env
    if _same(env.get("VIRTUAL_ENV"), venv):
        del env["VIRTUAL_ENV"]
        env.pop(UV_RUN_DEPTH, None)
    if "PATH" in env:
        bin_dir = venv / "bin"
        kept = [p for p in env["PATH"].split(os.pathsep) if not _same(p, bin_dir)]
        env["PATH"] = os.pathsep.join(kept)
    return env


def _same(path: str | None, target: Path) -> bool:
    if not path:
        return False
    try:
        return Path(path).resolve() == target.resolve()
    except (OSError, RuntimeError):
        return False


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def copy_env(action: Action) -> dict[str, str]:
    """What a shard or a matrix combination is told about itself. GitLab's names too
    (`CI_NODE_INDEX` is 1-based there as well), for tools that split by them already."""
    expansion = action.expansion
    if expansion is None:
        return {}
    if expansion.shard is not None and expansion.shards is not None:
        shard, shards = str(expansion.shard), str(expansion.shards)
        return {
            "PIPEDECK_SHARD": shard,
            "PIPEDECK_SHARDS": shards,
            "CI_NODE_INDEX": shard,
            "CI_NODE_TOTAL": shards,
        }
    return {f"PIPEDECK_MATRIX_{key.upper()}": value for key, value in expansion.values.items()}


SHIM_DIR = "bin"
_shims: dict[Path, Path] = {}


def command_shim(state_dir: Path) -> Path:
    """A directory holding only a `pipedeck` that runs this very pipedeck, put first on an
    action's PATH: the action's own PATH leaves pipedeck's virtualenv out (see above), and
    another pipedeck found there might not read this state directory's history."""
    directory = state_dir / SHIM_DIR
    script = directory / "pipedeck"
    known = _shims.get(state_dir)
    if known is not None and script.exists():
        return known
    # -I: the action's PYTHONPATH or PYTHONHOME must not change which pipedeck runs.
    text = f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -I -m pipedeck "$@"\n'
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        current = script.read_text()
    except OSError:
        current = None
    if current != text:
        temporary = directory / f".pipedeck.{os.getpid()}"
        temporary.write_text(text)
        temporary.chmod(0o700)  # the state directory's own: yours alone, as the rest
        temporary.replace(script)
    _shims[state_dir] = directory
    return directory
