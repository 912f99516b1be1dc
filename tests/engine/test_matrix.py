"""`matrix:`: one copy per combination, each told its values; fail-fast stops the rest."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import RepoMaker, run_cli

WAIT_FOR_GO = """
          for i in $(seq 100); do
            [ -e "$PIPEDECK_REPO_ROOT/../go" ] && exit 0
            sleep 0.1
          done"""
WAIT_FOR_FAILURE = """
          # Until the history says the postgres combination failed (up to a minute).
          for i in $(seq 600); do
            pipedeck --repo "$PIPEDECK_REPO_ROOT" show "$PIPEDECK_RUN" | grep -q 'exit 3' && exit 0
            sleep 0.1
          done
          exit 9"""


def _pipeline(fail_fast: str = "", wait: str = WAIT_FOR_GO) -> str:
    return f"""
name: ci
stages:
  - name: Test
    actions:
      - name: test
        kind: test
        {fail_fast}
        matrix:
          python: ["3.11", "3.12"]
          db: [sqlite, postgres]
          exclude: [{{python: "3.11", db: postgres}}]
        run: |
          told="$PIPEDECK_REPO_ROOT/../told-#{{matrix.python}}-#{{matrix.db}}"
          echo "python=#{{matrix.python}} db=$PIPEDECK_MATRIX_DB" > "$told"
          if [ "#{{matrix.db}}" = postgres ]; then
            # Fails once the others have said what they were told, so they run when it does.
            cd "$PIPEDECK_REPO_ROOT/.."
            until [ -s told-3.11-sqlite ] && [ -s told-3.12-sqlite ]; do
              sleep 0.05
            done
            exit 3
          fi
          # The others outlast the failure by far unless something stops them.{wait}
          exit 0
"""


def _actions(repo: RepoMaker) -> dict[str, dict[str, Any]]:
    shown = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    return {a["name"]: a for a in shown["stages"][0]["actions"]}


def test_each_combination_is_told_its_values_and_a_failure_stops_the_rest(
    repo: RepoMaker,
) -> None:
    repo.pipeline(_pipeline())
    repo.commit("a matrix")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 1
    actions = _actions(repo)
    assert {name: a["label"] for name, a in actions.items()} == {
        "test-3.11-sqlite": "test (python=3.11, db=sqlite)",
        "test-3.12-sqlite": "test (python=3.12, db=sqlite)",
        "test-3.12-postgres": "test (python=3.12, db=postgres)",
    }
    for python, db in (("3.11", "sqlite"), ("3.12", "sqlite"), ("3.12", "postgres")):
        told = (repo.root.parent / f"told-{python}-{db}").read_text()
        assert told == f"python={python} db={db}\n"
    assert actions["test-3.12-postgres"]["status"] == "failed"
    for name in ("test-3.11-sqlite", "test-3.12-sqlite"):
        assert actions[name]["status"] == "cancelled"
        assert (
            actions[name]["error"] == "stopped: test (python=3.12, db=postgres) failed (fail_fast)"
        )
    shown = json.loads(run_cli("show", "ci/1", "--json", cwd=repo.root, check=True).stdout)
    # A failure stopped them, not a person: the run failed, with the failure's reason.
    assert shown["status"] == "failed"
    assert shown["error"] == "Test/test-3.12-postgres: exited with code 3"


def test_without_fail_fast_the_other_combinations_run_to_their_end(repo: RepoMaker) -> None:
    # The sqlite combinations succeed only once they see the postgres one failed: so they
    # ran on past the failure.
    repo.pipeline(_pipeline("fail_fast: false", WAIT_FOR_FAILURE))
    repo.commit("a matrix that lets the others finish")
    ran = run_cli("run", "ci", cwd=repo.root)
    assert ran.returncode == 1
    statuses = {name: a["status"] for name, a in _actions(repo).items()}
    assert statuses == {
        "test-3.11-sqlite": "succeeded",
        "test-3.12-sqlite": "succeeded",
        "test-3.12-postgres": "failed",
    }
