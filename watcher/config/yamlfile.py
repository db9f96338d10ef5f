"""YAML with locations: every value's line by key path, duplicate keys caught, raw scalar text kept.

Rule and config files are validated after loading, and every problem names file, line and key path. The
C loader composes the node tree (fast enough for 10,000 rules); values are built from it here, within
limits that untrusted YAML (a Markdown file's front matter, a rule file someone else wrote) cannot exceed:
aliases may repeat at most MAX_ALIAS_NODES nodes in all (a 600-byte "billion laughs" would otherwise build
gigabytes), an alias may not contain itself, and nesting stops at MAX_DEPTH levels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watcher.errors import Problem

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

KeyPath = tuple[str | int, ...]

MAX_ALIAS_NODES = 10_000
MAX_DEPTH = 64


def format_path(path: KeyPath) -> str:
    """('rules', 0, 'match') as 'rules[0].match'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Located:
    """A loaded YAML document: its value, and where each key path stands in the file."""

    file: str
    value: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    raw: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # Set when the document broke a limit meant for hostile input (alias bomb, self-reference, nesting).
    refused: bool = False

    def line(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Record and return a problem located at `path`."""
        p = Problem(self.file, self.line(path), format_path(path), message)
        self.problems.append(p)
        return p

    def text(self, path: KeyPath, value: Any) -> str | None:
        """A scalar as the author wrote it: `no`, `1984` or `on` stay text where text is expected."""
        if isinstance(value, str):
            return value
        if path in self.raw:
            return self.raw[path]
        return None


def load_yaml(path: Path, display: str | None = None) -> Located:
    """Load one YAML file; syntax errors and duplicate keys become problems, never exceptions."""
    name = display or str(path)
    try:
        source = path.read_bytes()
    except OSError as e:
        doc = Located(name, None)
        doc.problems.append(Problem(name, None, "", f"cannot read: {e.strerror or e}"))
        return doc
    return load_yaml_text(source, name)


def load_yaml_text(source: bytes | str, name: str) -> Located:
    """Load YAML from bytes or text, reporting problems against `name`."""
    doc = Located(name, None)
    try:
        node = yaml.compose(source, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        doc.problems.append(Problem(name, line, "", f"YAML syntax error: {e.problem or e}"))
        return doc
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        doc.problems.append(Problem(name, None, "", f"YAML error: {e}"))
        return doc
    except RecursionError:
        doc.problems.append(Problem(name, None, "", f"nested deeper than {MAX_DEPTH} levels"))
        doc.refused = True
        return doc
    if node is None:
        return doc
    try:
        doc.value = _Builder(doc).build(node, ())
    except _Refused as e:
        doc.problem(e.path, e.message)
        doc.refused = True
        doc.value = None
    return doc


class _Refused(Exception):
    def __init__(self, path: KeyPath, message: str):
        super().__init__(message)
        self.path, self.message = path, message


class _Builder:
    def __init__(self, doc: Located):
        self.doc = doc
        self.scalars = yaml.SafeLoader("")
        self.built: set[int] = set()
        self.repeated = 0
        self.open: set[int] = set()

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.doc.lines[path] = node.start_mark.line + 1
        if len(path) > MAX_DEPTH:
            raise _Refused(path[:8], f"nested deeper than {MAX_DEPTH} levels")
        key = id(node)
        if key in self.built:
            # An alias: its node is built again. Counted, so that aliases of aliases cannot explode.
            self.repeated += 1
            if self.repeated > MAX_ALIAS_NODES:
                raise _Refused(path, f"YAML aliases repeat more than {MAX_ALIAS_NODES} nodes (an alias bomb?)")
        self.built.add(key)
        if not isinstance(node, yaml.ScalarNode):
            if key in self.open:
                raise _Refused(path, "a YAML alias refers to a node that contains it")
            self.open.add(key)
            try:
                return self._collection(node, path)
            finally:
                self.open.discard(key)
        return self._scalar(node, path)

    def _collection(self, node: yaml.Node, path: KeyPath) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.doc.problem(path, "mapping keys must be plain text")
                    continue
                key = key_node.value
                if key == "<<":
                    self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
                    self.doc.problem((*path, key), "YAML merge keys are not supported")
                    continue
                if key in out:
                    self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
                    self.doc.problem((*path, key), f"duplicate key '{key}'")
                    continue
                out[key] = self.build(value_node, (*path, key))
                self.doc.lines[(*path, key)] = key_node.start_mark.line + 1
            return out
        return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        if node.tag == "tag:yaml.org,2002:str":
            return node.value
        try:
            value = self.scalars.construct_object(node)
        except yaml.YAMLError as e:
            self.doc.problem(path, f"invalid value: {e}")
            return None
        self.doc.raw[path] = node.value
        return value
