"""The one way text from outside becomes something the console draws: always literally.

Commit subjects and authors, pipeline, stage and action names, approval messages, variable
values, problem messages, file names and log lines are the repository's words, not ours.
Passed to a widget as a `str`, Textual reads them as markup: `[/]` in a commit subject would
be an error, and `[@click=screen.approve]` a click that approves a gate. So the console never
hands a widget an outside `str`. Its own text is a constant template;
outside values go in through these functions, which make control characters visible
(`pipedeck.visible`) and never parse them:

- `markup("[b]Approve $run[/b]", run=key)`: our markup, their words in the `$` holes;
- `plain(value, style)`: one outside value on its own;
- `line(*pieces)`: pieces made by the two above, side by side, each keeping its styles;
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


def markup(template: str, /, **values: str | int) -> Content:
    """Our own `template` (constant markup), with `$name` filled by `values` as plain text.

    Values are text, not `Content`: Textual's substitution drops a value's own styles, so
    styled pieces are put side by side with `line` instead.
    """
    return Content.from_markup(
        template,
        **{name: Content(visible(str(value), lines=True)) for name, value in values.items()},
    )


def line(*pieces: Content) -> Content:
    """Styled pieces (from `markup` and `plain`) side by side, each keeping its styles."""
    return Content.assemble(*pieces)


def plain(value: object, style: str = "", *, lines: bool = True) -> Content:
    """`value` exactly as written (control characters shown, not obeyed), never markup.

    `style` is a Rich style, as the statuses' looks are (`grey50`, `bold yellow`): the same
    colour here as in the widgets drawn with Rich. `lines=False` shows a newline as `␤`.
    """
    text = visible(str(value), lines=lines)
    if not style:
        return Content(text)
    rich = Text(text)
    rich.stylize(style)  # a span, which Textual converts from Rich's colours
    return Content.from_rich_text(rich)


def rich_plain(value: object, style: str = "") -> Text:
    """`plain` for widgets that take Rich renderables (option lists, table cells)."""
    return Text(visible(str(value)), style=style, end="")


def segment(value: str, style: Style | None = None) -> Segment:
    """One piece of a line drawn by hand; `value` shown as written, on one line."""
    return Segment(visible(value), style)
