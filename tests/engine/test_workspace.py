"""Source export, workspaces, environment, artifacts and their safety rules."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from pipedeck.engine import Engine
from pipedeck.engine.artifacts import ArtifactError, collect
from pipedeck.store import Status
from tests.conftest import RepoMaker, git


def action(engine: Engine, run_key: str, name: str):  # type: ignore[no-untyped-def]
    store = engine.project.store
    for _, a in store.detail(store.find_run(run_key)).actions():
        if a.action.name == name:
            return a.action
    raise KeyError(name)


async def test_source_exports_the_commit_not_the_working_tree(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.write("src/app.txt", "v1\n")
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Source
            actions: [{name: checkout, kind: source, outputs: [source]}]
        """
    )
    old = repo.commit("first")
    repo.write("src/app.txt", "v2\n")
    repo.commit("second")
    repo.write("src/app.txt", "dirty, uncommitted\n")
    repo.write("untracked.txt", "not in git\n")
    project = engine.project

    head = await engine.run(project.pipeline("ci"))
    artifact = project.store.layout(head).artifact("source")
    assert (artifact / "src/app.txt").read_text() == "v2\n"
    assert not (artifact / "untracked.txt").exists()

    older = await engine.run(project.pipeline("ci"), rev=old)
    assert older.commit == old
    assert (project.store.layout(older).artifact("source") / "src/app.txt").read_text() == "v1\n"


