"""Secrets out of output: every form of a value an action might print becomes `***`.

The forms: the value as it is, base64 (standard, unpadded, URL-safe), URL-encoded (`%20` and
`+` for spaces) and JSON-escaped (as `json.dumps` writes it inside quotes). Output arrives in
chunks that may cut a value in two, so the tail of a chunk that could be the start of one is
held back until the next chunk (or the end) says whether it is.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from collections.abc import Iterable

MASK = b"***"
MIN_LENGTH = 6
"""Shorter values are refused: masking `abc` would mask every `abc` of a log, and a short
value shows through anyway (one per line is a dictionary attack in plain sight)."""


def forms(value: str) -> set[bytes]:
    """The byte strings that stand for `value` in output."""
    raw = value.encode()
    found = {raw}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        found |= {encoded, encoded.rstrip(b"=")}
    found.add(urllib.parse.quote(value, safe="").encode())
    found.add(urllib.parse.quote_plus(value, safe="").encode())
    for ascii_only in (True, False):
        found.add(json.dumps(value, ensure_ascii=ascii_only)[1:-1].encode())
    return {f for f in found if f}


class Masker:
    """Masks a stream of output chunks (`feed`, then `flush`), or whole texts (`text`)."""

    def __init__(self, values: Iterable[str]) -> None:
        patterns = sorted({f for value in values for f in forms(value)}, key=len, reverse=True)
        if not patterns:
            raise ValueError("a masker needs a value to mask")
        self._pattern = re.compile(b"|".join(re.escape(p) for p in patterns))
        self._longest = len(patterns[0])
        self._prefixes = {p[:k] for p in patterns for k in range(1, len(p))}
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """What of `chunk` (after what was held back) can be passed on now, masked."""
        masked = self._pattern.sub(MASK, self._pending + chunk)
        keep = 0
        for k in range(min(self._longest - 1, len(masked)), 0, -1):
            if masked[-k:] in self._prefixes:
                keep = k
                break
        self._pending = masked[len(masked) - keep :]
        return masked[: len(masked) - keep]

    def flush(self) -> bytes:
        """The end of output: what was held back was no secret after all."""
        rest, self._pending = self._pending, b""
        return rest

    def text(self, value: str) -> str:
        """`value` with every form of every secret masked (a variable an action exported)."""
        return self._pattern.sub(MASK, value.encode()).decode("utf-8", errors="replace")
