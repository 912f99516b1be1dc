"""`cache:` on an action: restored before its command, saved after it succeeds, listed,
cleared and pruned — with real runs in a real repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import RepoMaker, run_cli

PIPELINE = """
name: ci
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: deps
        kind: build
        inputs: [source]
        cache:
          key: "deps-#{hash:requirements.txt}"
          paths: [deps]
          restore_keys: [deps-]
        run: |
          if [ -e deps/installed ]; then echo "found: $(cat deps/installed)"; fi
          mkdir -p deps/bin
          cp requirements.txt deps/installed
          ln -sf /usr/bin/env deps/bin/env
          test -z "$FAIL"
"""


def _logs(repo: RepoMaker, ref: str) -> str:
    return run_cli("logs", ref, "Build/deps", cwd=repo.root, check=True).stdout


def _caches(repo: RepoMaker) -> list[dict[str, Any]]:
    listed = run_cli("cache", "list", "--json", cwd=repo.root, check=True).stdout
    result: list[dict[str, Any]] = json.loads(listed)
    return result


def test_a_cache_is_saved_then_restored_and_a_new_key_falls_back(repo: RepoMaker) -> None:
    repo.write("requirements.txt", "click==8\n")
    repo.pipeline(PIPELINE)
    repo.commit("a build with a cache")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    first = _logs(repo, "ci/1")
    assert "pipedeck: no cache for 'deps-" in first
    assert "found:" not in first
    assert "pipedeck: cache saved as 'deps-" in first
    [saved] = _caches(repo)
    assert saved["key"].startswith("deps-") and saved["paths"] == ["deps"]

    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    second = _logs(repo, "ci/2")
    assert f"pipedeck: cache restored {saved['key']!r}" in second
    assert "found: click==8" in second  # the command saw the restored files
    assert "exists already; kept as it is" in second
    assert len(_caches(repo)) == 1

    # A new lock file: a new key, the old cache restored through the prefix, a new one saved.
    repo.write("requirements.txt", "click==9\n")
    repo.commit("newer click")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    third = _logs(repo, "ci/3")
    assert f"restored {saved['key']!r} for 'deps-" in third
    assert "found: click==8" in third
    keys = [c["key"] for c in _caches(repo)]
    assert len(keys) == 2 and keys[1] == saved["key"]  # newest first


def test_a_failed_action_saves_nothing_and_clear_and_prune_remove_caches(
    repo: RepoMaker,
) -> None:
    repo.write("requirements.txt", "click==8\n")
    repo.pipeline(PIPELINE.replace('test -z "$FAIL"', "exit 1"))
    repo.commit("a build that fails")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 1
    assert _caches(repo) == []
    assert "cache saved" not in _logs(repo, "ci/1")

    repo.pipeline(PIPELINE)
    repo.commit("a build that works")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    [entry] = _caches(repo)
    # Fresh: prune leaves it.
    assert json.loads(run_cli("prune", "--json", cwd=repo.root, check=True).stdout)["caches"] == []
    # Unused for more than a week (as its record says): prune removes it, and says so.
    meta = Path(entry["directory"]) / "meta.json"
    record = json.loads(meta.read_text())
    record["used_at"] = record["created_at"] = "2026-01-01T00:00:00.000Z"
    meta.write_text(json.dumps(record))
    pruned = run_cli("prune", cwd=repo.root, check=True).stdout
    assert "unused for a week" in pruned and "1 cache" in pruned
    assert _caches(repo) == []

    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    assert len(_caches(repo)) == 1
    cleared = run_cli("cache", "clear", cwd=repo.root, check=True).stdout
    assert "freed" in cleared
    assert _caches(repo) == []


def test_a_key_naming_no_file_uses_no_cache_and_the_action_still_runs(repo: RepoMaker) -> None:
    repo.write("requirements.txt", "click==8\n")
    repo.pipeline(PIPELINE.replace("hash:requirements.txt", "hash:missing.lock"))
    repo.commit("a key over a file that is not there")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    log = _logs(repo, "ci/1")
    assert "pipedeck: cache not used: #{hash:missing.lock}: no file in the workspace matches" in log
    assert _caches(repo) == []
