"""Time as the console sees it: real, or frozen so snapshots and screenshots are stable."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass
class Clock:
    frozen_at: datetime | None = None
    """When set, `now()` always answers this and spinners stand still."""

    def now(self) -> datetime:
        return self.frozen_at or datetime.now(UTC)

    def spinner_frame(self, frames: int) -> int:
        if self.frozen_at is not None:
            return 0
        return int(time.monotonic() * 10) % frames


def elapsed(clock: Clock, started: str | None, finished: str | None) -> str:
    """`1.2s`, `3m04s`, `1h02m`: how long something ran, or has been running."""
    if not started:
        return ""
    start = datetime.fromisoformat(started.replace("Z", "+00:00"))
    end = datetime.fromisoformat(finished.replace("Z", "+00:00")) if finished else clock.now()
    seconds = max(0.0, (end - start).total_seconds())
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def age(clock: Clock, stamp: str) -> str:
    """`5s`, `3m`, `2h`, `4d` ago."""
    then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    seconds = max(0, int((clock.now() - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
