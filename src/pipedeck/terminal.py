"""Build output on a terminal: its colours kept, nothing else it could make the terminal do.

`pipedeck run` and `logs` pass an action's output through as `cat` would when it goes to a
pipe or a file (byte for byte: it may be parsed). On a terminal, an escape sequence in it
could retitle the window, write the clipboard (OSC 52), move the cursor over earlier lines
or clear the screen. So there, SGR sequences (colours, bold) are kept and every other escape
sequence (CSI, OSC, DCS, SOS, PM, APC, and the two-character ones) is dropped whole, and the
control characters left (BEL, BS, a stray ESC, C1, bidi overrides) are shown, not obeyed.
Tabs, newlines and carriage returns stay: progress bars redraw their own line with `\r`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TextIO

from pipedeck.visible import visible

_SEQUENCE = re.compile(
    r"(?P<sgr>\x1b\[[0-9;:]*m)"
    r"|\x1b\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"  # CSI, 7- and 8-bit
    r"|\x1b\][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c|$)"  # OSC, to BEL or ST (or the end)
    r"|\x1b[PX^_].*?(?:\x1b\\|\x9c|$)"  # DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]",  # every other escape sequence
    re.DOTALL,
)


def for_terminal(text: str) -> str:
    """`text` as a terminal may be given it: colours, and nothing that acts."""
    if "\x1b" not in text and "\x9b" not in text and _plain(text):
        return text
    kept = _SEQUENCE.sub(lambda m: m.group("sgr") or "", text)
    # What is left of SGR is re-inserted after the rest is shown: split on them.
    parts = re.split(r"(\x1b\[[0-9;:]*m)", kept)
    return "".join(
        part if i % 2 else visible(part, lines=True, keep="\r\t") for i, part in enumerate(parts)
    )


def _plain(text: str) -> bool:
    """Only newlines, tabs and carriage returns among its controls."""
    return text.translate(_WHITESPACE).isprintable()


_WHITESPACE = {ord("\n"): None, ord("\t"): None, ord("\r"): None}


def shown_for(out: TextIO) -> Callable[[str], str]:
    """How build output is written to `out`: as it is to a pipe or a file (byte-exact), and
    with nothing but its colours to a terminal."""
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    return for_terminal if tty else _as_is


def _as_is(text: str) -> str:
    return text


def prefix_lines(prefix: str, text: str) -> str:
    """Prefix every line of a newline-terminated batch at once (no per-line Python loop)."""
    body = text[:-1] if text.endswith("\n") else text
    return prefix + body.replace("\n", "\n" + prefix) + "\n"
