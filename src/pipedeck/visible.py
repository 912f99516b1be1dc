"""Outside text made safe to show: nothing in it can act on a terminal or reorder a line.

Commit subjects, log lines, pipeline names and error messages come from the repository and
from whatever an action printed. Written to a terminal as they are, an escape sequence in a
commit subject could clear the screen or retitle the window, and a bidirectional override could
make a line read differently from what it says. Control characters (C0, DEL, C1) and the
bidirectional embeddings, overrides and isolates are each replaced one for one by a visible
stand-in, so the text keeps its length (styles laid over it by position stay in place) and a
person still sees that something odd was there. Marks that only lean neutral characters one
way (LRM, RLM), zero-width characters and line separators are left alone: right-to-left text
needs the marks, and none of them moves text across a line.

Used by the console (through `tui.text`) and by the command line's own lines; it imports
nothing, so every layer may use it.
"""

from __future__ import annotations

from functools import lru_cache

REPLACEMENT = "\ufffd"

_C0 = {code: chr(0x2400 + code) for code in range(0x20)}  # ␀ … ␟, Unicode's control pictures
_TABLE: dict[int, str] = {
    **_C0,
    0x09: " ",
    0x7F: "\u2421",  # ␡
    **dict.fromkeys(range(0x80, 0xA0), REPLACEMENT),  # C1 controls (0x9b is CSI on its own)
    # Embeddings, overrides and isolates reorder what follows them ("Trojan Source").
    **dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)], REPLACEMENT),
}
_SINGLE_LINE = {**_TABLE, 0x0A: "\u2424"}  # ␤
_MULTI_LINE = {key: value for key, value in _TABLE.items() if key != 0x0A}


def visible(text: str, *, lines: bool = False, keep: str = "") -> str:
    """`text` with every control character shown, not obeyed; `lines` keeps newlines.

    `keep`: characters left as they are for a caller that deals with them next (a log view
    decodes its ANSI colours, then shows what is left). Text for which `str.isprintable()`
    holds is returned unchanged, so a hot path may skip the call for such text.
    """
    return text.translate(_table(lines, keep))


@lru_cache(maxsize=8)
def _table(lines: bool, keep: str) -> dict[int, str]:
    table = _MULTI_LINE if lines else _SINGLE_LINE
    return {code: c for code, c in table.items() if chr(code) not in keep} if keep else table
