"""The base of the main screen's mixins (`Steering`, `Approving`): a `Screen` to the type
checker, so their methods may use the screen's own, and plain `object` at run time, so the
main screen's class hierarchy holds one `Screen`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.screen import Screen

    ScreenPart = Screen[None]
else:
    ScreenPart = object
