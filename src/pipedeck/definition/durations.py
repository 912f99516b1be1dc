"""Durations as people write them in pipeline files: `30s`, `10m`, `2h`, `7d`, `1h30m`.

A bare number is seconds. The YAML loader hands numbers over as the text written, so
"90" arrives here as a string and means 90 seconds, just like the number 90.
"""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = r"(\d+(?:\.\d+)?)\s*([smhd])"

DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*[smhd]\s*)+$|^\s*\d+(\.\d+)?\s*$"
"""What a duration written as text looks like; also published in the JSON Schema."""

_HINT = "write it like 30s, 10m, 2h, 7d or 1h30m"
MAX_SECONDS = 30 * 86400.0
"""30 days: more is a typo (`7000d`), and sleeps that long overflow the event loop's timers."""


def parse_duration(value: Any) -> Any:
    """Turn `10m` into 600.0 seconds; bare numbers are seconds. Other types pass through
    so pydantic reports them with its own message."""
    if isinstance(value, bool):
        raise ValueError(f"a duration must be like 30s or 10m, not {str(value).lower()}")
    if isinstance(value, int | float):
        return _positive(float(value))
    if isinstance(value, str):
        if not re.fullmatch(DURATION_PATTERN, value):
            raise ValueError(f"{value!r} is not a duration; {_HINT}")
        parts = re.findall(_PART, value)
        if not parts:
            return _positive(float(value))
        return _positive(sum(float(amount) * _UNITS[unit] for amount, unit in parts))
    return value


def _positive(seconds: float) -> float:
    if not seconds > 0:  # also rejects NaN
        raise ValueError("a duration must be longer than zero")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration can be at most 30d")
    return seconds
