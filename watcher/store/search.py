"""Reading back what the store holds: full-text search over items, and the alerts recorded."""

from __future__ import annotations

import re
from typing import Any

from watcher.errors import WatcherError
from watcher.store.sqlite import Store

_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def fts_query(text: str) -> str:
    """A user's words as an FTS5 query: each word or "quoted phrase" a literal string, all required."""
    parts = []
    for phrase, word in _TOKEN.findall(text):
        term = (phrase or word).replace('"', '""').strip()
        if term:
            parts.append(f'"{term}"')
    if not parts:
        raise WatcherError("empty search query")
    return " ".join(parts)


def search_items(store: Store, text: str, limit: int = 20) -> list[dict[str, Any]]:
    """Items whose text holds every word of `text`, best first."""
    return store.query(
        "SELECT items.id, sources.name AS source, items.title, items.link, items.path, items.published, "
        "snippet(items_fts, 2, '[', ']', '...', 12) AS snippet "
        "FROM items_fts JOIN items ON items.id = items_fts.rowid JOIN sources ON sources.id = items.source_id "
        "WHERE items_fts MATCH ? ORDER BY rank LIMIT ?",
        (fts_query(text), limit),
    )


def list_alerts(store: Store, state: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Recorded alerts, newest first, with their item."""
    return store.query(
        "SELECT alerts.id, alerts.rule_id AS rule, alerts.severity, alerts.state, alerts.created_at, "
        "alerts.item_version, items.id AS item_id, sources.name AS source, items.title, items.link, items.path, "
        "items.guid, items.published "
        "FROM alerts JOIN items ON items.id = alerts.item_id JOIN sources ON sources.id = items.source_id "
        "WHERE (? IS NULL OR alerts.state = ? OR EXISTS "
        "(SELECT 1 FROM outbox WHERE outbox.alert_id = alerts.id AND outbox.state = ?)) "
        "ORDER BY alerts.id DESC LIMIT ?",
        (state, state, state, limit),
    )
