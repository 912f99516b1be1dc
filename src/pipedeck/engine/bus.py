"""Fan-out of engine events to whoever subscribed; the engine never knows who that is."""

from __future__ import annotations

from collections.abc import Callable

from pipedeck.engine.events import Event

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
            listener(event)
