"""The database schema, as sqlite-utils migrations: append new ones, never edit an applied one."""

from __future__ import annotations

import os

import sqlite_utils
from sqlite_utils import Migrations

# 'WTCH': marks a database as watcher's, so a foreign one is refused rather than written into.
APPLICATION_ID = 0x57544348

migrations = Migrations("watcher")


@migrations()
def m001_items_and_alerts(db: sqlite_utils.Database) -> None:
    for sql in (
        """CREATE TABLE sources (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            url TEXT,
            created_at TEXT NOT NULL
        )""",
        """CREATE TABLE items (
            id INTEGER PRIMARY KEY,
            source_id INTEGER NOT NULL REFERENCES sources(id),
            key TEXT NOT NULL,
            guid TEXT,
            link TEXT,
            title TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            content TEXT NOT NULL DEFAULT '',
            author TEXT NOT NULL DEFAULT '',
            published TEXT,
            path TEXT,
            text_hash TEXT NOT NULL,
            duplicate_of INTEGER REFERENCES items(id),
            version INTEGER NOT NULL DEFAULT 1,
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (source_id, key)
        )""",
        "CREATE INDEX items_text_hash ON items (text_hash)",
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            rule_id TEXT NOT NULL,
            item_id INTEGER NOT NULL REFERENCES items(id),
            item_version INTEGER NOT NULL DEFAULT 1,
            severity TEXT NOT NULL,
            rule_title TEXT NOT NULL,
            notify_tags TEXT NOT NULL DEFAULT '[]',
            evidence TEXT NOT NULL DEFAULT '[]',
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (rule_id, item_id, item_version)
        )""",
        "CREATE INDEX alerts_item ON alerts (item_id)",
        "CREATE INDEX alerts_state ON alerts (state)",
        """CREATE VIRTUAL TABLE items_fts USING fts5(
            title, summary, content, content='items', content_rowid='id'
        )""",
    ):
        db.execute(sql)


@migrations()
def m002_outbox(db: sqlite_utils.Database) -> None:
    for sql in (
        """CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            target TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            group_key TEXT,
            last_error TEXT,
            claimed_by TEXT,
            claimed_until TEXT,
            sent_at TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (alert_id, target)
        )""",
        "CREATE INDEX outbox_due ON outbox (state, next_attempt_at)",
        "CREATE INDEX outbox_group ON outbox (group_key, target, state)",
        """CREATE TABLE notices (
            key TEXT PRIMARY KEY,
            message TEXT NOT NULL,
            created_at TEXT NOT NULL
        )""",
    ):
        db.execute(sql)


@migrations()
def m003_feeds(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'feed',
            url TEXT NOT NULL,
            current_url TEXT,
            interval REAL NOT NULL,
            origin TEXT NOT NULL DEFAULT 'config',
            alert_existing INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT,
            last_status TEXT,
            last_error TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            next_poll_at TEXT,
            last_poll_at TEXT,
            last_success_at TEXT,
            items_seen INTEGER NOT NULL DEFAULT 0,
            polled INTEGER NOT NULL DEFAULT 0,
            disabled_reason TEXT,
            broken_reported INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL
        )"""
    )


@migrations()
def m004_date_text(db: sqlite_utils.Database) -> None:
    # A date the publisher wrote that could not be read: kept as written (the item is dated by first_seen).
    db.execute("ALTER TABLE items ADD COLUMN date_text TEXT")


