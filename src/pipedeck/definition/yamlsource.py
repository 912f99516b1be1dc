"""Reading a pipeline file's YAML into plain data plus a map of where everything was.

We let PyYAML parse and compose the node graph, then build the Python values ourselves
instead of using its constructor, for three reasons:

* Locations. Every mapping key and every value gets its 1-based line:column recorded
  under its data path (`("stages", 1, "actions", 0, "timeout")`), so any later error,
  from pydantic or from the structural rules, points at the right spot in the file.
* Duplicate keys. PyYAML silently keeps the last one; we report the second occurrence
  ("duplicate key 'run' (first at line 7)") and keep the first.
* YAML 1.1 typing traps. PyYAML resolves plain scalars with YAML 1.1 rules: `on`, `off`,
  `yes`, `no`, `y`, `n` become booleans, `1.10` becomes the float 1.1, `1:20` becomes 4800
  and `2024-01-01` a date. Here a plain scalar keeps its exact text, except
  `true`/`false` (any case) which are booleans and `null`, `Null`, `NULL`, `~` or nothing,
  which are null. Keys are always their text, so `on:` is the key "on". Numbers therefore
  arrive as text ("10", "1.10") and the model converts them only where it wants a number
  (pydantic parses "2" for `run_order`; durations parse "30" as seconds); where it wants
  text (names, `run`, variables, env values) the text is exactly what was written, so
  `VERSION: 1.10` is "1.10". Quoted scalars and `!!str` are always text.

Anchors and aliases work (an alias is the anchored value again, located where the anchor
was written), and so do merge keys (`<<: *defaults`, or a list of them): keys written in
the mapping win over merged ones, and earlier merge sources win over later ones. Any other
explicit tag (`!!int`, `!!binary`, `!Ref`) is reported, as is a key that is not a scalar.
A self-referencing anchor and alias bombs are reported rather than followed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipedeck.definition.errors import DataPath, Finding, Position

_PLAIN = "tag:pipedeck:plain"
"""The tag every untagged plain scalar gets, so we decide what it means (see above)."""
_YAML = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = f"{_YAML}str", f"{_YAML}seq", f"{_YAML}map"
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_MAX_VALUES = 100_000
"""More values than any real pipeline has; beyond it, aliases are being used as a bomb."""


class SourceError(Exception):
    """The text cannot be read as YAML at all; `finding` says where and why."""

    def __init__(self, finding: Finding) -> None:
        super().__init__(finding.message)
        self.finding = finding


@dataclass
class SourceMap:
    """Data path -> position of the key and of the value written there."""

    keys: dict[DataPath, Position] = field(default_factory=dict)
    values: dict[DataPath, Position] = field(default_factory=dict)

    def value(self, path: DataPath) -> Position:
        """Where the value at `path` starts; for a path the file lacks, its nearest parent."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def key(self, path: DataPath) -> Position:
        """Where the key at `path` is written; list items and the root have only a value."""
        found = self.keys.get(path)
        return found if found is not None else self.value(path)


@dataclass(frozen=True)
class Parsed:
    data: Any
    """Plain dicts (str keys), lists, str, bool and None; None also for an empty file."""
    source_map: SourceMap
    findings: list[Finding]
    """Problems that did not stop reading: duplicate keys, unsupported tags."""


