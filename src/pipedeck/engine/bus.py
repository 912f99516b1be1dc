"""Fan-out of engine events to whoever subscribed; the engine never knows who that is."""

from __future__ import annotations

import logging
from collections.abc import Callable

from pipedeck.engine.events import Event, LogLines

log = logging.getLogger(__name__)

Listener = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._listeners: list[tuple[Listener, bool]] = []

    def subscribe(self, listener: Listener, *, logs: bool = True) -> Callable[[], None]:
        """Add a listener; returns the function that removes it.

        `logs=False` skips `LogLines`: a client that reads logs from disk itself (the console)
        then costs the engine nothing per chunk of output.
        """
        entry = (listener, logs)
        self._listeners.append(entry)
        return lambda: self._listeners.remove(entry)

    @property
    def wants_logs(self) -> bool:
        """Lets hot paths skip building `LogLines` (decoding output) nobody will read."""
        return any(logs for _, logs in self._listeners)

    def publish(self, event: Event) -> None:
        is_log = isinstance(event, LogLines)
        for entry in list(self._listeners):
            listener, logs = entry
            if is_log and not logs:
                continue
            try:
                listener(event)
            except Exception:
                # A broken listener (a bug in a view, say) must not stop a run: the run's
                # state lives in the store regardless. It is dropped and reported once.
                log.exception("event listener %r failed; unsubscribed", listener)
                self._listeners.remove(entry)
