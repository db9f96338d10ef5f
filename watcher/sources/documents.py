"""Readers for one document file, by type; each returns the items the file holds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2

from watcher.config.yamlfile import load_yaml_text
from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.dates import parse_date
from watcher.sources.decode import decode_text, html_charset
from watcher.sources.jsonfeed import as_text, is_json_feed, json_feed_items
from watcher.sources.markup import html_to_text
from watcher.sources.parse import feed_items

_TITLE_MAX = 200
# RE2 (linear time) for every pattern over a file's text: with `re`, 100 KB of "[" took 29 s in _MD_LINK.
_MD_HEADING = re2.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_MD_SETEXT = re2.compile(r"^\s{0,3}(=+|-+)\s*$")
_MD_LINK = re2.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_FRONT_MATTER = re2.compile(r"(?s)\A---\s*\n(.*?)\n(?:---|\.\.\.)\s*(?:\n|\z)")

Reader = Callable[[Path, bytes, str], list[Item]]
_ITEM_FIELDS = frozenset({"title", "content", "text", "body", "summary", "description"})


def read_txt(path: Path, data: bytes, source: str) -> list[Item]:
    """Plain text: the first line is the title when short and followed by a blank line."""
    text = decode_text(data).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    title, body = path.name, text
    first = lines[0].strip() if lines else ""
    if first and len(first) <= _TITLE_MAX and len(lines) > 2 and not lines[1].strip():
        title, body = first, "\n".join(lines[2:])
    return [Item(source=source, title=title, content=body.strip(), path=str(path))]


def read_md(path: Path, data: bytes, source: str) -> list[Item]:
    """Markdown: YAML front matter if any, the first heading as title, links reduced to their text."""
    text = decode_text(data).replace("\r\n", "\n")
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        # Front matter is untrusted YAML: the located loader refuses alias bombs and deep nesting.
        loaded = load_yaml_text(m.group(1), str(path))
        if loaded.refused:
            problem = loaded.problems[-1]
            line = f", line {problem.line + 1}" if problem.line else ""
            raise ReadError(f"{path}: front matter{line}: {problem.message}")
        if isinstance(loaded.value, dict):
            meta = loaded.value
            text = text[m.end() :]
    lines = text.split("\n")
    title = ""
    for i, line in enumerate(lines):
        hm = _MD_HEADING.match(line)
        if hm:
            title = hm.group(1)
            del lines[i]
            break
        if line.strip() and i + 1 < len(lines) and _MD_SETEXT.match(lines[i + 1]) and line.strip()[0] != "-":
            title = line.strip()
            del lines[i : i + 2]
            break
    body = _MD_LINK.sub(r"\1", "\n".join(lines)).strip()
    item = Item(source=source, title=str(meta.get("title") or title or path.name), content=body, path=str(path))
    _apply_meta(item, meta)
    return [item]


def read_html(path: Path, data: bytes, source: str) -> list[Item]:
    """HTML: visible text only; <title> or the first <h1> as title."""
    title, body = html_to_text(decode_text(data, html_charset(data)))
    return [Item(source=source, title=title or path.name, content=body, path=str(path))]


def read_json(path: Path, data: bytes, source: str) -> list[Item]:
    """JSON Feed 1.x, or plain objects (one or a list) with title/link/content/published/guid keys."""
    try:
        doc = json.loads(decode_text(data))
    except ValueError as e:
        raise ReadError(f"{path}: invalid JSON: {e}") from None
    if is_json_feed(doc):
        return json_feed_items(doc, source, str(path), path=str(path))
    objects = doc if isinstance(doc, list) else [doc]
    # An object names no item field (RSS turned into JSON, any other document): it is no item.
    items = [_plain_item(o, source, path) for o in objects if isinstance(o, dict) and _ITEM_FIELDS & o.keys()]
    if not items:
        raise ReadError(f"{path}: no JSON objects with item fields ({', '.join(sorted(_ITEM_FIELDS))})")
    return items


def read_feed(path: Path, data: bytes, source: str) -> list[Item]:
    """A saved RSS/Atom/RDF feed: one item per entry."""
    items = feed_items(data, source=source, name=str(path))
    for item in items:
        item.path = str(path)
    return items


def _plain_item(obj: dict[str, Any], source: str, path: Path) -> Item:
    item = Item(source=source, title=as_text(obj.get("title")), path=str(path))
    content = obj.get("content") or obj.get("text") or obj.get("body") or ""
    item.content = as_text(content)
    item.summary = as_text(obj.get("summary") or obj.get("description"))
    _apply_meta(item, obj)
    return item


def _apply_meta(item: Item, meta: dict[str, Any]) -> None:
    link = meta.get("link") or meta.get("url")
    if link:
        item.link = as_text(link)
    guid = meta.get("guid") or meta.get("id")
    if guid:
        item.guid = as_text(guid)
    published = meta.get("published") or meta.get("date")
    if published:
        item.published = parse_date(published)
    if meta.get("author"):
        item.author = as_text(meta["author"])


def read_document(path: Path, data: bytes, source: str) -> list[Item]:
    """A document file's items, read by the type its name says; ReadError when it cannot be read."""
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise ReadError(f"{path}: unknown file type {path.suffix or '(none)'}")
    return reader(path, data, source)


# Plain text: read with a decode and a split, linear, no parser. Cheaper to read than to hand to a thread or
# a worker process.
PLAIN_TEXT = frozenset({".txt", ".text"})

READERS: dict[str, Reader] = {
    ".txt": read_txt,
    ".text": read_txt,
    ".md": read_md,
    ".markdown": read_md,
    ".html": read_html,
    ".htm": read_html,
    ".json": read_json,
    ".xml": read_feed,
    ".rss": read_feed,
    ".atom": read_feed,
    ".rdf": read_feed,
}