@migrations()
def m005_stories(db: sqlite_utils.Database) -> None:
    for sql in (
        # Every item indexed since this migration belongs to a story (NULL: stored before, a story alone).
        "ALTER TABLE items ADD COLUMN story_id INTEGER",
        "CREATE INDEX items_story ON items (story_id)",
        """CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            first_item_id INTEGER NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 1
        )""",
        "CREATE INDEX stories_last_seen ON stories (last_seen)",
        # The LSH index of the window: an item's time (published, else when stored), when it was indexed
        # (for pruning) and its MinHash signatures (a first estimate before texts are compared), and its band
        # keys, one b-tree keyed by (band key, slot), the slot being the item id
        # * 64 + the band number.
        """CREATE TABLE story_index (
            item_id INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            indexed_at REAL NOT NULL,
            signature BLOB NOT NULL
        )""",
        # Two tables, as a log-structured index: new rows go to the small one, whose pages stay few and warm
        # (random keys written into a large b-tree dirty most of its pages at every commit); it is merged into
        # the large one, in key order, every few thousand items.
        *(
            f"CREATE TABLE {table} (key INTEGER NOT NULL, slot INTEGER NOT NULL, PRIMARY KEY (key, slot)) WITHOUT ROWID"
            for table in ("story_bands", "story_bands_new")
        ),
        "CREATE TABLE story_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        # Later copies of a story that matched a rule the story had already alerted: recorded, not sent.
        """CREATE TABLE alert_copies (
            alert_id INTEGER NOT NULL REFERENCES alerts(id),
            item_id INTEGER NOT NULL REFERENCES items(id),
            created_at TEXT NOT NULL,
            PRIMARY KEY (alert_id, item_id)
        ) WITHOUT ROWID""",
    ):
        db.execute(sql)


@migrations()
def m006_absolute_document_keys(db: sqlite_utils.Database) -> None:
    # Documents were keyed by their path as typed, so `backfill seeds/` and `backfill` stored the same files
    # twice. Keys are absolute now; a relative one is taken as relative to the database's directory (where
    # the Quickstart runs), unless that key is already there (the file's second copy: left as it is).
    row = db.execute("PRAGMA database_list").fetchone()
    base = os.path.dirname(row[2]) if row and row[2] else os.getcwd()
    rows = db.execute(
        "SELECT id, source_id, key FROM items WHERE key LIKE 'path:%' AND substr(key, 6, 1) != '/'"
    ).fetchall()
    for item_id, source_id, key in rows:
        absolute = "path:" + os.path.abspath(os.path.join(base, key[len("path:") :]))
        taken = db.execute("SELECT 1 FROM items WHERE source_id = ? AND key = ?", (source_id, absolute)).fetchone()
        if not taken:
            db.execute("UPDATE items SET key = ? WHERE id = ?", (absolute, item_id))


@migrations()
def m007_a_dataset(db: sqlite_utils.Database) -> None:
    # The database as a dataset that the sqlite-utils CLI and datasette read as is: the full-text table
    # declared as sqlite-utils declares it (content="items"), so that `sqlite-utils search` and datasette's
    # search box find it (the index is filled again, copies left out as before); sources that are feeds or
    # seed directories say so; and views for the common questions.
    db.execute("DROP TABLE items_fts")
    db.execute(
        'CREATE VIRTUAL TABLE items_fts USING fts5(title, summary, content, content="items", content_rowid="id")'
    )
    db.execute(
        "INSERT INTO items_fts (rowid, title, summary, content) "
        "SELECT id, title, summary, content FROM items WHERE duplicate_of IS NULL"
    )
    db.execute(
        "UPDATE sources SET kind = (SELECT kind FROM feeds WHERE feeds.name = sources.name), "
        "url = (SELECT url FROM feeds WHERE feeds.name = sources.name) "
        "WHERE EXISTS (SELECT 1 FROM feeds WHERE feeds.name = sources.name)"
    )
    db.execute(
        """CREATE VIEW alerts_detail AS
        SELECT alerts.id, alerts.created_at, alerts.rule_id AS rule, alerts.rule_title, alerts.severity,
               alerts.state, sources.name AS source, items.title, items.link, items.path, items.published,
               items.story_id AS story, alerts.item_id
        FROM alerts JOIN items ON items.id = alerts.item_id JOIN sources ON sources.id = items.source_id"""
    )
    db.execute(
        """CREATE VIEW feed_health AS
        SELECT name, kind, url, CASE WHEN disabled_reason IS NOT NULL THEN 'disabled'
               WHEN failures >= 3 THEN 'broken' WHEN failures > 0 THEN 'failing'
               WHEN last_success_at IS NOT NULL THEN 'ok' ELSE 'new' END AS health,
               failures, last_success_at, last_poll_at, next_poll_at, last_error, items_seen
        FROM feeds"""
    )


