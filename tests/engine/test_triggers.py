"""Which pushes start which pipelines: globs, filters, and the decision, on real repositories
and pipelines loaded from real files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipedeck.definition import Pipeline, load_pipeline
from pipedeck.definition.model import Filter
from pipedeck.engine.triggers import (
    changed_paths_for,
    decide,
    filter_accepts,
    glob_match,
    glob_to_regex,
)
from pipedeck.gitrepo import GitRepo
from pipedeck.gitrepo.refwatch import RefUpdate
from tests.conftest import RepoMaker, git

A, B = "a" * 40, "b" * 40


@pytest.mark.parametrize(
    ("pattern", "text", "matches"),
    [
        ("main", "main", True),
        ("main", "mainline", False),
        ("main", "x/main", False),
        ("release/*", "release/1.2", True),
        ("release/*", "release/1/2", False),
        ("release/**", "release/1/2", True),
        ("*", "feature/x", False),
        ("**", "feature/x", True),
        ("src/**", "src/a.py", True),
        ("src/**", "src/a/b.py", True),
        ("src/**", "lib/src/a.py", False),
        ("**/*.md", "README.md", True),
        ("**/*.md", "docs/a/b.md", True),
        ("**/*.md", "docs/a/b.mdx", False),
        ("docs/**/index.md", "docs/index.md", True),
        ("docs/**/index.md", "docs/a/b/index.md", True),
        ("*.py", "src/a.py", False),
        ("v?.?", "v1.2", True),
        ("v?.?", "v1.10", False),
        ("a?b", "a/b", False),
        ("v[0-9]*", "v1.2", True),
        ("v[0-9]*", "vx", False),
        ("[!v]*", "v1", False),
        ("[!v]*", "x1", True),
        ("[]]", "]", True),
        ("a[/]b", "a/b", False),
        ("a.b", "axb", False),
        ("a+b", "a+b", True),
        ("a+b", "aab", False),
        ("(x)|y", "(x)|y", True),
        ("[abc", "[abc", True),
        ("[z-a]", "[z-a]", True),
        ("a\\b", "a\\b", True),
    ],
)
def test_glob(pattern: str, text: str, matches: bool) -> None:
    assert glob_match(pattern, text) is matches


def test_glob_regexes_are_compiled_once() -> None:
    assert glob_to_regex("release/**") is glob_to_regex("release/**")


def test_filter_with_include_and_exclude() -> None:
    spec = Filter(include=["main", "release/**"], exclude=["release/legacy/**"])
    assert filter_accepts(spec, ["main"])
    assert filter_accepts(spec, ["release/2.0"])
    assert not filter_accepts(spec, ["release/legacy/1.0"])
    assert not filter_accepts(spec, ["feature/x"])
    assert filter_accepts(Filter(exclude=["wip/*"]), ["anything"])
    assert not filter_accepts(Filter(exclude=["wip/*"]), ["wip/x"])
    assert filter_accepts(None, ["anything"])


def test_paths_pass_when_one_changed_file_does() -> None:
    spec = Filter(include=["src/**"], exclude=["**/*.md"])
    assert filter_accepts(spec, ["docs/a.md", "src/a.py"])
    assert not filter_accepts(spec, ["docs/a.md", "src/README.md"])
    assert not filter_accepts(spec, [])


@pytest.fixture
def pipeline(tmp_path: Path) -> Callable[[str], Pipeline]:
    """A pipeline loaded from a file whose top lines (trigger) are given."""

    def load(top: str) -> Pipeline:
        path = tmp_path / "pipeline.yml"
        path.write_text(
            f"name: p\n{top}stages:\n  - name: S\n    actions:\n"
            "      - {name: a, kind: build, run: make}\n"
        )
        return load_pipeline(path)

    return load


def branch(name: str, old: str | None = A, new: str | None = B) -> RefUpdate:
    return RefUpdate(f"refs/heads/{name}", old, new)


def tag(name: str, new: str | None = B) -> RefUpdate:
    return RefUpdate(f"refs/tags/{name}", None, new)


def no_paths() -> list[str]:
    raise AssertionError("changed paths were asked for where no paths filter decides")


def test_branch_include_and_exclude(pipeline: Callable[[str], Pipeline]) -> None:
    p = pipeline("trigger:\n  branches: {include: [main, release/**], exclude: [release/old/*]}\n")
    on = {"current_branch": "main", "changed_paths": no_paths}
    assert decide(p, branch("main"), **on) == "push to main"
    assert decide(p, branch("release/2.0"), **on) == "push to release/2.0"
    assert decide(p, branch("release/2.1", old=None), **on) == "new branch release/2.1"
    assert decide(p, branch("release/old/1"), **on) is None
    assert decide(p, branch("feature"), **on) is None
    assert decide(p, tag("v1"), **on) is None  # branches only: tags do not run


def test_tags_only_trigger_ignores_branch_pushes(pipeline: Callable[[str], Pipeline]) -> None:
    # paths are ignored for tags (GitHub Actions does the same), so they are never computed.
    p = pipeline("trigger: {tags: [v*], paths: [src/**]}\n")
    on = {"current_branch": "main", "changed_paths": no_paths}
    assert decide(p, tag("v1.2"), **on) == "tag v1.2"
    assert decide(p, tag("nightly"), **on) is None
    assert decide(p, branch("main"), **on) is None


def test_no_trigger_runs_on_the_current_branch_only(pipeline: Callable[[str], Pipeline]) -> None:
    p = pipeline("")
    assert decide(p, branch("main"), current_branch="main", changed_paths=no_paths)
    assert decide(p, branch("dev"), current_branch="main", changed_paths=no_paths) is None
    assert decide(p, branch("main"), current_branch=None, changed_paths=no_paths) is None
    assert decide(p, tag("v1"), current_branch="main", changed_paths=no_paths) is None


def test_manual_and_deleted_refs_never_run(pipeline: Callable[[str], Pipeline]) -> None:
    manual = pipeline("trigger: manual\n")
    on = {"current_branch": "main", "changed_paths": no_paths}
    assert decide(manual, branch("main"), **on) is None
    assert decide(manual, tag("v1"), **on) is None
    everything = pipeline("trigger: {branches: ['**'], tags: ['**']}\n")
    assert decide(everything, branch("main"), **on) == "push to main"
    assert decide(everything, branch("main", new=None), **on) is None
    assert decide(everything, tag("v1", new=None), **on) is None
    assert decide(pipeline(""), branch("main", new=None), **on) is None


def test_the_engines_own_deploy_tags_never_run(pipeline: Callable[[str], Pipeline]) -> None:
    on = {"current_branch": "main", "changed_paths": no_paths}
    for tags in ("['**']", "['pipedeck/*']", "['pipedeck/**']"):
        p = pipeline(f"trigger: {{tags: {tags}}}\n")
        assert decide(p, tag("pipedeck/production"), **on) is None
        assert decide(p, tag("pipedeck/staging", new=A), **on) is None
    everything = pipeline("trigger: {tags: ['**']}\n")
    assert decide(everything, tag("v2/pipedeck"), **on) == "tag v2/pipedeck"


@pytest.fixture
def app(repo: RepoMaker) -> tuple[RepoMaker, GitRepo]:
    repo.write("src/app.py", "print('hi')\n")
    repo.commit("initial")
    return repo, GitRepo.open(repo.root)


def push(repo: RepoMaker, files: dict[str, str]) -> tuple[str, str]:
    old = git(repo.root, "rev-parse", "HEAD")
    for name, text in files.items():
        repo.write(name, text)
    return old, repo.commit("push")


def test_paths_filter_on_real_pushes(
    app: tuple[RepoMaker, GitRepo], pipeline: Callable[[str], Pipeline]
) -> None:
    repo, gitrepo = app
    p = pipeline(
        "trigger:\n  branches: [main]\n  paths: {include: [src/**], exclude: ['**/*.md']}\n"
    )
    asked: list[tuple[str | None, str]] = []

    def run(old: str, new: str) -> str | None:
        def paths() -> list[str]:
            asked.append((old, new))
            return changed_paths_for(gitrepo, old, new)

        return decide(p, branch("main", old, new), current_branch="main", changed_paths=paths)

    assert run(*push(repo, {"src/app.py": "print('bye')\n"})) == "push to main"
    assert run(*push(repo, {"docs/guide.md": "# guide\n"})) is None
    assert run(*push(repo, {"src/NOTES.md": "only notes\n"})) is None
    assert run(*push(repo, {"docs/x.md": "x\n", "src/lib/util.py": "x = 1\n"})) == "push to main"
    assert run(*push(repo, {})) is None  # an empty commit changes no path
    assert len(asked) == 5
    # A branch the trigger does not name is turned away before any diff is run.
    assert decide(p, branch("dev"), current_branch="main", changed_paths=no_paths) is None


def test_paths_only_trigger_means_the_current_branch(
    app: tuple[RepoMaker, GitRepo], pipeline: Callable[[str], Pipeline]
) -> None:
    repo, gitrepo = app
    p = pipeline("trigger: {paths: [src/**]}\n")
    old, new = push(repo, {"src/app.py": "print(2)\n"})

    def paths() -> list[str]:
        return changed_paths_for(gitrepo, old, new)

    assert decide(p, branch("main", old, new), current_branch="main", changed_paths=paths)
    assert decide(p, branch("dev", old, new), current_branch="main", changed_paths=paths) is None
    assert decide(p, tag("v1", new), current_branch="main", changed_paths=paths) is None


def test_changed_paths_from_a_base(app: tuple[RepoMaker, GitRepo]) -> None:
    repo, gitrepo = app
    base = git(repo.root, "rev-parse", "HEAD")
    repo.write("a.txt", "a\n")
    repo.commit("a")
    git(repo.root, "mv", "src/app.py", "src/main.py")
    new = repo.commit("b")
    # Over two commits, and a rename counts as both of its names.
    assert sorted(changed_paths_for(gitrepo, base, new)) == ["a.txt", "src/app.py", "src/main.py"]


def test_changed_paths_without_a_base_are_the_commits_own(app: tuple[RepoMaker, GitRepo]) -> None:
    repo, gitrepo = app
    root = git(repo.root, "rev-parse", "HEAD")
    assert sorted(changed_paths_for(gitrepo, None, root)) == ["README.md", "src/app.py"]
    repo.write("a.txt", "a\n")
    repo.commit("a")
    repo.write("b.txt", "b\n")
    new = repo.commit("b")
    assert changed_paths_for(gitrepo, None, new) == ["b.txt"]


def test_changed_paths_from_a_base_that_is_gone(app: tuple[RepoMaker, GitRepo]) -> None:
    repo, gitrepo = app
    git(repo.root, "switch", "-q", "-c", "feature")
    repo.write("feature.txt", "v1\n")
    old = repo.commit("feature v1")
    # Rewritten history, and the old commit pruned from the object store.
    git(repo.root, "reset", "-q", "--hard", "HEAD~1")
    repo.write("feature.txt", "v2\n")
    repo.write("other.txt", "o\n")
    repo.commit("feature v2")
    repo.write("last.txt", "l\n")
    new = repo.commit("last")
    git(repo.root, "reflog", "expire", "--expire=now", "--all")
    git(repo.root, "gc", "-q", "--prune=now")
    assert not gitrepo.has_commit(old)
    assert changed_paths_for(gitrepo, old, new) == ["last.txt"]
