"""The one way text from outside becomes something the console draws: always literally.

Commit subjects and authors, pipeline, stage and action names, approval messages, variable
values, problem messages, file names and log lines are the repository's words, not ours.
Passed to a widget as a `str`, Textual reads them as markup: `[/]` in a commit subject
crashed the console, and `[@click=screen.approve]` made a subject approve a gate when clicked.
So the console never hands a widget an outside `str`. Its own text is a constant template;
outside values go in through these functions, which make control characters visible
(`pipedeck.visible`) and never parse them:

- `markup("[b]Approve $run[/b]", run=key)`: our markup, their words in the `$` holes;
- `plain(value, style)`: one outside value on its own;
- `rich_plain(value, style)`: the same for the few widgets built on Rich renderables;
- `segment(value, style)`: the same for widgets drawn line by line (the stage graph).

`tests/tui/test_hostile_text.py` feeds a corpus of hostile strings through every screen, and
`tests/tui/test_text_contract.py` checks that no widget is handed an interpolated string.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.content import Content

from pipedeck.visible import visible


def markup(template: str, /, **values: object) -> Content:
    """Our own `template` (constant markup), with `$name` filled by `values` as plain text."""
    return Content.from_markup(
        template, **{name: _literal(value) for name, value in values.items()}
    )


def plain(value: object, style: str = "", *, lines: bool = True) -> Content:
    """`value` exactly as written (control characters shown, not obeyed), never markup.

    `lines=False` shows a newline as `␤`, for places that hold one line (a table cell).
    """
    if isinstance(value, Content):
        return value.stylize(style) if style else value
    text = visible(str(value), lines=lines)
    return Content.styled(text, style) if style else Content(text)


def rich_plain(value: object, style: str = "") -> Text:
    """`plain` for widgets that take Rich renderables (option lists, table cells)."""
    return Text(visible(str(value)), style=style, end="")


def segment(value: str, style: Style | None = None) -> Segment:
    """One piece of a line drawn by hand; `value` shown as written, on one line."""
    return Segment(visible(value), style)


def _literal(value: object) -> Content:
    # A Content is ours already (styled pieces built with `plain`); anything else is outside.
    return value if isinstance(value, Content) else Content(visible(str(value), lines=True))
