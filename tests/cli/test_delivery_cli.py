"""`environments`, `deployments`, `environment set`, `rollback`, `run RUN` as a user types them."""

from __future__ import annotations

import getpass
import json
from typing import Any

from tests.conftest import RepoMaker, git, run_cli

PIPELINE = """
name: ci
variables: {FLAVOUR: plain}
environments:
  staging: {approval: none}
  production: {approval: none, branches: [main]}
stages:
  - name: Source
    actions: [{name: checkout, kind: source, outputs: [source]}]
  - name: Build
    actions:
      - name: make
        kind: build
        inputs: [source]
        outputs: [app]
        run: |
          echo built >> "$PIPEDECK_REPO_ROOT/builds"
          cp version.txt "$PIPEDECK_OUTPUT_APP/version"
  - name: Staging
    actions:
      - {name: up, kind: deploy, inputs: [app], run: 'cp version "$PIPEDECK_REPO_ROOT/staging"'}
  - name: Production
    actions:
      - name: ship
        kind: deploy
        environment: production
        inputs: [app]
        run: |
          echo "MARK $FLAVOUR"
          cp version "$PIPEDECK_REPO_ROOT/production"
"""


def release(repo: RepoMaker, version: str, text: str = PIPELINE) -> str:
    repo.pipeline(text)
    repo.write("version.txt", f"{version}\n")
    return repo.commit(f"version {version}")


def as_json(*args: str, repo: RepoMaker) -> Any:
    return json.loads(run_cli(*args, "--json", cwd=repo.root, check=True).stdout)


def environments(repo: RepoMaker) -> dict[str, Any]:
    return {e["environment"]: e for e in as_json("environments", repo=repo)}


def test_environments_and_deployments_say_what_runs_where(repo: RepoMaker) -> None:
    first = release(repo, "1")
    run_cli("run", "ci", cwd=repo.root, check=True)
    envs = environments(repo)
    assert sorted(envs) == ["production", "staging"]
    production = envs["production"]
    assert production["current"]["run"] == "ci/1"
    assert production["current"]["commit"] == first
    assert production["current"]["commit_subject"] == "version 1"
    assert production["current"]["number"] == 1
    assert (production["behind"], production["on_the_way"]) == (0, [])
    assert production["branches"] == ["main"] and production["approval"] == "none"
    assert production["pipelines"] == ["ci"]

    repo.write("notes.txt", "later\n")
    repo.commit("a later commit, not yet run")
    assert environments(repo)["production"]["behind"] == 1

    history = as_json("deployments", repo=repo)
    assert [(d["environment"], d["run"], d["status"]) for d in history] == [
        ("production", "ci/1", "succeeded"),
        ("staging", "ci/1", "succeeded"),
    ]
    assert [d["environment"] for d in as_json("deployments", "staging", repo=repo)] == ["staging"]
    shown = run_cli("environments", cwd=repo.root, check=True).stdout
    assert f"#1 {first[:7]} ci/1" in shown and "1 commit behind" in shown
    listed = run_cli("deployments", cwd=repo.root, check=True).stdout.splitlines()
    assert listed[0].startswith("production #1") and "version 1" in listed[0]
    assert production["rules_differ_in"] == []

    # Another pipeline with rules of its own for production: said, not hidden.
    repo.pipeline(
        "name: hotfix\nenvironments:\n  production: {approval: required}\nstages:\n"
        "  - {name: Production, actions: [{name: ship, kind: deploy, run: 'true'}]}\n",
        name="hotfix",
    )
    repo.commit("a hotfix pipeline")
    assert environments(repo)["production"]["rules_differ_in"] == ["ci", "hotfix"]
    shown = run_cli("environments", cwd=repo.root, check=True).stdout
    assert "rules differ between ci, hotfix: each deploy obeys its own file's" in shown


