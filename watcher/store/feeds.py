"""Per-feed state in SQLite, and the subscriptions: watcher.yaml's feeds plus those added from the CLI or OPML.

Feeds in watcher.yaml are declarative: they are synced into the table at every start and poll, and removed
from it when removed from the file. Feeds added with `watcher feeds add` or `import` live in the table only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from watcher.config import Config
from watcher.config.http import feed_url_error
from watcher.errors import WatcherError
from watcher.store.sqlite import Store, now_iso

CONFIG, CLI, OPML = "config", "cli", "opml"


@dataclass
class FeedState:
    name: str
    kind: str
    url: str
    current_url: str | None
    interval: float
    origin: str
    alert_existing: int
    etag: str | None
    last_modified: str | None
    last_status: str | None
    last_error: str | None
    failures: int
    next_poll_at: str | None
    last_poll_at: str | None
    last_success_at: str | None
    items_seen: int
    polled: int
    disabled_reason: str | None
    broken_reported: int
    created_at: str
    # Reading the articles of new entries: the feed's own mode (None: the configured default) and selector,
    # how many were read and failed in all, and the last poll's failures (None when that poll had none).
    full_text: str | None = None
    full_text_selector: str | None = None
    full_text_read: int = 0
    full_text_failed: int = 0
    full_text_error: str | None = None

    @property
    def fetch_url(self) -> str:
        return self.current_url or self.url

    @property
    def health(self) -> str:
        if self.disabled_reason:
            return "disabled"
        if self.failures >= BROKEN_AFTER:
            return "broken"
        if self.failures:
            return "failing"
        return "ok" if self.last_success_at else "new"


BROKEN_AFTER = 3
FEED_COLUMNS = [f.name for f in fields(FeedState)]


def all_feeds(store: Store, kind: str | None = None) -> list[FeedState]:
    rows = store.query(
        f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds WHERE (? IS NULL OR kind = ?) ORDER BY name",  # noqa: S608
        (kind, kind),
    )
    return [FeedState(**row) for row in rows]


def get_feed(store: Store, name: str) -> FeedState | None:
    rows = store.query(f"SELECT {', '.join(FEED_COLUMNS)} FROM feeds WHERE name = ?", (name,))  # noqa: S608
    return FeedState(**rows[0]) if rows else None


def update_feed(store: Store, name: str, *, done: bool = False, **values: Any) -> None:
    """Set columns of a feed's state; `done`: the poll is over, and the lease it was polled under ends with it
    (in the same transaction: no commit of its own)."""
    unknown = set(values) - set(FEED_COLUMNS)
    if unknown:
        raise ValueError(f"unknown feed columns {unknown}")
    if done:
        values = {**values, "lease_holder": None, "lease_until": None}
    assignments = ", ".join(f"{k} = ?" for k in values)
    with store.write() as conn:
        conn.execute(f"UPDATE feeds SET {assignments} WHERE name = ?", (*values.values(), name))  # noqa: S608


def sync(store: Store, config: Config) -> None:
    """Bring the table in line with watcher.yaml: add, re-time or reset feeds and seed directories."""
    wanted: dict[str, tuple[str, str, float, bool, str | None, str | None]] = {}
    for feed in config.feeds:
        wanted[feed.name] = (
            "feed",
            feed.url,
            feed.interval,
            feed.alert_existing,
            feed.full_text,
            feed.full_text_selector,
        )
    for seed in config.seeds:
        wanted[seed.name] = ("dir", str(seed.path), seed.interval, False, None, None)
    now = now_iso()
    with store.write() as conn:
        existing = {r[0]: r[1:] for r in conn.execute("SELECT name, kind, url, origin FROM feeds")}
        for name, (kind, url, interval, alert_existing, full_text, selector) in wanted.items():
            if name not in existing:
                # (Several daemons sharing PostgreSQL sync the same watcher.yaml at once: the first one adds.)
                conn.execute(
                    "INSERT INTO feeds (name, kind, url, interval, origin, alert_existing, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (name, kind, url, interval, CONFIG, int(alert_existing), now),
                )
            elif existing[name][1] != url:
                # A new URL under the same name is a new subscription: start its state afresh (items stay).
                conn.execute(
                    "UPDATE feeds SET kind = ?, url = ?, current_url = NULL, etag = NULL, last_modified = NULL, "
                    "failures = 0, disabled_reason = NULL, broken_reported = 0, next_poll_at = NULL, interval = ?, "
                    "origin = ?, alert_existing = ? WHERE name = ?",
                    (kind, url, interval, CONFIG, int(alert_existing), name),
                )
            else:
                conn.execute(
                    "UPDATE feeds SET interval = ?, alert_existing = ?, origin = ? WHERE name = ?",
                    (interval, int(alert_existing), CONFIG, name),
                )
            conn.execute(
                "UPDATE feeds SET full_text = ?, full_text_selector = ? WHERE name = ?", (full_text, selector, name)
            )
        for name, (_, _, origin) in existing.items():
            if origin == CONFIG and name not in wanted:
                conn.execute("DELETE FROM feeds WHERE name = ?", (name,))


def add_feed(
    store: Store, url: str, name: str | None, interval: float, origin: str = CLI, *, full_text: str | None = None
) -> str:
    """Subscribe to a feed outside watcher.yaml; returns its name."""
    problem = feed_url_error(url)
    if problem:
        raise WatcherError(problem)
    name = name or re.sub(r"[^A-Za-z0-9_.-]+", "-", url.split("://", 1)[1]).strip("-.")[:60]
    if get_feed(store, name):
        raise WatcherError(f"a feed named {name!r} already exists")
    with store.write() as conn:
        conn.execute(
            "INSERT INTO feeds (name, kind, url, interval, origin, full_text, created_at) "
            "VALUES (?, 'feed', ?, ?, ?, ?, ?)",
            (name, url, interval, origin, full_text, now_iso()),
        )
    return name


def remove_feed(store: Store, name: str) -> None:
    state = get_feed(store, name)
    if state is None:
        raise WatcherError(f"no feed named {name!r}")
    if state.origin == CONFIG:
        raise WatcherError(f"feed {name!r} is defined in watcher.yaml: remove it there")
    with store.write() as conn:
        conn.execute("DELETE FROM feeds WHERE name = ?", (name,))


def subscribe_all(
    store: Store, entries: Iterable[tuple[str, str | None]], interval: float
) -> tuple[list[str], list[str]]:
    """Subscribe to every (url, title) not yet subscribed, as from an OPML file; (added names, skipped reasons)."""
    known = {s.fetch_url for s in all_feeds(store)} | {s.url for s in all_feeds(store)}
    added, skipped = [], []
    for url, title in entries:
        if url in known:
            skipped.append(f"{url}: already subscribed")
            continue
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", title).strip("-.")[:60] if title else None
        try:
            added.append(add_feed(store, url, name or None, interval, origin=OPML))
        except WatcherError as e:
            try:
                added.append(add_feed(store, url, None, interval, origin=OPML))
            except WatcherError:
                skipped.append(str(e))
        known.add(url)
    return added, skipped
