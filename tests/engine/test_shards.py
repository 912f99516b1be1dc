"""`parallel: N`: shards of one test action, each told which it is, their results one action's,
and `pipedeck shard` handing each its share by the timings earlier runs reported."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.conftest import RepoMaker, run_cli

PYTEST = f'"{sys.executable}" -m pytest -q -p no:cacheprovider -p no:asyncio'


def _suite(repo: RepoMaker, seconds: dict[str, float]) -> None:
    """One test file per entry, its test sleeping that long (what its report records)."""
    for name, took in seconds.items():
        repo.write(
            f"tests/{name}.py",
            f"import time\n\n\ndef test_{name}():\n    time.sleep({took})\n",
        )


def _pipeline(shards: int, extra: str = "") -> str:
    return f"""
name: ci
stages:
  - name: Source
    actions: [{{name: checkout, kind: source, outputs: [source]}}]
  - name: Test
{extra}
    actions:
      - name: unit
        kind: test
        inputs: [source]
        parallel: {shards}
        reports: [report.xml]
        run: |
          env | grep -E '^(PIPEDECK_SHARDS?|CI_NODE_(INDEX|TOTAL))=' | sort \
            > "$PIPEDECK_RUN_NUMBER.env"
          pipedeck shard --explain --glob 'tests/**/test_*.py' > mine.txt
          {PYTEST} $(cat mine.txt) --junitxml=report.xml
