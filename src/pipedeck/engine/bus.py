"""Fan-out of engine events to whoever subscribed; the engine never knows who that is."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pipedeck.engine.events import Event

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Add a listener; returns the function that removes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @property
    def has_listeners(self) -> bool:
        """Lets hot paths skip building events (decoding log bytes) nobody will read."""
        return bool(self._listeners)

    def publish(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                # A broken listener (a closed pipe, a bug in a view) must not stop a run: the
                # run's state lives in the store regardless. It is dropped and reported once.
                log.exception("event listener %r failed; unsubscribed", listener)
                self._listeners.remove(listener)
