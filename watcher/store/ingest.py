"""Storing items once, with their stories and the alerts of the rules they match: the logic both stores
share (`Store` on SQLite, `PostgresStore` on PostgreSQL), over the connection and hooks each gives."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watcher.config.model import Stories
from watcher.errors import StoreError
from watcher.items.dedup import MIN_COPY_TEXT, base_key, item_key, normalized_text, text_hash, variant_of
from watcher.items.model import FULL_TEXT_READ, Item
from watcher.items.stories import Sketch
from watcher.rules.engine import Match
from watcher.store.bandruns import RunCache
from watcher.store.lookahead import Found
from watcher.store.stories import StoryBatch
from watcher.store.stories import prune as prune_stories

# Called inside the transaction that records an alert: (connection, alert id, match, item id, item version).
OnAlert = Callable[[sqlite3.Connection, int, Match, int, int], None]

NEW, DUPLICATE, UPDATED, COPY = "new", "duplicate", "updated", "copy"

# Alert states: recorded and to be delivered, or recorded only (backfill without --notify, a feed's first poll).
PENDING, SUPPRESSED = "pending", "suppressed"


@dataclass
class Outcome:
    """What happened to one item: its status and the rules it alerted."""

    item: Item
    status: str
    item_id: int
    alerts: list[str] = field(default_factory=list)
    story_id: int | None = None
    # Rules whose alert this item's story already had: the item is recorded with that alert, not sent.
    copies: list[str] = field(default_factory=list)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Ingest:
    """Storing batches of items: mixed into each store, which provides the connection, its transactions and
    the hooks that differ (the ingest lock, the full-text index)."""

    conn: Any
    path: str
    # The database file, for another process to read (a backfill's worker: see watcher.store.lookahead);
    # None where there is none (PostgreSQL, a dry run's in-memory copy).
    file: Path | None = None
    _source_ids: dict[str, int]
    _band_runs: RunCache  # the story index's runs this store has read (see watcher.store.bandruns)

    def write(self, *, durable: bool = True) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def lock_for_ingest(self, conn: Any) -> None:
        raise NotImplementedError

    def index_text(self, conn: Any, item_ids: list[int]) -> None:
        raise NotImplementedError

    def unindex_text(self, conn: Any, item_id: int) -> None:
        raise NotImplementedError

    def source_id(self, name: str, kind: str = "files", url: str | None = None) -> int:
        """The id of a source by name, created when new (call inside a write transaction)."""
        sid = self._source_ids.get(name)
        if sid is None:
            row = self.conn.execute("SELECT id FROM sources WHERE name = ?", (name,)).fetchone()
            if row is None:
                # A subscribed feed or seed directory says what it is and where (for datasette and its kin).
                feed = self.conn.execute("SELECT kind, url FROM feeds WHERE name = ?", (name,)).fetchone()
                if feed is not None:
                    kind, url = feed
                sid = int(
                    self.conn.execute(
                        "INSERT INTO sources (name, kind, url, created_at) VALUES (?, ?, ?, ?) RETURNING id",
                        (name, kind, url, now_iso()),
                    ).fetchone()[0]
                )
            else:
                sid = int(row[0])
            self._source_ids[name] = sid
        return sid

    def ingest(
        self,
        items: Sequence[Item],
        evaluate: Callable[[Item], list[Match]],
        *,
        alert_state: str,
        on_alert: OnAlert | None = None,
        stories: Stories | None = None,
        sketches: Sequence[Sketch | None] = (),
        found: Found | None = None,
    ) -> list[Outcome]:
        """Store a batch of items in one transaction, with the alerts of the rules they match.

        Items are evaluated inside the transaction that stores them, so a crash never leaves an item stored
        without its alerts (or its story), nor an alert without its item. With `stories` enabled, each new
        item joins the story of a near copy (see `watcher.store.stories`), and a rule that already alerted
        that story records the copy with its alert instead of alerting again. `sketches`, when given, are
        the items' story sketches (one per item, in order), computed ahead; `found`, what story_bands held
        for their keys, read ahead (see `watcher.store.lookahead`).
        """
        outcomes: list[Outcome] = []
        stories = stories if stories is not None and stories.enabled else None
        try:
            with self.write() as conn:
                self.lock_for_ingest(conn)
                batch = None
                if stories is not None:
                    prune_stories(conn, stories.window)
                    batch = StoryBatch(conn, stories, sketches, found, runs=self._band_runs)
                # Items to add to the full-text index at the end, in order: stored or changed in this batch.
                fresh: dict[int, None] = {}
                for position, item in enumerate(items):
                    sketched = sketches[position] if sketches else None
                    outcome = self._ingest_one(conn, item, evaluate, alert_state, on_alert, batch, fresh, sketched)
                    if outcome.status in (NEW, UPDATED):
                        fresh[outcome.item_id] = None
                    outcomes.append(outcome)
                if batch is not None:
                    batch.flush()
                self.index_text(conn, list(fresh))
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.path}: {e}") from None
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: the database is corrupt ({e})") from None
        return outcomes

    def _ingest_one(
        self,
        conn: sqlite3.Connection,
        item: Item,
        evaluate: Callable[[Item], list[Match]],
        alert_state: str,
        on_alert: OnAlert | None,
        stories: StoryBatch | None,
        unindexed: Mapping[int, None],
        sketched: Sketch | None = None,
    ) -> Outcome:
        sid = self.source_id(item.source)
        key = item_key(item)
        # An entry whose content is the article it links to is known by the text its feed gave.
        digest = item.feed_hash or text_hash(item)
        now = now_iso()
        row = conn.execute(
            "SELECT id, text_hash, version, full_text FROM items WHERE source_id = ? AND key = ?", (sid, key)
        ).fetchone()
        same = None if row is not None else self._same_entry_stored(conn, sid, item, digest)
        if same is not None:
            # Stored alone before its namesakes appeared in the feed (or after they left it): the same entry.
            return Outcome(item, DUPLICATE, same)
        if row is not None:
            item_id, old_hash, version = int(row[0]), row[1], int(row[2])
            if old_hash == digest:
                return Outcome(item, DUPLICATE, item_id)
            version += 1
            if row[3] == FULL_TEXT_READ and item.full_text is None:
                # The feed changed an entry whose article was read: the article stays (it is never read twice).
                stored = conn.execute("SELECT content FROM items WHERE id = ?", (item_id,)).fetchone()
                item.content, item.full_text = stored[0], FULL_TEXT_READ
            if item_id not in unindexed:
                # (An item stored or changed earlier in this batch is not in the index yet: taking out what is
                # not there would corrupt SQLite's external-content index.)
                self.unindex_text(conn, item_id)
            conn.execute(
                "UPDATE items SET guid = ?, link = ?, title = ?, summary = ?, content = ?, author = ?, "
                "published = ?, path = ?, date_text = ?, full_text = ?, text_hash = ?, version = ?, updated_at = ?, "
                "duplicate_of = NULL WHERE id = ?",
                (*_columns(item, now), digest, version, now, item_id),
            )
            outcome = Outcome(item, UPDATED, item_id)
            for match in evaluate(item):
                if (
                    not match.rule.updates
                    and conn.execute(
                        "SELECT 1 FROM alerts WHERE rule_id = ? AND item_id = ?", (match.rule.id, item_id)
                    ).fetchone()
                ):
                    continue
                self._alert(conn, outcome, match, version, alert_state, now, on_alert)
            return outcome
        copy_of = None
        if len(normalized_text(item)) >= MIN_COPY_TEXT:
            found = conn.execute(
                "SELECT id FROM items WHERE text_hash = ? AND duplicate_of IS NULL LIMIT 1", (digest,)
            ).fetchone()
            copy_of = int(found[0]) if found else None
        inserted = conn.execute(
            "INSERT INTO items (source_id, key, guid, link, title, summary, content, author, published, path, "
            "date_text, full_text, text_hash, duplicate_of, version, first_seen, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) "
            "ON CONFLICT (source_id, key) DO NOTHING RETURNING id",
            (sid, key, *_columns(item, now), digest, copy_of, now, now),
        ).fetchone()
        if inserted is None:
            # Stored meanwhile by another writer (none can be, under the ingest lock): the constraint keeps one.
            row = conn.execute("SELECT id FROM items WHERE source_id = ? AND key = ?", (sid, key)).fetchone()
            return Outcome(item, DUPLICATE, int(row[0]))
        item_id = int(inserted[0])
        if copy_of is not None:
            outcome = Outcome(item, COPY, item_id)
            if stories is not None:
                outcome.story_id = stories.join(item_id, copy_of, item, now).story_id
                self._record_copy(conn, outcome, None, now)
            return outcome
        outcome = Outcome(item, NEW, item_id)
        joined = False
        if stories is not None:
            placed = stories.place(item_id, item, now, sketched)
            outcome.story_id, joined = placed.story_id, placed.joined
        for match in evaluate(item):
            if joined and match.rule.per == "story" and self._record_copy(conn, outcome, match.rule.id, now):
                continue
            self._alert(conn, outcome, match, 1, alert_state, now, on_alert)
        return outcome

    @staticmethod
    def _record_copy(conn: sqlite3.Connection, outcome: Outcome, rule_id: str | None, now: str) -> bool:
        """Record a later copy of a story with the story's first alert of a rule (of every rule: None);
        whether there was such an alert."""
        rows = conn.execute(
            "SELECT alerts.rule_id, min(alerts.id) FROM alerts JOIN items ON items.id = alerts.item_id "
            "WHERE items.story_id = ? AND items.id != ? AND (? IS NULL OR alerts.rule_id = ?) GROUP BY alerts.rule_id",
            (outcome.story_id, outcome.item_id, rule_id, rule_id),
        ).fetchall()
        for rule, alert_id in rows:
            conn.execute(
                "INSERT INTO alert_copies (alert_id, item_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (alert_id, outcome.item_id, now),
            )
            outcome.copies.append(str(rule))
        return bool(rows)

    @staticmethod
    def _same_entry_stored(conn: sqlite3.Connection, sid: int, item: Item, digest: str) -> int | None:
        """The id of this entry stored under its other key (plain, or told apart by its variant), if it is."""
        other = base_key(item) if item.variant else f"{base_key(item)}#{variant_of(item)}"
        found = conn.execute(
            "SELECT id FROM items WHERE source_id = ? AND key = ? AND text_hash = ?", (sid, other, digest)
        ).fetchone()
        return int(found[0]) if found else None

    def _alert(
        self,
        conn: sqlite3.Connection,
        outcome: Outcome,
        match: Match,
        version: int,
        state: str,
        now: str,
        on_alert: OnAlert | None,
    ) -> None:
        rule = match.rule
        row = conn.execute(
            "INSERT INTO alerts (rule_id, item_id, item_version, severity, rule_title, notify_tags, "
            "evidence, state, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (
                rule.id,
                outcome.item_id,
                version,
                rule.severity,
                rule.title,
                json.dumps(list(rule.notify)),
                json.dumps([e.as_dict() for e in match.evidence], ensure_ascii=False),
                state,
                now,
            ),
        ).fetchone()
        if row is not None:
            outcome.alerts.append(rule.id)
            if on_alert is not None:
                on_alert(conn, int(row[0]), match, outcome.item_id, version)


def _columns(item: Item, now: str) -> tuple[Any, ...]:
    # A date that was written but could not be read: the item is dated when it was first seen.
    published = item.published.isoformat() if item.published else (now if item.date_text else None)
    row = (item.guid, item.link, item.title, item.summary, item.content, item.author, published, item.path)
    return (*row, item.date_text, item.full_text)
