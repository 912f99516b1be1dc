"""Requests any process may make of a run: approve, reject, cancel.

They are written to the store, where the engine running the run picks them up; the engine's
own methods call these too, so a decision from the console and one from another shell take
the same path and obey the same rules.
"""

from __future__ import annotations

import getpass

from pipedeck.store import ApprovalRecord, RunRecord, Store, StoreError


class RequestError(Exception):
    """A request refused, phrased for the user."""


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def approve(
    store: Store,
    run: RunRecord,
    comment: str | None = None,
    by: str | None = None,
    action: str | None = None,
) -> ApprovalRecord:
    """Approve the run's waiting approval (`action`: `STAGE/ACTION` when several wait)."""
    return _decide(store, run, "approved", comment, by, action)


def reject(
    store: Store, run: RunRecord, comment: str, by: str | None = None, action: str | None = None
) -> ApprovalRecord:
    if not comment or not comment.strip():
        raise RequestError("a rejection needs a reason (--comment TEXT)")
    return _decide(store, run, "rejected", comment, by, action)


def _decide(
    store: Store,
    run: RunRecord,
    result: str,
    comment: str | None,
    by: str | None,
    action: str | None,
) -> ApprovalRecord:
    try:
        return store.decide(run, result, by or current_user(), comment, action=action)
    except StoreError as exc:
        raise RequestError(str(exc)) from None


def cancel(store: Store, run: RunRecord) -> None:
    try:
        store.request_cancel(run)
    except StoreError as exc:
        raise RequestError(str(exc)) from None
