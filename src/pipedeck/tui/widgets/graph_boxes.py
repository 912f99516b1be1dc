"""Drawing the stage graph as rows of styled cells, without Rich's layout engine.

The graph repaints several times a second while a run is live (spinners, elapsed times), and
Rich's `Table`/`Panel` measuring made each repaint cost as much as a frame's whole budget.
Boxes here are simple enough to draw directly: every line of a box is exactly its width, a
row of boxes is the boxes' lines side by side with an arrow column before each box but the
first, centred on the tallest box. Text that does not fit a box is cut with an ellipsis.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

Line = list[Segment]

BOX_MIN, BOX_MAX = 16, 36
ARROW, HELD = " → ", " ╳ "  # noqa: RUF001 - a cross, not an X
ARROW_STYLE = Style.parse("bold grey50")
HELD_STYLE = Style.parse("bold red")


@dataclass(frozen=True)
class Box:
    """One stage: a rounded box, `width` cells wide, its title top left, subtitle bottom right."""

    title: str
    subtitle: str
    body: list[Line]
    border: Style
    held: bool = False
    """The transition into this stage is disabled: its arrow is drawn as a cross."""

    @property
    def width(self) -> int:
        content = max([len(self.title) + 4] + [_length(line) for line in self.body])
        return max(BOX_MIN, min(BOX_MAX, content + 4))

    def lines(self) -> list[Line]:
        width = self.width
        inner = width - 4
        bold = self.border + Style(bold=True)
        title = _fit(self.title, width - 5)
        top = [
            Segment("╭─", self.border),
            Segment(f" {title} ", bold),
            Segment("─" * (width - cell_len(title) - 5) + "╮", self.border),
        ]
        drawn = [top]
        for line in self.body or [[]]:
            content = _crop(line, inner)
            pad = inner - _length(content)
            # Padding is unstyled, as in a terminal the border is only its line characters.
            bar = Segment("│", self.border)
            drawn.append([bar, Segment(" "), *content, Segment(" " * (pad + 1)), bar])
        bottom: Line
        if self.subtitle and cell_len(self.subtitle) <= width - 5:
            rest = width - cell_len(self.subtitle) - 5
            bottom = [
                Segment("╰" + "─" * rest, self.border),
                Segment(f" {self.subtitle} ", self.border),
                Segment("─╯", self.border),
            ]
        else:
            bottom = [Segment("╰" + "─" * (width - 2) + "╯", self.border)]
        drawn.append(bottom)
        return drawn


def layout(boxes: list[Box], width: int) -> list[Line]:
    """The boxes left to right, wrapping onto a new row when the next would not fit."""
    width = max(width, BOX_MIN + len(ARROW))
    rows: list[list[Box]] = [[]]
    used = 0
    for box in boxes:
        if rows[-1] and used + len(ARROW) + box.width > width:
            rows.append([])
            used = 0
        used += box.width + (len(ARROW) if rows[-1] else 0)
        rows[-1].append(box)
    lines: list[Line] = []
    for r, row in enumerate(rows):
        drawn = [box.lines() for box in row]
        height = max((len(box) for box in drawn), default=0)
        middle = (height - 1) // 2
        for y in range(height):
            line: Line = []
            for c, (box, box_lines) in enumerate(zip(row, drawn, strict=True)):
                if c or r:
                    arrow = HELD if box.held else ARROW
                    style = HELD_STYLE if box.held else ARROW_STYLE
                    line.append(Segment(arrow if y == middle else " " * len(ARROW), style))
                if y < len(box_lines):
                    line.extend(box_lines[y])
                else:
                    line.append(Segment(" " * box.width))
            lines.append(line)
    return lines


def plain(lines: list[Line]) -> str:
    """The graph as text, one line per row (what the terminal shows, without colour)."""
    return "\n".join("".join(s.text for s in line).rstrip() for line in lines)


def _length(line: Line) -> int:
    return sum(cell_len(segment.text) for segment in line)


def _fit(text: str, width: int) -> str:
    if cell_len(text) <= width:
        return text
    return "".join(s.text for s in _crop([Segment(text)], width))


def _crop(line: Line, width: int) -> Line:
    """`line` cut to `width` cells, its last cell an ellipsis when something was cut."""
    if _length(line) <= width:
        return line
    kept: Line = []
    room = width - 1
    for segment in line:
        size = cell_len(segment.text)
        if size <= room:
            kept.append(segment)
            room -= size
            continue
        text = segment.text
        while text and cell_len(text) > room:
            text = text[:-1]
        if text:
            kept.append(Segment(text, segment.style))
            room -= cell_len(text)
        break
    kept.append(Segment("…", kept[-1].style if kept else None))
    return kept