def test_switching_an_environment_is_recorded_and_shown(repo: RepoMaker) -> None:
    release(repo, "1")
    said = run_cli("environment", "set", "production", "--approval", "required", cwd=repo.root)
    assert said.returncode == 0, said.stderr
    assert said.stdout.startswith(f"production: approval required (set by {getpass.getuser()} ")
    production = environments(repo)["production"]
    assert production["approval"] == "required"
    assert production["approval_set_by"] == getpass.getuser()
    assert production["approval_set_at"].endswith("Z")
    typo = run_cli("environment", "set", "prodution", "--approval", "none", cwd=repo.root)
    assert typo.returncode == 1
    assert typo.stderr == (
        "pipedeck: no environment 'prodution' (environments: production, staging)\n"
    )


def test_rollback_from_the_command_line(repo: RepoMaker) -> None:
    first = release(repo, "1")
    run_cli("run", "ci", cwd=repo.root, check=True)
    release(repo, "2")
    run_cli("run", "ci", cwd=repo.root, check=True)
    assert (repo.root / "production").read_text() == "2\n"

    done = run_cli("rollback", "ci", "Production", cwd=repo.root)
    assert done.returncode == 0, done.stderr
    assert (repo.root / "production").read_text() == "1\n"
    assert (repo.root / "staging").read_text() == "2\n"  # only the stage rolled back
    assert len((repo.root / "builds").read_text().splitlines()) == 2
    production = environments(repo)["production"]
    assert production["current"]["run"] == "ci/3"
    assert production["current"]["rollback"] is True
    assert production["current"]["commit"] == first
    assert git(repo.root, "rev-list", "-n1", "pipedeck/production") == first
    shown = json.loads(run_cli("show", "ci/3", "--json", cwd=repo.root, check=True).stdout)
    assert shown["kind"] == "rollback" and [s["name"] for s in shown["stages"]] == ["Production"]

    refused = run_cli("rollback", "ci", "Source", cwd=repo.root)
    assert refused.returncode == 1
    assert refused.stderr.startswith("pipedeck: Source is a source stage")
    again = run_cli("rollback", "ci", "Production", "--to", "3", cwd=repo.root)
    assert again.returncode == 1
    assert again.stderr == (
        "pipedeck: ci/3 is itself a rollback; roll back to the run it brought back (ci/1)\n"
    )
    # Careless targets are refused as such, never taken for "the default".
    for to, said in [
        ("", "pipedeck: 'ci/' is not a run; write PIPELINE/NUMBER or PIPELINE\n"),
        ("99999999999999999999999", "pipedeck: no run 'ci/99999999999999999999999'\n"),
    ]:
        careless = run_cli("rollback", "ci", "Production", "--to", to, cwd=repo.root)
        assert (careless.returncode, careless.stderr) == (1, said)
    limit = run_cli("deployments", "--limit", "0", cwd=repo.root)
    assert limit.returncode == 2 and "Traceback" not in limit.stderr


def test_run_of_a_run_runs_its_commit_with_the_pipeline_committed_then(repo: RepoMaker) -> None:
    first = release(repo, "1")
    run_cli("run", "ci", "--var", "FLAVOUR=spicy", cwd=repo.root, check=True)
    release(repo, "2", PIPELINE.replace("MARK", "NEWER"))
    again = run_cli("run", "ci/1", cwd=repo.root)
    assert again.returncode == 0, again.stderr
    run = json.loads(run_cli("show", "ci/2", "--json", cwd=repo.root, check=True).stdout)
    assert (run["commit"], run["branch"], run["pipeline_file"]) == (first, "main", "commit")
    log = run_cli("logs", "ci/2", "Production/ship", cwd=repo.root, check=True).stdout
    assert "MARK spicy" in log and "NEWER" not in log
    both = run_cli("run", "ci/1", "--commit", "HEAD~1", cwd=repo.root)
    assert both.returncode == 1
    assert "names a run, and so its commit" in both.stderr
