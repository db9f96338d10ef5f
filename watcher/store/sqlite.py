"""The SQLite store: items kept once, alerts recorded once, in WAL with one writer.

Every write transaction begins with BEGIN IMMEDIATE (a deferred BEGIN that later upgrades to a write fails
at once with "database is locked" instead of waiting), synchronous=FULL, and a busy timeout. The schema
comes from sqlite-utils migrations. A corrupt file, or one that belongs to another program, is refused with
a clear message and never recreated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from watcher.errors import NoDatabase, StoreError
from watcher.store.bandruns import RunCache
from watcher.store.ingest import COPY, DUPLICATE, NEW, PENDING, SUPPRESSED, UPDATED, Ingest, OnAlert, Outcome, now_iso
from watcher.store.migrations import APPLICATION_ID, known_names, migrations

# What callers import from here with the Store: the ingest's outcomes and alert states.
__all__ = ["COPY", "DUPLICATE", "NEW", "PENDING", "SUPPRESSED", "UPDATED", "OnAlert", "Outcome", "Store", "now_iso"]

BUSY_TIMEOUT_MS = 30_000


class Store(Ingest):
    """One database: SQLite here, PostgreSQL in `watcher.store.postgres` (the same logic, a few hooks apart).
    Not shared between threads: open one Store per thread."""

    dialect = "sqlite"
    # Whether several daemons may share this database (then feeds are claimed before they are polled).
    shared = False
    # Appended to a SELECT that claims rows: one writer at a time on SQLite, row locks on PostgreSQL.
    skip_locked = ""

    def __init__(self, conn: sqlite3.Connection, path: str):
        self.conn = conn
        self.path = path
        self._source_ids: dict[str, int] = {}
        self._band_runs = RunCache()

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
        store = cls._prepare(conn, str(path), check=check)
        store.file = path
        return store

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
    def write(self, *, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """A write transaction: BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on any exception. `durable=False`
        marks one whose loss in a crash is harmless (a lease, a claim); SQLite makes every commit durable."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            self._source_ids.clear()  # ids created in the rolled-back transaction are gone
            raise
        self.conn.execute("COMMIT")

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
