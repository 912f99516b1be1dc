"""What the engine raises to a front end: each is a sentence fit for a user.

Kept in one light module so that a front end can name them all (`USER_ERRORS`) and map them
to its way of saying so in one place, without loading the engine to do it.
"""

from __future__ import annotations

from pipedeck.definition.errors import DefinitionError
from pipedeck.gitrepo.location import GitError
from pipedeck.store.store import StoreError


class ProjectError(Exception):
    """Something about the repository or its pipelines the user must fix."""


class EngineError(Exception):
    """A request the engine refuses, phrased for the user."""


class RequestError(Exception):
    """A request refused, phrased for the user."""


class TrustError(Exception):
    """The trust file cannot be used, or a trust request does not match the file."""


USER_ERRORS: tuple[type[Exception], ...] = (
    ProjectError,
    EngineError,
    RequestError,
    TrustError,
    StoreError,
    GitError,
    DefinitionError,
)
"""Every failure the engine and the layers below it phrase for a user: a front end shows its
message as it is, and anything else is a defect."""
