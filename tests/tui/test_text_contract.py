"""The console's contract with outside text, checked in its source: no widget is handed a
string built from values (an f-string, `+`, `%`, `.format`), because Textual would read it
as markup. Such text goes through `pipedeck.tui.text` (`markup`, `plain`, `rich_plain`), and
only that module parses markup at all. Toasts are literal by construction
(`PipedeckApp.notify`), so `notify` is not a sink here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TUI = Path(__file__).resolve().parents[2] / "src" / "pipedeck" / "tui"

SINKS = {"Static", "Label", "Button", "Option", "update", "add_row", "add_column", "Select"}
"""Calls whose text arguments Textual renders as markup when given a `str`."""
NOT_TEXT = {"id", "classes", "key", "name", "variant"}
"""Keyword arguments that name a widget rather than show text."""
TITLES = {"border_title", "border_subtitle"}
PARSERS = {"from_markup", "render_str"}


def built_string(node: ast.expr) -> bool:
    """An expression that builds a string out of values."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return built_string(node.left) or built_string(node.right) or _is_str(node.left)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("format", "join") and _is_str(node.func.value)
    return False


def _is_str(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr
    )


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in SINKS:
                args = [*node.args, *(k.value for k in node.keywords if k.arg not in NOT_TEXT)]
                found += [
                    f"{path.name}:{node.lineno}: {name}() is handed a built string"
                    for arg in args
                    if built_string(arg)
                ]
            if name in PARSERS and path.name != "text.py":
                found.append(f"{path.name}:{node.lineno}: {name}() parses markup outside text.py")
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr in TITLES
                    and built_string(node.value)
                ):
                    found.append(f"{path.name}:{node.lineno}: {target.attr} is a built string")
    return sorted(found, key=lambda v: int(v.split(":")[1]))


@pytest.mark.parametrize("path", sorted(TUI.rglob("*.py")), ids=lambda p: p.name)
def test_no_widget_is_handed_a_built_string(path: Path) -> None:
    assert violations(path) == []


def test_the_check_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The checker itself: each way of building a string is caught."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Static(f'[b]{name}[/b]')\n"
        "widget.update('HEAD ' + subject)\n"
        "Label('%s' % name)\n"
        "Button('{}'.format(name))\n"
        "view.border_title = f'{stage}/{action}'\n"
        "Content.from_markup(text)\n"
        "Static('constant [b]markup[/b]')\n"
        "Static(markup('[b]$name[/b]', name=name))\n"
    )
    assert [v.split(": ", 1)[0] for v in violations(sample)] == [
        "sample.py:1",
        "sample.py:2",
        "sample.py:3",
        "sample.py:4",
        "sample.py:5",
        "sample.py:6",
    ]
