"""Deploy windows: when an environment takes deploys, written as a cron expression.

`0 9-17 * * 1-5` is open from each moment it names to the end of that hour, in local time:
09:00 to 17:59 on weekdays. So the hour, day and weekday fields say when deploys may start,
and the minute field from when in the hour (`30 16 * * *` is 16:30 to 16:59). Expressions
are parsed by cronsim, which also knows what a daylight-saving change does to local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from cronsim import CronSim, CronSimError

_SEARCH_FROM = datetime(2000, 1, 1).astimezone()


def check_window(value: Any) -> Any:
    """A pydantic validator: the expression parses and names at least one moment."""
    if not isinstance(value, str):
        return value
    fields = len(value.split())
    if fields != 5:
        # cronsim also takes a sixth field, seconds; a window opens on whole minutes.
        raise ValueError(
            f"{value!r} has {fields} field{'s' * (fields != 1)}; a deploy window is five:"
            " minute hour day month weekday"
        )
    try:
        next(CronSim(value, _SEARCH_FROM))
    except CronSimError as exc:
        raise ValueError(f"{value!r} is not a cron expression ({exc})") from None
    except StopIteration:
        raise ValueError(f"{value!r} names no moment at all") from None
    return value


def _minute(moment: datetime) -> datetime:
    return moment.astimezone().replace(second=0, microsecond=0)


def window_open(expression: str, moment: datetime) -> bool:
    """Whether deploys may start at `moment` (aware; compared in local time)."""
    here = _minute(moment)
    # cronsim goes strictly before its start: start a minute later to include `here`.
    last = next(CronSim(expression, here + timedelta(minutes=1), reverse=True), None)
    if last is None:
        return False
    return last.replace(minute=0) == here.replace(minute=0)


def window_opens(expression: str, moment: datetime) -> datetime | None:
    """When the window next opens after `moment`, local time; None if it never does."""
    return next(CronSim(expression, _minute(moment)), None)


def describe_opening(opening: datetime, moment: datetime) -> str:
    """`Mon 09:00`, with the date when it is a week or more away."""
    if opening - moment >= timedelta(days=6):
        return opening.strftime("%a %Y-%m-%d %H:%M")
    return opening.strftime("%a %H:%M")
