"""Everything pipedeck asks of git, in one place.

Resolving revisions, exporting a commit's tree, listing commits, and (for the demo and
deployments) committing and tagging. Nothing else in the code base runs git; callers get
plain values (`Commit`) and a `GitError` with a sentence fit for a user, never a GitPython
exception.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git
from git.exc import BadName, GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from pipedeck.gitrepo.location import GitError

SYMLINK_MODE = 0o120000
"""How git records a symlink in a tree."""


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    subject: str
    author: str
    email: str
    committed_at: datetime

    @property
    def short(self) -> str:
        return self.sha[:7]


def _commit(c: git.Commit) -> Commit:
    message = c.message if isinstance(c.message, str) else c.message.decode(errors="replace")
    return Commit(
        sha=c.hexsha,
        subject=message.strip().splitlines()[0] if message.strip() else "",
        author=str(c.author.name or ""),
        email=str(c.author.email or ""),
        committed_at=datetime.fromtimestamp(c.committed_date, tz=UTC),
    )


class GitRepo:
    """A local repository with a working tree."""

    def __init__(self, repo: git.Repo) -> None:
        self._repo = repo

    @classmethod
    def open(cls, path: Path) -> GitRepo:
        """Open the repository containing `path` (searching parent directories)."""
        try:
            repo = git.Repo(path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError):
            raise GitError(
                f"{path.resolve()} is not inside a git repository"
                " (run `git init`, or try `pipedeck demo`)"
            ) from None
        if repo.bare or repo.working_tree_dir is None:
            raise GitError(f"{path} is a bare repository; pipedeck needs a working tree")
        return cls(repo)

    @classmethod
    def init(cls, path: Path, branch: str = "main") -> GitRepo:
        """Create a new repository (used by `pipedeck demo`)."""
        path.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(path, initial_branch=branch)
        with repo.config_writer() as config:
            # A fresh machine may have no identity; the demo must still be able to commit.
            if not repo.git.config("user.name", with_exceptions=False):
                config.set_value("user", "name", "pipedeck demo")
            if not repo.git.config("user.email", with_exceptions=False):
                config.set_value("user", "email", "demo@pipedeck.invalid")
        return cls(repo)

    def close(self) -> None:
        """End the git processes this handle keeps for reading objects."""
        self._repo.close()

    @property
    def root(self) -> Path:
        assert self._repo.working_tree_dir is not None
        return Path(self._repo.working_tree_dir)

    @property
    def git_dir(self) -> Path:
        """The common git directory: shared by all worktrees, so run history is too."""
        return Path(self._repo.common_dir).resolve()

    def resolve(self, rev: str = "HEAD") -> Commit:
        try:
            return _commit(self._repo.commit(rev))
        except (BadName, ValueError, GitCommandError):
            if rev == "HEAD" and not self._repo.head.is_valid():
                raise GitError(f"{self.root} has no commits yet; commit something first") from None
            raise GitError(f"unknown revision {rev!r}") from None

    def current_branch(self) -> str | None:
        """The checked-out branch, or None when HEAD is detached or unborn."""
        try:
            return self._repo.active_branch.name
        except (TypeError, ValueError):  # detached; or a HEAD git reads and GitPython does not
            return None

    def user_email(self) -> str | None:
        """`git config user.email` as this checkout sees it (repository, then global)."""
        try:
            value = self._repo.git.config("--get", "user.email")
        except GitCommandError:  # not set
            return None
        return str(value).strip() or None

    def is_branch(self, name: str) -> bool:
        return name in {h.name for h in self._repo.heads}

    def export(self, sha: str, dest: Path) -> None:
        """Write the committed tree of `sha` into `dest` — never the dirty working tree.

        Through a throw-away index (`read-tree` + `checkout-index`) rather than `git archive`,
        which would honour `export-ignore` and `export-subst` and so not give the tree as
        committed. Files come out as a checkout would write them (filters, line endings).
        """
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="pipedeck-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            try:
                self._repo.git.read_tree(sha, env=env)
                self._repo.git.checkout_index("--all", "--force", f"--prefix={dest}/", env=env)
            except GitCommandError as exc:
                raise GitError(f"cannot export {sha[:12]}: {exc.stderr.strip()}") from None

    def files_at(self, sha: str, folder: str) -> list[tuple[str, bool, bytes]]:
        """The files directly in `folder` of commit `sha`: (name, is a symlink, content).

        A symlink's content is its target, as git stores it. A missing folder is no files.
        """
        try:
            tree = self._repo.commit(sha).tree
            entries = (tree / folder).blobs if folder in tree else []
            return [(b.name, b.mode == SYMLINK_MODE, b.data_stream.read()) for b in entries]
        except (GitCommandError, ValueError, KeyError) as exc:
            raise GitError(f"cannot read {folder}/ at {sha[:12]}: {exc}") from None

    def file_at(self, sha: str, path: str) -> bytes | None:
        """The content of `path` in commit `sha`, or None when it has no such regular file."""
        try:
            blob = self._repo.commit(sha).tree / path
        except KeyError:
            return None
        except (GitCommandError, ValueError) as exc:
            raise GitError(f"cannot read {path} at {sha[:12]}: {exc}") from None
        if blob.type != "blob" or blob.mode == SYMLINK_MODE:
            return None
        return bytes(blob.data_stream.read())

    def commits_between(self, old: str | None, new: str, limit: int = 200) -> list[Commit]:
        """Commits reachable from `new` but not `old`, newest first."""
        rev = f"{old}..{new}" if old else new
        try:
            return [_commit(c) for c in self._repo.iter_commits(rev, max_count=limit)]
        except GitCommandError as exc:
            raise GitError(f"cannot list commits {rev}: {exc.stderr.strip()}") from None

    def count_between(self, old: str, new: str) -> int:
        """How many commits `new` has that `old` has not (how far a release is behind)."""
        try:
            return int(self._repo.git.rev_list("--count", f"{old}..{new}"))
        except GitCommandError as exc:
            raise GitError(f"cannot count commits {old}..{new}: {exc.stderr.strip()}") from None

    def refs(self) -> dict[str, str]:
        """Every branch and tag (full ref name) and the commit it points to.

        One `for-each-ref`, cheap enough to run on every file event of the ref watcher.
        Annotated tags are peeled: a pipeline cares about the tagged commit, not the tag object.
        """
        try:
            out = self._repo.git.for_each_ref(
                "--format=%(refname) %(objectname) %(*objectname) %(*objecttype)",
                "refs/heads",
                "refs/tags",
            )
        except GitCommandError as exc:
            raise GitError(f"cannot list refs: {exc.stderr.strip()}") from None
        refs: dict[str, str] = {}
        nested: list[str] = []
        for line in out.splitlines():
            name, sha, peeled, peeled_type = line.split(" ", 3)
            refs[name] = peeled or sha
            if peeled_type == "tag":  # a tag of a tag: `*objectname` peels only one level
                nested.append(name)
        for name in nested:
            # A tag of something other than a commit keeps the object it names.
            with contextlib.suppress(GitCommandError):
                refs[name] = self._repo.git.rev_parse(f"{name}^{{commit}}")
        return refs

    def has_commit(self, rev: str) -> bool:
        """Whether `rev` names a commit in the object store (rebased-away ones may be gone)."""
        try:
            self._repo.git.cat_file("-e", f"{rev}^{{commit}}")
        except GitCommandError:
            return False
        return True

    def first_parent(self, rev: str) -> str | None:
        """The first parent of `rev`, or None for a root commit."""
        try:
            parents = self._repo.git.rev_list("--parents", "-n1", rev).split()
        except GitCommandError as exc:
            raise GitError(f"unknown revision {rev!r}: {exc.stderr.strip()}") from None
        return parents[1] if len(parents) > 1 else None

    def changed_paths(self, old: str | None, new: str) -> list[str]:
        """Files that differ between the trees of `old` and `new`; with `old` None, every
        file of `new` (a root commit: everything in it is new).

        Renames count as a deletion and an addition, so a path filter sees both names.
        """
        try:
            if old is None:
                out = self._repo.git.ls_tree("-r", "-z", "--name-only", new)
            else:
                out = self._repo.git.diff_tree("-r", "-z", "--name-only", "--no-renames", old, new)
        except GitCommandError as exc:
            raise GitError(f"cannot diff {old}..{new}: {exc.stderr.strip()}") from None
        return [p for p in out.split("\0") if p]

    def commit_all(self, message: str) -> Commit:
        """Stage everything and commit it (the demo's history is made with this)."""
        self._repo.git.add("-A")
        self._repo.index.commit(message)
        return self.resolve("HEAD")

    def tag(self, name: str, rev: str, message: str, force: bool = True) -> None:
        """An annotated tag; `force` moves it if it exists (a deployment marker is the latest
        one), otherwise an existing tag is an error (a release's own tag never moves)."""
        try:
            self._repo.create_tag(name, ref=rev, message=message, force=force)
        except GitCommandError as exc:
            raise GitError(f"cannot tag {rev} as {name}: {exc.stderr.strip()}") from None
