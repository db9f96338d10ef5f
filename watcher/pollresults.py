"""What a poll of one source comes to: the fetched body or its error, then the result of storing it."""

from __future__ import annotations

from dataclasses import dataclass

from watcher.errors import FetchError, ReadError
from watcher.items.model import Item
from watcher.pipeline import Stats
from watcher.sources.fetch import FetchResult
from watcher.sources.fulltext import FullTextReport
from watcher.store.feeds import FeedState


@dataclass
class PollResult:
    name: str
    url: str
    ok: bool
    status: str
    new: int = 0
    alerts: int = 0
    error: str = ""
    evaluated: int = 0
    eval_seconds: float = 0.0
    # Of the alerts, those recorded without being sent: a source's first poll.
    recorded: int = 0
    # The articles of new entries read (or not) for a `full_text` feed.
    full_text: FullTextReport | None = None

    @classmethod
    def from_stats(cls, name: str, url: str, stats: Stats, *, first: bool = False) -> PollResult:
        return cls(
            name,
            url,
            True,
            "ok",
            new=stats.new,
            alerts=stats.alerts,
            evaluated=stats.evaluated,
            eval_seconds=stats.eval_seconds,
            recorded=stats.alerts if first else 0,
        )


@dataclass
class Fetched:
    state: FeedState
    result: FetchResult | None = None
    items: list[Item] | None = None
    error: FetchError | ReadError | None = None
    fetch_seconds: float | None = None
    parse_seconds: float | None = None
    full_text: FullTextReport | None = None
