"""A poll's articles, for feeds that say `full_text`: which new entries to read (on the store's thread), reading
them (on a fetch thread, see `watcher.sources.fulltext`), and what the feed's state records of it."""

from __future__ import annotations

import logging

from watcher.config import Config
from watcher.items.dedup import item_key
from watcher.items.model import Item
from watcher.pollresults import Fetched
from watcher.sources.article import wants_full_text
from watcher.sources.fulltext import ArticleReader, FullTextReport
from watcher.store.feeds import FeedState, update_feed
from watcher.store.search import known_keys
from watcher.store.sqlite import Store

log = logging.getLogger("watcher.poll")


class Articles:
    def __init__(self, config: Config, store: Store, reader: ArticleReader):
        self.config = config
        self.store = store
        self.reader = reader

    def mode(self, state: FeedState) -> str:
        """The feed's own `full_text`, else the configured default."""
        return state.full_text or self.config.full_text

    def to_read(self, fetched: Fetched) -> list[Item]:
        """The new entries of a fetch whose articles its feed reads (on the store's thread); none once read."""
        if fetched.items is None or fetched.full_text is not None:
            return []
        mode = self.mode(fetched.state)
        wanted = [item for item in fetched.items if wants_full_text(item, mode)]
        if not wanted:
            return []
        known = known_keys(self.store, fetched.state.name, [item_key(item) for item in wanted])
        return [item for item in wanted if item_key(item) not in known]

    def read(self, fetched: Fetched, items: list[Item]) -> Fetched:
        """Read the articles of `items` into them (any thread); never raises for an article's failure."""
        fetched.full_text = self.reader.read(items, fetched.state.full_text_selector)
        return fetched

    def record(self, state: FeedState, report: FullTextReport) -> None:
        """Count a poll's articles in the feed's state; one log line for all those that could not be read."""
        update_feed(
            self.store,
            state.name,
            full_text_read=state.full_text_read + report.read,
            full_text_failed=state.full_text_failed + report.failures,
            full_text_error=report.summary() or None,
        )
        if report.failures:
            log.warning(
                "feed %s: full text: %d of %d new entries keep their summary: %s",
                state.name,
                report.failures,
                report.failures + report.read,
                report.summary(),
            )
