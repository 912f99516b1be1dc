"""Reading action logs back: whole, or following the end as it grows (`pipedeck logs -f`)."""

from __future__ import annotations

from pathlib import Path


class LogTail:
    """Hands out the complete lines appended to a file since the last call."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self._partial = b""

    def read_new(self, final: bool = False) -> list[str]:
        """New complete lines; with `final`, also a last line without its newline."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        cut = data.rfind(b"\n")
        if final:
            self._partial = b""
            body = data
        else:
            self._partial = data[cut + 1 :]
            body = data[: cut + 1]
        return body.decode("utf-8", errors="replace").splitlines()