"""


def _show(repo: RepoMaker, ref: str) -> dict[str, Any]:
    return json.loads(run_cli("show", ref, "--json", cwd=repo.root, check=True).stdout)


def _actions(repo: RepoMaker, ref: str) -> dict[str, dict[str, Any]]:
    stage = next(s for s in _show(repo, ref)["stages"] if s["name"] == "Test")
    return {a["name"]: a for a in stage["actions"]}


def _work(repo: RepoMaker, number: int, action: str) -> Path:
    return repo.root / ".git" / "pipedeck" / "runs" / "ci" / str(number) / "work" / "Test" / action


def test_each_shard_is_told_which_it_is_and_their_tests_add_up(repo: RepoMaker) -> None:
    _suite(repo, {f"test_{n}": 0 for n in "abcdefg"})
    repo.pipeline(_pipeline(3))
    repo.commit("seven tests")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 0, ran.stdout + ran.stderr

    actions = _actions(repo, "ci/1")
    assert sorted(actions) == ["unit.1", "unit.2", "unit.3"]
    for k in (1, 2, 3):
        action = actions[f"unit.{k}"]
        assert (action["group"], action["label"]) == ("unit", f"unit {k}/3")
        assert action["status"] == "succeeded"
        told = (_work(repo, 1, f"unit.{k}") / "1.env").read_text().split()
        assert told == [
            f"CI_NODE_INDEX={k}",
            "CI_NODE_TOTAL=3",
            f"PIPEDECK_SHARD={k}",
            "PIPEDECK_SHARDS=3",
        ]
    # Every file ran once, in exactly one shard.
    shares = [(_work(repo, 1, f"unit.{k}") / "mine.txt").read_text().split() for k in (1, 2, 3)]
    assert sorted(f for share in shares for f in share) == [f"tests/test_{n}.py" for n in "abcdefg"]
    assert all(shares)
    tests = json.loads(run_cli("tests", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    assert tests["counts"]["passed"] == 7
    assert {t["action"] for t in tests["tests"]} == {"unit.1", "unit.2", "unit.3"}


def test_the_second_run_balances_the_shards_by_the_first_run_s_timings(repo: RepoMaker) -> None:
    # One long file and many short ones: by count, one shard would get the long one and
    # a fair share of the short ones besides.
    seconds = {"test_long": 1.2, **{f"test_s{n}": 0.1 for n in range(12)}}
    _suite(repo, seconds)
    repo.pipeline(_pipeline(2))
    repo.commit("a skewed suite")
    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    first = [(_work(repo, 1, f"unit.{k}") / "mine.txt").read_text().split() for k in (1, 2)]
    # No history yet: split by size, and the files are all about the same size.
    assert sorted(len(share) for share in first) == [6, 7]

    assert run_cli("run", "ci", cwd=repo.root).returncode == 0
    second = [(_work(repo, 2, f"unit.{k}") / "mine.txt").read_text().split() for k in (1, 2)]
    long_share = next(share for share in second if "tests/test_long.py" in share)
    other = next(share for share in second if "tests/test_long.py" not in share)
    # 2.4 s in all: the long file (1.2 s) alone against the twelve short ones (1.2 s).
    assert long_share == ["tests/test_long.py"]
    assert len(other) == 12
    log = run_cli("logs", "ci/2", "Test/unit.1", cwd=repo.root, check=True).stdout
    assert "13 files in 2 shards by timings (timings of ci/1)" in log


def test_a_failing_shard_fails_the_action_and_a_retry_runs_only_it(repo: RepoMaker) -> None:
    marker = repo.root.parent / "failed-once"
    _suite(repo, {"test_a": 0, "test_b": 0, "test_c": 0})
    # test_c fails the first time it runs anywhere, then passes.
    repo.write(
        "tests/test_c.py",
        "from pathlib import Path\n\n\ndef test_c():\n"
        f"    marker = Path({str(marker)!r})\n"
        "    if not marker.exists():\n"
        "        marker.write_text('x')\n"
        "        raise AssertionError('first time')\n",
    )
    repo.pipeline(_pipeline(3))
    repo.commit("a test that fails once")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 1
    actions = _actions(repo, "ci/1")
    statuses = {name: a["status"] for name, a in actions.items()}
    failed = [name for name, status in statuses.items() if status == "failed"]
    assert len(failed) == 1 and sorted(statuses.values()) == ["failed", "succeeded", "succeeded"]
    assert _show(repo, "ci/1")["status"] == "failed"
    tests = json.loads(run_cli("tests", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    assert tests["counts"] == {"failed": 1, "error": 0, "skipped": 0, "passed": 2}

    retried = run_cli("retry", "ci/1", cwd=repo.root)
    assert retried.returncode == 0, retried.stdout + retried.stderr
    after = _actions(repo, "ci/1")
    assert {name: a["attempt"] for name, a in after.items()} == {
        name: 2 if name in failed else 1 for name in actions
    }
    assert all(a["status"] == "succeeded" for a in after.values())
    # The retried shard ran the very files it had, not a new split.
    share = (_work(repo, 1, failed[0]) / "mine.txt").read_text().split()
    assert share == ["tests/test_c.py"]


def test_shard_splits_by_size_outside_an_action_and_says_an_empty_share(repo: RepoMaker) -> None:
    repo.write("big.py", "x" * 5000)
    repo.write("small1.py", "x" * 10)
    repo.write("small2.py", "x" * 10)
    files = ("big.py", "small1.py", "small2.py")
    first = run_cli("shard", "--shard", "1", "--shards", "2", *files, cwd=repo.root, check=True)
    second = run_cli("shard", "--shard", "2", "--shards", "2", *files, cwd=repo.root, check=True)
    assert first.stdout.split() == ["big.py"]
    assert second.stdout.split() == ["small1.py", "small2.py"]
    # Stable: the same inputs in another order give the same split.
    again = run_cli("shard", "--shard", "2", "--shards", "2", *reversed(files), cwd=repo.root)
    assert sorted(again.stdout.split()) == ["small1.py", "small2.py"]

    empty = run_cli("shard", "--shard", "3", "--shards", "3", "big.py", cwd=repo.root)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "shard 3 of 3 has no files to run" in empty.stderr

    outside = run_cli("shard", "big.py", cwd=repo.root)
    assert outside.returncode == 1
    assert "runs in an action with `parallel: N`" in outside.stderr
    beyond = run_cli("shard", "--shard", "4", "--shards", "3", "big.py", cwd=repo.root)
    assert beyond.returncode == 1 and "shard 4 of 3 does not exist" in beyond.stderr


def test_classnames_name_their_files_through_a_rootdir_prefix_and_a_class() -> None:
    from pipedeck.engine.sharding import file_times

    files = ["tests/api/test_users.py", "tests/test_users.py", "test_x.py"]
    times = file_times(
        files,
        {
            "tests.api.test_users.TestLogin": 2.0,  # a class in the nested file
            "tests.api.test_users": 1.0,  # module-level tests of it
            "app.tests.test_users": 0.5,  # run from a rootdir above: a prefix
            "test_x": 0.25,
            "somewhere.else": 9.0,  # names no file given: ignored
        },
    )
    assert times == {"tests/api/test_users.py": 3.0, "tests/test_users.py": 0.5, "test_x.py": 0.25}


def test_files_never_seen_weigh_the_mean_and_the_split_is_stable() -> None:
    from pipedeck.engine import split_files as plan

    files = [f"t{n}.py" for n in range(6)]
    known = {"t0": 4.0, "t1": 2.0, "t2": 2.0}  # t3..t5 are new: 8/3 s each
    split = plan(files, 2, known, {})
    assert split.by == "timings and the mean"
    assert sum(split.loads) == 16.0
    assert max(split.loads) - min(split.loads) <= 8 / 3
    assert split == plan(list(reversed(files)), 2, known, {}).__class__(
        [sorted(s, key=files.index) for s in split.shards], split.loads, split.by
    )
    # Each file in one shard only, duplicates given once.
    doubled = plan([*files, "t0.py"], 3, known, {})
    assert sorted(f for s in doubled.shards for f in s) == sorted(files)


def test_shard_leaves_out_names_the_shell_would_split(repo: RepoMaker) -> None:
    repo.write("tests/test_ok.py", "")
    repo.write("tests/test two.py", "")
    result = run_cli(
        "shard", "--shard", "1", "--shards", "1", "--glob", "tests/*.py", cwd=repo.root
    )
    assert result.stdout.split("\n") == ["tests/test_ok.py", ""]
    assert "left out 'tests/test two.py'" in result.stderr
