"""What a fetch's entries become: the empty ones dropped, those that share an identity told apart."""

from __future__ import annotations

import logging

from watcher.items.dedup import disambiguate
from watcher.items.model import Item

log = logging.getLogger(__name__)


def kept_entries(items: list[Item], name: str, *, empty: int = 0) -> list[Item]:
    """A fetch's entries with those that share an identity told apart; `empty` entries were dropped before.
    Both are noted in the log."""
    if empty:
        log.warning("%s: %d empty entries skipped (nothing but extension elements, or nothing at all)", name, empty)
    items, shared = disambiguate(items)
    if shared:
        log.warning(
            "%s: %d entries share an id or link with a different entry; each is kept, told apart by its content",
            name,
            shared,
        )
    return items


def is_empty(item: Item) -> bool:
    """An item with nothing to read and no identity of its own (a JSON Feed's `{}`)."""
    published_id = item.guid is not None and not item.guid.startswith("sha256:")
    return not (
        item.title or item.link or item.summary or item.content or item.published or item.author or published_id
    )
