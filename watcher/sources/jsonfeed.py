"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1): its documents as items, and the value helpers that
the JSON readers share.
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import Any

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.dates import parse_date
from watcher.sources.entries import is_empty, kept_entries
from watcher.sources.markup import html_to_text

_SURROGATE = re.compile("[\ud800-\udfff]")


def is_json_feed(doc: Any) -> bool:
    """A JSON Feed, version 1 or 1.1, under either scheme (WordPress writes http://jsonfeed.org/version/1)."""
    version = str(doc.get("version", "")) if isinstance(doc, dict) else ""
    return version.startswith(("https://jsonfeed.org/version/", "http://jsonfeed.org/version/"))


def json_feed_items(doc: dict[str, Any], source: str, name: str, path: str | None = None) -> list[Item]:
    """The items of a JSON Feed document; entries without id fall back to url, then a content hash."""
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise ReadError(f"{name}: JSON Feed without an items list")
    items = [_json_feed_item(e, source, path) for e in entries if isinstance(e, dict)]
    kept = [item for item in items if not is_empty(item)]
    return kept_entries(kept, name, empty=len(entries) - len(kept))


def _json_feed_item(entry: dict[str, Any], source: str, path: str | None) -> Item:
    content = as_text(entry.get("content_text"))
    if not content and entry.get("content_html"):
        content = html_to_text(as_text(entry.get("content_html")))[1]
    authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
    names = [as_text(a["name"]) for a in authors if isinstance(a, dict) and a.get("name")]
    link = as_text(entry.get("url")) or None
    guid = as_text(entry.get("id")) or link or _hash_guid(as_text(entry.get("title")), content)
    raw_date = entry.get("date_published") or entry.get("date_modified")
    published = parse_date(raw_date)
    return Item(
        source=source,
        guid=guid,
        link=link,
        # Plain text by the spec, yet many publishers put HTML entities in it ("Tasks &amp; Sub Tasks").
        title=html.unescape(as_text(entry.get("title"))),
        summary=as_text(entry.get("summary")),
        content=content,
        published=published,
        date_text=as_text(raw_date)[:100] if raw_date and published is None else None,
        author=", ".join(names),
        path=path,
    )


def as_text(value: Any) -> str:
    """A JSON value as text: None is empty, anything else its str(). An unpaired surrogate (JSON's `\ud800`
    escape with no partner) is no character, and would fail the item wherever it is encoded: it becomes
    U+FFFD."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return _SURROGATE.sub("\ufffd", text)


def _hash_guid(title: str, content: str) -> str:
    return "sha256:" + hashlib.sha256(f"{title}\x00{content}".encode()).hexdigest()[:32]