@migrations()
def m008_full_text(db: sqlite_utils.Database) -> None:
    # Feeds that read the articles their entries link to (NULL: the configured default), and how that went;
    # per item, "ok" when its content is the article, else why its summary was kept (NULL: not tried).
    for sql in (
        "ALTER TABLE feeds ADD COLUMN full_text TEXT",
        "ALTER TABLE feeds ADD COLUMN full_text_selector TEXT",
        "ALTER TABLE feeds ADD COLUMN full_text_read INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE feeds ADD COLUMN full_text_failed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE feeds ADD COLUMN full_text_error TEXT",
        "ALTER TABLE items ADD COLUMN full_text TEXT",
    ):
        db.execute(sql)


@migrations()
def m009_dashboard(db: sqlite_utils.Database) -> None:
    # The dashboard's filters and charts read alerts by time and by rule, and items by when they were first seen;
    # rule_digests says which rules the daemon (or a backfill or poll) last ran, for `rules check` to tell what
    # changed since.
    for sql in (
        "CREATE INDEX alerts_created ON alerts (created_at)",
        "CREATE INDEX alerts_rule_created ON alerts (rule_id, created_at)",
        "CREATE INDEX items_first_seen ON items (first_seen)",
        "CREATE INDEX outbox_alert ON outbox (alert_id)",
        "CREATE TABLE rule_digests (rule_id TEXT PRIMARY KEY, digest TEXT NOT NULL, loaded_at TEXT NOT NULL)",
    ):
        db.execute(sql)


# From m010 on, a migration is written once, in SQL both databases read as it is (TEXT, INTEGER, ...), and
# store/pgschema.py applies the same statements on PostgreSQL.

# The daemons that use this database (one on SQLite, any number on PostgreSQL), each with its heartbeat, and
# per feed the process that is polling it now and until when that lease holds.
M010_PROCESSES = (
    """CREATE TABLE processes (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        version TEXT NOT NULL,
        started_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL
    )""",
    "ALTER TABLE feeds ADD COLUMN lease_holder TEXT",
    "ALTER TABLE feeds ADD COLUMN lease_until TEXT",
)


@migrations()
def m010_processes(db: sqlite_utils.Database) -> None:
    for sql in M010_PROCESSES:
        db.execute(sql)


# The LSH index's new rows are written a batch at a time, as one sorted run (a blob of keys, one of slots)
# instead of a row per band key in a b-tree: a batch's 11,000 random keys dirtied most pages of that b-tree at
# every commit. Runs are searched in memory (numpy) and merged into story_bands every few thousand items. The
# rows waiting in story_bands_new are merged first; story_state counted them. Each database in its own types;
# run ids are never used twice (AUTOINCREMENT, identity): a store knows the runs it has read by their ids.
M011_STORY_BAND_RUNS = (
    "INSERT INTO story_bands SELECT key, slot FROM story_bands_new WHERE true ORDER BY key ON CONFLICT DO NOTHING",
    "DROP TABLE story_bands_new",
    "DROP TABLE story_state",
)


@migrations()
def m011_story_band_runs(db: sqlite_utils.Database) -> None:
    for sql in M011_STORY_BAND_RUNS:
        db.execute(sql)
    db.execute(
        """CREATE TABLE story_band_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            last_item_id INTEGER NOT NULL,
            items INTEGER NOT NULL,
            keys BLOB NOT NULL,
            slots BLOB NOT NULL
        )"""
    )


def known_names() -> list[str]:
    """Every migration this watcher knows, in order: those an empty database would be given."""
    return [m.name for m in migrations.pending(sqlite_utils.Database(memory=True))]