class _Loader(yaml.SafeLoader):
    """PyYAML's safe parser and composer; untagged nodes get tags that decide nothing."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        # Only untagged nodes get here; PyYAML's resolver would apply the YAML 1.1 rules.
        if kind is ScalarNode:
            return _PLAIN if implicit[0] else _STR
        return _SEQ if kind is SequenceNode else _MAP


def parse(text: str) -> Parsed:
    """Parse one YAML document; raises `SourceError` when the text is not YAML."""
    try:
        loader = _Loader(text)
    except yaml.YAMLError as exc:
        raise SourceError(_reader_finding(exc, text)) from None
    builder = _Builder()
    try:
        root = loader.get_single_node()
        data = None if root is None else builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        raise SourceError(_syntax_finding(exc)) from None
    except yaml.YAMLError as exc:
        raise SourceError(_reader_finding(exc, text)) from None
    except RecursionError:
        # Both PyYAML's composer and our builder recurse once per nesting level.
        raise SourceError(Finding((), "the file is nested too deeply", position=(1, 1))) from None
    finally:
        loader.dispose()
    return Parsed(data, builder.source_map, builder.findings)


def _reference_as_comment(node: ScalarNode) -> Position | None:
    """Where a `#{…}` reference YAML took for a comment starts, right after a plain value:
    `run: echo #{matrix.python}` runs `echo`."""
    mark = node.end_mark
    buffer = getattr(mark, "buffer", None)
    if not isinstance(buffer, str):
        return None
    end = buffer.find("\n", mark.pointer)
    rest = buffer[mark.pointer : end if end >= 0 else len(buffer)]
    if not rest.lstrip(" \t").startswith("#{"):
        return None
    return (mark.line + 1, mark.column + 1 + len(rest) - len(rest.lstrip(" \t")))


def _pos(node: Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


def _syntax_finding(exc: yaml.MarkedYAMLError) -> Finding:
    mark = exc.problem_mark or exc.context_mark
    position = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    context, context_line = exc.context, exc.context_mark.line + 1 if exc.context_mark else None
    if problem.startswith("but found another document"):
        message = "a pipeline file holds one YAML document; remove the second '---'"
        return Finding((), message, position=position)
    if problem == "second occurrence" and context:
        # PyYAML splits "duplicate anchor" over context and problem; say it in one piece.
        anchor = context.removeprefix("found ").removesuffix("; first occurrence")
        return Finding((), f"{anchor} (first at line {context_line})", position=position)
    message = f"invalid YAML: {problem}"
    if "'\\t'" in problem:
        message += "; indent with spaces"
    elif context and exc.problem and context_line != position[0]:
        message += f" ({context} at line {context_line})"
    return Finding((), message, position=position)


def _reader_finding(exc: yaml.YAMLError, text: str) -> Finding:
    offset = getattr(exc, "position", None)
    if not isinstance(offset, int):
        return Finding((), f"invalid YAML: {exc}", position=(1, 1))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    character = getattr(exc, "character", None)
    code = f" #x{character:04x}" if isinstance(character, int) else ""
    message = f"control character{code} is not allowed in YAML"
    return Finding((), message, position=(line, column))


class _Builder:
    """Turns composed nodes into plain values, filling the source map on the way."""

    def __init__(self) -> None:
        self.source_map = SourceMap()
        self.findings: list[Finding] = []
        self._count = 0
        self._active: set[int] = set()

    def build(self, node: Node, path: DataPath) -> Any:
        self._count += 1
        if self._count > _MAX_VALUES:
            raise SourceError(
                Finding(path, "aliases expand to too many values", position=_pos(node))
            )
        self.source_map.values[path] = _pos(node)
        if isinstance(node, ScalarNode):
            return self._scalar(node, path)
        self._enter(node, path)
        try:
            if isinstance(node, SequenceNode):
                self._check_tag(node, _SEQ, path)
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            assert isinstance(node, MappingNode)
            self._check_tag(node, _MAP, path)
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _enter(self, node: Node, path: DataPath) -> None:
        # An anchor is registered before its children are composed, so `&a [*a]` is a cycle.
        if id(node) in self._active:
            raise SourceError(Finding(path, "an alias refers to itself", position=_pos(node)))
        self._active.add(id(node))

    def _scalar(self, node: ScalarNode, path: DataPath) -> Any:
        text: str = node.value
        if node.style is None and (where := _reference_as_comment(node)) is not None:
            message = (
                "this `#{` starts a YAML comment (a '#' after a space does), so the reference"
                " and the rest of the line are not part of the value; quote the value, or"
                " write it as a block (`run: |`)"
            )
            self.findings.append(Finding(path, message, position=where))
        if node.tag == _PLAIN:
            if text in _NULLS:
                return None
            if text.lower() in ("true", "false"):
                return text.lower() == "true"
            return text
        self._check_tag(node, _STR, path)
        return text

    def _check_tag(self, node: Node, expected: str, path: DataPath) -> None:
        if node.tag != expected:
            shown = node.tag.replace(_YAML, "!!")
            message = f"tag {shown!r} is not supported; write a plain value (quote it for text)"
            self.findings.append(Finding(path, message, position=_pos(node)))

    def _mapping(self, node: MappingNode, path: DataPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        own, merged = self._entries(node, path)
        for key_node, value_node in own:
            key = self._key(key_node, path)
            if key is None:
                continue
            child = (*path, key)
            if key in result:
                first = self.source_map.keys[child][0]
                message = f"duplicate key {key!r} (first at line {first})"
                self.findings.append(Finding(child, message, "key", _pos(key_node)))
                continue
            self.source_map.keys[child] = _pos(key_node)
            result[key] = self.build(value_node, child)
        for key_node, value_node in merged:
            key = self._key(key_node, path)
            if key is None or key in result:
                continue
            self.source_map.keys[(*path, key)] = _pos(key_node)
            result[key] = self.build(value_node, (*path, key))
        return result

    def _entries(
        self, node: MappingNode, path: DataPath
    ) -> tuple[list[tuple[Node, Node]], list[tuple[Node, Node]]]:
        """The mapping's own entries, and the ones `<<` merges in, in priority order."""
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key_node, value_node in node.value:
            if not (key_node.tag == _PLAIN and key_node.value == "<<"):
                own.append((key_node, value_node))
                continue
            sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
            for source in sources:
                if not isinstance(source, MappingNode):
                    message = "'<<' merges a mapping or a list of mappings"
                    raise SourceError(Finding(path, message, position=_pos(source)))
                self._enter(source, path)
                try:
                    inner_own, inner_merged = self._entries(source, path)
                finally:
                    self._active.discard(id(source))
                self._count += len(inner_own) + len(inner_merged)
                if self._count > _MAX_VALUES:
                    message = "aliases expand to too many values"
                    raise SourceError(Finding(path, message, position=_pos(source)))
                merged.extend(inner_own + inner_merged)
        return own, merged

    def _key(self, node: Node, path: DataPath) -> str | None:
        if isinstance(node, ScalarNode):
            if node.tag != _PLAIN:
                self._check_tag(node, _STR, path)
            return str(node.value)
        kind = "list" if isinstance(node, SequenceNode) else "mapping"
        self.findings.append(
            Finding(path, f"a key must be a plain name, not a {kind}", "key", _pos(node))
        )
        return None
