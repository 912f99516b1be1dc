"""The stage graph's drawing: boxes, their rows, and what happens when text does not fit."""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style

from pipedeck.tui.widgets.graph_boxes import BOX_MAX, Box, layout, plain

PLAIN = Style()


def box(title: str, *lines: str, subtitle: str = "", held: bool = False) -> Box:
    return Box(title, subtitle, [[Segment(line)] for line in lines], PLAIN, held=held)


def test_a_box_is_its_title_its_lines_and_its_subtitle() -> None:
    drawn = plain(layout([box("Build", "✔ compile 1.1s", subtitle="4.7s")], 80))
    assert drawn.splitlines() == [
        "╭─ Build ────────╮",
        "│ ✔ compile 1.1s │",
        "╰───────── 4.7s ─╯",
    ]


def test_boxes_stand_in_a_row_joined_by_arrows_at_the_middle_of_the_tallest() -> None:
    lines = layout([box("A", "one", "two", "three"), box("B", "x")], 80)
    drawn = plain(lines).splitlines()
    assert len(drawn) == 5
    assert [line.count("→") for line in drawn] == [0, 0, 1, 0, 0]
    assert drawn[2] == "│ two          │ → ╰──────────────╯"
    # Below the shorter box its column is blank, so every line is as wide as the row.
    assert {sum(cell_len(s.text) for s in line) for line in lines} == {16 + 3 + 16}


def test_a_held_transition_is_drawn_as_a_cross() -> None:
    drawn = plain(layout([box("A", "one"), box("Deploy", "prod", held=True)], 80))
    assert "╳" in drawn  # noqa: RUF001 - a cross, not an X
    assert "→" not in drawn


def test_boxes_wrap_onto_a_new_row_that_starts_with_the_arrow() -> None:
    boxes = [box(name, "✔ action") for name in ("One", "Two", "Three")]
    rows = plain(layout(boxes, 40)).splitlines()
    assert len(rows) == 6  # two rows of three-line boxes
    assert rows[4].startswith(" → │ ✔ action")
    assert "Three" in rows[3]
    assert "→" in rows[1]  # between One and Two, on the first row


def test_text_too_wide_for_the_widest_box_is_cut_with_an_ellipsis() -> None:
    long = "x" * 60
    lines = layout([box("Build", f"✔ {long}")], 200)
    widths = {sum(cell_len(s.text) for s in line) for line in lines}
    assert widths == {BOX_MAX}
    body = plain(lines).splitlines()[1]
    assert body.endswith("… │")


def test_wide_characters_count_as_two_cells() -> None:
    lines = layout([box("Test", "⏳ waiting: #3 #4")], 80)
    assert len({sum(cell_len(s.text) for s in line) for line in lines}) == 1
