"""Hostile and careless input to `parallel`, `matrix`, `cache` and `pipedeck shard`.

Each test states what should happen; real processes, real temporary git repositories.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PIPEDECK, RepoMaker, run_cli


def _limited() -> None:
    # A runaway expansion must fail this child, not the machine the suite shares.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_a_huge_parallel_is_a_located_error_not_a_runaway_expansion(repo: RepoMaker) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: S
            actions:
              - {name: t, kind: test, run: "true", parallel: 1000000000}
        """
    )
    repo.commit()
    result = subprocess.run(
        [*PIPEDECK, "validate"],
        cwd=repo.root,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limited,
    )
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert "parallel must be at most 64" in result.stdout + result.stderr


def test_matrix_values_that_sanitise_alike_still_get_distinct_names(repo: RepoMaker) -> None:
    # Three different values; the naming scheme, not the file, makes `t-a_b-3` twice.
    repo.pipeline(
        """
        name: ci
        stages:
          - name: S
            actions:
              - name: t
                kind: test
                matrix: {v: ["a_b-3", "a b", "a/b"]}
                run: 'echo "$PIPEDECK_MATRIX_V"'
        """
    )
    repo.commit()
    result = run_cli("validate", cwd=repo.root)
    assert result.returncode == 0, result.stdout + result.stderr
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    shown = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    names = [a["name"] for a in shown["stages"][0]["actions"]]
    assert len(set(names)) == 3


def test_show_keeps_a_matrix_label_with_a_newline_on_one_line(repo: RepoMaker) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: S
            actions:
              - name: t
                kind: test
                matrix: {v: ["x\\n  ✔ [1] forged (deploy)  succeeded"]}
                run: "true"
        """
    )
    repo.commit()
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    shown = run_cli("show", "ci/1", cwd=repo.root, check=True).stdout
    assert not any(line.lstrip().startswith("✔ [1] forged") for line in shown.splitlines()), shown


def test_a_hash_of_the_workspace_itself_leaves_the_cache_out_not_the_action(
    repo: RepoMaker,
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Source
            actions: [{name: checkout, kind: source, outputs: [source]}]
          - name: B
            actions:
              - {name: dot, kind: build, inputs: [source], run: "echo ran",
                 cache: {key: "k-#{hash:.}", paths: [x]}}
              - {name: slash, kind: build, inputs: [source], run: "echo ran",
                 cache: {key: "k-#{hash:./}", paths: [x]}}
        """
    )
    repo.commit()
    # Refused where it is written, before anything runs.
    result = run_cli("run", "ci", cwd=repo.root)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.returncode == 1
    assert "9:23: stages[1].actions[0].cache.key: #{hash:.}: name files" in result.stderr
    assert "11:23: stages[1].actions[1].cache.key: #{hash:./}: name files" in result.stderr


def test_a_hash_pattern_glob_cannot_take_is_a_key_problem_not_a_crash(tmp_path: Path) -> None:
    # What validation lets through still never reaches pathlib's parser errors as a crash.
    from pipedeck.engine.actions.caching import KeyProblem, hash_files

    (tmp_path / "a.lock").write_text("x")
    assert len(hash_files(tmp_path, "*.lock")) == 16
    for pattern in (".", "./", "", "../a.lock", "/etc/passwd", "nothing-*.lock"):
        with pytest.raises(KeyProblem):
            hash_files(tmp_path, pattern)


def _shard(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PIPEDECK, "shard", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        preexec_fn=_limited,
    )


def test_shard_refuses_an_empty_or_dot_glob_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("")
    for pattern in ("", ".", "./"):
        result = _shard(tmp_path, "--shard", "1", "--shards", "2", "--glob", pattern)
        assert "Traceback" not in result.stderr, (pattern, result.stderr[-1500:])
        assert result.returncode in (0, 1, 2)


def test_shard_with_an_absurd_number_of_shards_says_so(tmp_path: Path) -> None:
    (tmp_path / "test_a.py").write_text("")
    env_case = _shard(
        tmp_path, "test_a.py", PIPEDECK_SHARD="1", PIPEDECK_SHARDS="99999999999999999999"
    )
    option_case = _shard(tmp_path, "--shard", "1", "--shards", "1000000000000", "test_a.py")
    for result in (env_case, option_case):
        assert "Traceback" not in result.stderr, result.stderr[-1500:]
        assert result.returncode != 0
    assert "an action has at most 64 shards" in env_case.stderr
    assert "1000000000000 is not in the range 1<=x<=64" in option_case.stderr


def test_shard_with_a_damaged_history_still_hands_out_the_files(tmp_path: Path) -> None:
    # Inside `pytest $(pipedeck shard ...)`, printing nothing makes every shard run everything.
    (tmp_path / "test_a.py").write_text("")
    (tmp_path / "test_b.py").write_text("x = 1\n")
    state = tmp_path / "state"
    state.mkdir()
    (state / "pipedeck.db").write_text("not a database")
    found = []
    for index in ("1", "2"):
        result = _shard(
            tmp_path,
            "test_a.py",
            "test_b.py",
            PIPEDECK_SHARD=index,
            PIPEDECK_SHARDS="2",
            PIPEDECK_RUN="ci/1",
            PIPEDECK_STAGE="Test",
            PIPEDECK_ACTION=f"unit.{index}",
            PIPEDECK_STATE_DIR=str(state),
        )
        assert result.returncode == 0, result.stderr
        found += result.stdout.split()
    assert sorted(found) == ["test_a.py", "test_b.py"]
    assert (state / "pipedeck.db").read_text() == "not a database"  # reported, not reset


if sys.platform != "linux":  # pragma: no cover
    import pytest

    pytestmark = pytest.mark.skip("RLIMIT_AS as used here is Linux's")
