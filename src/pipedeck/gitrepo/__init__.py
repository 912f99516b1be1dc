"""Git access: the only package that runs git."""

from typing import TYPE_CHECKING

from pipedeck.lazy import Exports

if TYPE_CHECKING:
    from pipedeck.gitrepo.location import GitError, Location, locate, user_email
    from pipedeck.gitrepo.repo import Commit, GitRepo

__all__ = ["Commit", "GitError", "GitRepo", "Location", "locate", "user_email"]
__getattr__ = Exports(
    __name__,
    {
        "Commit": "repo",
        "GitRepo": "repo",
        "GitError": "location",
        "Location": "location",
        "locate": "location",
        "user_email": "location",
    },
)
