"""Reading the articles new entries link to, politely and safely, in place of their summaries.

Each link is fetched with the feeds' guarded fetcher (address policy on every hop, deadline, size cap) under
the per-host gate the feeds share, and its text extracted in a parse worker. An article that cannot be had
leaves its entry as the feed gave it, with the reason: the entry is evaluated on what it has, never held.
"""

from __future__ import annotations

import concurrent.futures
from collections import Counter
from dataclasses import dataclass, field

import httpx

from watcher.errors import FetchError, HostWaiting, ReadError
from watcher.items.dedup import text_hash
from watcher.items.model import FULL_TEXT_READ, Item
from watcher.sources.article import MIN_ARTICLE_CHARS, is_html
from watcher.sources.fetch import ACCEPT_HTML, fetch
from watcher.sources.hosts import HostGate
from watcher.sources.sandbox import ParsePool

# Articles of one feed read at once (the per-host gate still bounds each host).
READERS = 4


@dataclass
class FullTextReport:
    """What reading one poll's articles came to: how many were read, and why the others were not."""

    read: int = 0
    # By reason (the label of watcher_full_text_failures), how many, and the first one's message.
    failed: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> int:
        return sum(self.failed.values())

    def fail(self, reason: str, message: str) -> None:
        self.failed[reason] += 1
        self.examples.setdefault(reason, message)

    def summary(self) -> str:
        """One line: each reason with its count and first example."""
        return "; ".join(
            f"{reason.replace('_', ' ')} x{count} ({self.examples[reason]})"
            for reason, count in self.failed.most_common()
        )


class ArticleReader:
    """Reads the articles of entries: sets their `content` to the article's text, keeping their summary."""

    def __init__(
        self,
        client: httpx.Client,
        gate: HostGate,
        parse_pool: ParsePool,
        *,
        timeout: float,
        max_bytes: int,
        readers: int = READERS,
    ):
        self.client = client
        self.gate = gate
        self.parse_pool = parse_pool
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.readers = readers

    def read(self, items: list[Item], selector: str | None = None) -> FullTextReport:
        """Read each item's article (any thread; items are changed in place)."""
        report = FullTextReport()
        if not items:
            return report
        with concurrent.futures.ThreadPoolExecutor(min(self.readers, len(items))) as pool:
            outcomes = list(pool.map(lambda item: self._read(item, selector), items))
        for item, (reason, message) in zip(items, outcomes, strict=True):
            if reason == FULL_TEXT_READ:
                report.read += 1
                item.feed_hash = text_hash(item)
                item.content = message
                item.full_text = FULL_TEXT_READ
            else:
                report.fail(reason, message)
                item.full_text = message
        return report

    def _read(self, item: Item, selector: str | None) -> tuple[str, str]:
        """(FULL_TEXT_READ, the article's text) or (reason, one line saying why there is none)."""
        url = item.link or ""
        try:
            with self.gate.slot(url):
                result = fetch(self.client, url, timeout=self.timeout, max_bytes=self.max_bytes, accept=ACCEPT_HTML)
        except HostWaiting as e:
            return "host_waiting", str(e)
        except FetchError as e:
            return e.kind, str(e)
        if result.status in (429, 503) and result.retry_after is not None:
            self.gate.retry_after(url, result.retry_after)
        if result.status != 200:
            return "http_error", f"{url}: HTTP {result.status}"
        content_type = result.headers.get("content-type", "")
        if not is_html(content_type):
            return "not_html", f"{url}: not a page ({content_type.split(';')[0].strip()})"
        try:
            text = self.parse_pool.extract(result.body, url=result.url, content_type=content_type, selector=selector)
        except ReadError as e:
            return "extraction_failed", str(e)
        if not text:
            return "empty", f"{url}: no article text found on the page"
        if len(text) < MIN_ARTICLE_CHARS:
            return "too_short", f"{url}: only {len(text)} characters of text (a paywall or a login page?)"
        own = len(item.content or item.summary)
        if len(text) <= own:
            # A feed that carries whole articles already: its own text is kept, not a teaser of the page.
            return "shorter", f"{url}: the page's text ({len(text)} characters) is no longer than the entry's ({own})"
        return FULL_TEXT_READ, text
