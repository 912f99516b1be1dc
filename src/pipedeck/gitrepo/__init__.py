"""Git access: the only package that runs git."""

from pipedeck.gitrepo.repo import Commit, GitError, GitRepo

__all__ = ["Commit", "GitError", "GitRepo"]
