"""The SQLite store: items kept once, alerts recorded once, in WAL with one writer.

Every write transaction begins with BEGIN IMMEDIATE (a deferred BEGIN that later upgrades to a write fails
at once with "database is locked" instead of waiting), synchronous=FULL, and a busy timeout. The schema
comes from sqlite-utils migrations. A corrupt file, or one that belongs to another program, is refused with
a clear message and never recreated.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from watcher.config.model import Stories
from watcher.errors import NoDatabase, StoreError
from watcher.items.dedup import MIN_COPY_TEXT, base_key, item_key, normalized_text, text_hash, variant_of
from watcher.items.model import FULL_TEXT_READ, Item
from watcher.rules.engine import Match
from watcher.store.migrations import APPLICATION_ID, known_names, migrations
from watcher.store.stories import StoryBatch
from watcher.store.stories import prune as prune_stories

BUSY_TIMEOUT_MS = 30_000

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


class Store:
    """One database: SQLite here, PostgreSQL in `watcher.store.postgres` (the same logic, a few hooks apart).
    Not shared between threads: open one Store per thread."""

    dialect = "sqlite"
    # Appended to a SELECT that claims rows: one writer at a time on SQLite, row locks on PostgreSQL.
    skip_locked = ""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self._source_ids: dict[str, int] = {}

    # opening --------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, check: bool = True) -> Store:
        """Open (creating when absent) and migrate; refuse a corrupt or foreign database."""
        path = Path(path)
        if path.exists() and path.is_dir():
            raise StoreError(f"{path}: is a directory, not a database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as e:
            raise StoreError(f"{path}: cannot open database: {e}") from None
        return cls._prepare(conn, str(path), check=check)

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """A read-only connection to an existing database (the dashboard's): nothing is created or migrated."""
        path = Path(path)
        if not path.is_file():
            raise NoDatabase(f"{path}: no database here (run `watcher backfill` or `watcher run` first)")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _refuse_foreign(conn, str(path))
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{path}: cannot read the database: {e}") from None
        return cls(conn, str(path))

    @classmethod
    def open_copy(cls, path: str | Path) -> Store:
        """An in-memory copy of the database (empty when there is none): for dry runs that write nothing."""
        memory = sqlite3.connect(":memory:", isolation_level=None)
        path = Path(path)
        if path.exists():
            try:
                source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
                source.backup(memory)
                source.close()
            except sqlite3.Error as e:
                raise StoreError(f"{path}: cannot read database: {e}") from None
        return cls._prepare(memory, f"{path} (dry run copy)", check=True)

    @classmethod
    def _prepare(cls, conn: sqlite3.Connection, name: str, *, check: bool) -> Store:
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            _refuse_foreign(conn, name)
            if check:
                row = conn.execute("PRAGMA quick_check(1)").fetchone()
                if row and row[0] != "ok":
                    raise sqlite3.DatabaseError(row[0])
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode and mode[0] not in ("wal", "memory"):
                raise StoreError(f"{name}: cannot switch the database to WAL mode ({mode[0]})")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            store = cls(conn, name)
            store.refuse_newer()
            migrations.apply(store.db)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(
                f"{name}: the database is corrupt or not a SQLite database ({e}); refusing to use it. "
                "Restore a backup, or move the file aside to start afresh."
            ) from None
        return store

    def applied(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    def pending(self) -> list[str]:
        return [m.name for m in migrations.pending(self.db)]

    def refuse_newer(self) -> None:
        """Refuse a database that a newer watcher migrated: this one would misread it."""
        unknown = sorted(set(self.applied()) - set(known_names()))
        if unknown:
            raise StoreError(
                f"{self.path}: the database's schema is newer than this watcher (it has {', '.join(unknown)}): "
                "upgrade watcher on this machine; refusing to use it"
            )

    @property
    def db(self) -> sqlite_utils.Database:
        """The SQLite database as sqlite-utils sees it (its migrations)."""
        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # transactions ---------------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._source_ids.clear()  # ids created in the rolled-back transaction are gone
            raise
        self.conn.execute("COMMIT")

    # ingest ---------------------------------------------------------------------------------------------

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
    ) -> list[Outcome]:
        """Store a batch of items in one transaction, with the alerts of the rules they match.

        Items are evaluated inside the transaction that stores them, so a crash never leaves an item stored
        without its alerts (or its story), nor an alert without its item. With `stories` enabled, each new
        item joins the story of a near copy (see `watcher.store.stories`), and a rule that already alerted
        that story records the copy with its alert instead of alerting again.
        """
        outcomes: list[Outcome] = []
        stories = stories if stories is not None and stories.enabled else None
        try:
            with self.write() as conn:
                self.lock_for_ingest(conn)
                batch = None
                if stories is not None:
                    prune_stories(conn, stories.window)
                    batch = StoryBatch(conn, stories)
                fresh: list[int] = []
                for item in items:
                    outcome = self._ingest_one(conn, item, evaluate, alert_state, on_alert, batch)
                    if outcome.status in (NEW, UPDATED):
                        fresh.append(outcome.item_id)
                    outcomes.append(outcome)
                if batch is not None:
                    batch.flush()
                self.index_text(conn, fresh)
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
        item_id = int(
            conn.execute(
                "INSERT INTO items (source_id, key, guid, link, title, summary, content, author, published, path, "
                "date_text, full_text, text_hash, duplicate_of, version, first_seen, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?) RETURNING id",
                (sid, key, *_columns(item, now), digest, copy_of, now, now),
            ).fetchone()[0]
        )
        if copy_of is not None:
            outcome = Outcome(item, COPY, item_id)
            if stories is not None:
                outcome.story_id = stories.join(item_id, copy_of, item, now).story_id
                self._record_copy(conn, outcome, None, now)
            return outcome
        outcome = Outcome(item, NEW, item_id)
        joined = False
        if stories is not None:
            placed = stories.place(item_id, item, now)
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

    # reading --------------------------------------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query as dicts."""
        try:
            cur = self.conn.execute(sql, params)
        except sqlite3.OperationalError as e:
            raise StoreError(f"{self.path}: {e}") from None
        names = [d[0] for d in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def count(self, table: str) -> int:
        return int(self.conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # noqa: S608

    # what the other database does otherwise -------------------------------------------------------------

    def after_copy(self, tables: list[str]) -> None:
        """Nothing to do after `db copy` brought rows in: SQLite's rowids follow the largest id."""

    def lock_for_ingest(self, conn: Any) -> None:
        """Nothing to take: BEGIN IMMEDIATE already made this the one writer."""

    def index_text(self, conn: Any, item_ids: list[int]) -> None:
        """Add stored items to the full-text index (external content: once per transaction, not a trigger)."""
        conn.executemany(
            "INSERT INTO items_fts (rowid, title, summary, content) "
            "SELECT id, title, summary, content FROM items WHERE id = ?",
            [(i,) for i in item_ids],
        )

    def unindex_text(self, conn: Any, item_id: int) -> None:
        """Take an item about to change out of the full-text index."""
        conn.execute(
            "INSERT INTO items_fts (items_fts, rowid, title, summary, content) "
            "SELECT 'delete', id, title, summary, content FROM items WHERE id = ? AND duplicate_of IS NULL",
            (item_id,),
        )


def _refuse_foreign(conn: sqlite3.Connection, name: str) -> None:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id == APPLICATION_ID:
        return
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    tables -= {"sqlite_sequence", "sqlite_stat1"}
    if app_id != 0 or tables:
        shown = ", ".join(sorted(tables)[:5]) or f"application id {app_id}"
        raise StoreError(
            f"{name}: this database belongs to another program ({shown}); refusing to use it. "
            "Point `database:` in watcher.yaml at a new file."
        )


def _columns(item: Item, now: str) -> tuple[Any, ...]:
    # A date that was written but could not be read: the item is dated when it was first seen.
    published = item.published.isoformat() if item.published else (now if item.date_text else None)
    row = (item.guid, item.link, item.title, item.summary, item.content, item.author, published, item.path)
    return (*row, item.date_text, item.full_text)
