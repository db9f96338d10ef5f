"""The one model every source is normalized to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

TEXT_FIELDS = ("title", "summary", "content", "author")
# Item.full_text when the item's content is the article its link leads to.
FULL_TEXT_READ = "ok"


@dataclass
class Item:
    """A document or feed entry, whatever it came from."""

    source: str
    guid: str | None = None
    link: str | None = None
    title: str = ""
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    author: str = ""
    path: str | None = None
    # The date as the publisher wrote it, when it could not be read (`published` is then None).
    date_text: str | None = None
    # Set when entries of one fetch share a guid (or, lacking one, a link) but differ: a digest of the
    # entry's content that tells them apart, the same at every poll.
    variant: str | None = None
    # Full text (`full_text:` feeds): "ok" when `content` is the article read from `link`, else why the
    # summary was kept; None when it was not tried. `feed_hash` is then the text hash of the entry as its
    # feed gave it: what tells at the next poll whether the feed changed the entry.
    full_text: str | None = None
    feed_hash: str | None = None

    def text(self, name: str) -> str:
        """The text of one field by name ('title', 'content', ...)."""
        value = getattr(self, name)
        return value if isinstance(value, str) else ""
