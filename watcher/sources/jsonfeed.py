"""JSON Feed (https://jsonfeed.org, versions 1 and 1.1): its documents as items, and the value helpers that
the JSON readers share.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.markup import html_to_text


def is_json_feed(doc: Any) -> bool:
    return isinstance(doc, dict) and str(doc.get("version", "")).startswith("https://jsonfeed.org/version/")


def json_feed_items(doc: dict[str, Any], source: str, name: str, path: str | None = None) -> list[Item]:
    """The items of a JSON Feed document; entries without id fall back to url, then a content hash."""
    entries = doc.get("items")
    if not isinstance(entries, list):
        raise ReadError(f"{name}: JSON Feed without an items list")
    items: list[Item] = []
    seen: set[str] = set()
    for entry in entries:
        if isinstance(entry, dict):
            item = _json_feed_item(entry, source, path)
            if item.guid not in seen:
                seen.add(item.guid or "")
                items.append(item)
    return items


def _json_feed_item(entry: dict[str, Any], source: str, path: str | None) -> Item:
    content = as_text(entry.get("content_text"))
    if not content and entry.get("content_html"):
        content = html_to_text(as_text(entry.get("content_html")))[1]
    authors = entry.get("authors") or ([entry["author"]] if isinstance(entry.get("author"), dict) else [])
    names = [a.get("name", "") for a in authors if isinstance(a, dict) and a.get("name")]
    link = as_text(entry.get("url")) or None
    guid = as_text(entry.get("id")) or link or _hash_guid(as_text(entry.get("title")), content)
    return Item(
        source=source,
        guid=guid,
        link=link,
        title=as_text(entry.get("title")),
        summary=as_text(entry.get("summary")),
        content=content,
        published=parse_date(entry.get("date_published") or entry.get("date_modified")),
        author=", ".join(str(n) for n in names),
        path=path,
    )


def as_text(value: Any) -> str:
    """A JSON value as text: None is empty, anything else its str()."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _hash_guid(title: str, content: str) -> str:
    return "sha256:" + hashlib.sha256(f"{title}\x00{content}".encode()).hexdigest()[:32]


def parse_date(value: Any) -> datetime | None:
    """An ISO 8601 date or datetime (str, date or datetime) in UTC; naive values are taken as UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif hasattr(value, "isoformat") and hasattr(value, "year"):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