async def test_workspace_is_a_fresh_copy_and_the_environment_is_complete(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.write("data.txt", "from git\n")
    repo.pipeline(
        """
        name: ci
        variables: {APP: demo, VERSION: 1.10}
        env: {LEVEL: pipeline, SHARED: pipeline}
        stages:
          - name: Source
            actions: [{name: checkout, kind: source, outputs: [source]}]
          - name: Build
            actions:
              - name: dump
                kind: build
                inputs: [source]
                outputs: [wheel-files]
                env: {SHARED: action, REF: "#{source.commit_short}"}
                run: |
                  echo changed > data.txt
                  python3 -c 'import json, os; print(json.dumps(dict(os.environ)))' \
                    > "$PIPEDECK_OUTPUT_WHEEL_FILES/env.json"
        """
    )
    sha = repo.commit()
    project = engine.project
    run = await engine.run(project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED, run.error
    layout = project.store.layout(run)
    env = json.loads((layout.artifact("wheel-files") / "env.json").read_text())
    assert env["PIPEDECK_PIPELINE"] == "ci"
    assert env["PIPEDECK_RUN"] == "ci/1"
    assert env["PIPEDECK_RUN_NUMBER"] == "1"
    assert env["PIPEDECK_STAGE"] == "Build"
    assert env["PIPEDECK_ACTION"] == "dump"
    assert env["PIPEDECK_COMMIT"] == sha
    assert env["PIPEDECK_BRANCH"] == "main"
    # The first input is the workspace (CodeBuild's CODEBUILD_SRC_DIR); an output is made in
    # staging and sealed into the artifact when the action succeeds.
    assert env["PIPEDECK_INPUT_SOURCE"] == str(layout.work("Build", "dump"))
    assert env["PIPEDECK_OUTPUT_WHEEL_FILES"] == str(layout.staging("wheel-files"))
    assert env["APP"] == "demo" and env["VERSION"] == "1.10"
    assert env["LEVEL"] == "pipeline" and env["SHARED"] == "action"
    assert env["REF"] == sha[:7]
    # The script changed its workspace copy, never the artifact it came from.
    assert (layout.work("Build", "dump") / "data.txt").read_text() == "changed\n"
    assert (layout.artifact("source") / "data.txt").read_text() == "from git\n"


async def test_artifacts_are_frozen_and_collected_by_path(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Build
            actions:
              - name: make
                kind: build
                outputs: [{name: dist, paths: ["dist/*.whl", "docs"]}]
                run: |
                  mkdir -p dist docs/api
                  echo wheel > dist/app-1.0.whl
                  echo junk > dist/notes.txt
                  echo page > docs/api/index.html
          - name: Use
            actions:
              - name: read
                kind: test
                inputs: [dist]
                run: cat dist/app-1.0.whl docs/api/index.html
        """
    )
    repo.commit()
    project = engine.project
    run = await engine.run(project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED, run.error
    dist = project.store.layout(run).artifact("dist")
    assert sorted(str(p.relative_to(dist)) for p in dist.rglob("*") if p.is_file()) == [
        "dist/app-1.0.whl",
        "docs/api/index.html",
    ]
    wheel = dist / "dist/app-1.0.whl"
    assert not wheel.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert not dist.stat().st_mode & stat.S_IWUSR
    assert Path(action(engine, "ci/1", "read").log_path).read_text() == "wheel\npage\n"
    detail = project.store.detail(run).to_dict()
    assert detail["stages"][0]["actions"][0]["artifacts"] == ["dist"]


async def test_outputs_may_not_escape_the_workspace(
    repo: RepoMaker, engine: Engine, tmp_path: Path
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Build
            actions:
              - name: link-out
                kind: build
                outputs: [{name: linked, paths: ["secret"]}]
                run: ln -s /etc/hostname secret
              - name: link-in-output
                kind: build
                outputs: [bundle]
                run: ln -s /etc "$PIPEDECK_OUTPUT_BUNDLE/etc"
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.FAILED
    errors = {n: action(engine, "ci/1", n).error for n in ("link-out", "link-in-output")}
    assert errors["link-out"] == "secret resolves outside the workspace; refused"
    assert errors["link-in-output"] == "etc is a symlink to /etc, outside the artifact; refused"
    log = Path(action(engine, "ci/1", "link-out").log_path).read_text()
    assert "pipedeck: secret resolves outside the workspace; refused" in log
    # `validate` refuses a pattern that leaves the workspace; collection refuses it anyway.
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ArtifactError, match="must be relative to the workspace"):
        collect(work, ["../*"], tmp_path / "out")


async def test_action_output_variables_and_unknown_references(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: One
            actions:
              - {name: ver, kind: build, run: 'echo VERSION=2.3 >> "$PIPEDECK_VARIABLES_FILE"'}
          - name: Two
            actions:
              - {name: use, kind: build, run: 'echo "v#{ver.VERSION}"'}
              - {name: typo, kind: build, run: 'echo "#{ver.VERSON}"'}
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert Path(action(engine, "ci/1", "use").log_path).read_text() == "v2.3\n"
    assert run.status is Status.FAILED
    assert action(engine, "ci/1", "typo").error == "unknown variable #{ver.VERSON}"


async def test_deploy_is_recorded_in_the_store_and_as_a_git_tag(
    repo: RepoMaker, engine: Engine
) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Prod
            actions: [{name: ship, kind: deploy, environment: production, run: 'true'}]
        """
    )
    sha = repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    assert git(repo.root, "rev-parse", "pipedeck/production^{commit}") == sha
    assert git(repo.root, "cat-file", "-t", "pipedeck/production") == "tag"
    row = (
        engine.project.store.connection()
        .execute("SELECT environment, commit_sha FROM deployments")
        .fetchone()
    )
    assert tuple(row) == ("production", sha)


async def test_commit_text_in_a_script_is_data_not_code(repo: RepoMaker, engine: Engine) -> None:
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Source
            actions: [{name: checkout, kind: source, outputs: [source]}]
          - name: Build
            actions:
              - {name: say, kind: build, run: 'echo "building: #{source.subject}"'}
        """
    )
    repo.commit('fix "; touch pwned; echo "')
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    log = Path(action(engine, "ci/1", "say").log_path).read_text()
    assert log == 'building: fix "; touch pwned; echo "\n'
    work = engine.project.store.layout(run).work("Build", "say")
    assert not (work / "pwned").exists()


async def test_export_ignores_gitattributes_export_rules(repo: RepoMaker, engine: Engine) -> None:
    repo.write(".gitattributes", "tests/ export-ignore\nversion.txt export-subst\n")
    repo.write("tests/test_a.py", "assert True\n")
    repo.write("version.txt", "$Format:%H$\n")
    repo.pipeline(
        """
        name: ci
        stages:
          - name: Source
            actions: [{name: checkout, kind: source, outputs: [source]}]
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    source = engine.project.store.layout(run).artifact("source")
    assert (source / "tests/test_a.py").read_text() == "assert True\n"
    assert (source / "version.txt").read_text() == "$Format:%H$\n"


async def test_freezing_an_output_never_touches_hard_linked_files_elsewhere(
    repo: RepoMaker, engine: Engine, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me writable\n")
    outside.chmod(0o664)
    repo.pipeline(
        f"""
        name: ci
        stages:
          - name: Build
            actions:
              - name: link
                kind: build
                outputs: [out]
                run: ln {outside} "$PIPEDECK_OUTPUT_OUT/v"
        """
    )
    repo.commit()
    run = await engine.run(engine.project.pipeline("ci"))
    assert run.status is Status.SUCCEEDED
    assert outside.stat().st_mode & 0o777 == 0o664
    frozen = engine.project.store.layout(run).artifact("out") / "v"
    assert frozen.read_text() == "keep me writable\n"
    assert frozen.stat().st_mode & 0o222 == 0
