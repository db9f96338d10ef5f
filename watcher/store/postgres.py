"""The PostgreSQL store: the same Store, on psycopg 3 with a connection pool, for several daemons at once.

Each Store holds a small pool (psycopg-pool): a statement outside a transaction borrows a connection, a
transaction keeps one, and a connection the server dropped is replaced at the next borrow, so a daemon rides
out a restart of the server. Statements are the store's own, translated by `watcher.store.dialect`.

Coordination is PostgreSQL's own: unique constraints keep items and alerts once, ingest transactions are
serialized by a transaction-scoped advisory lock (stories and the story index are read and written under it,
as SQLite's one writer does), and feeds and outbox rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import psycopg.adapt
from psycopg_pool import ConnectionPool, PoolTimeout

from watcher.config.database import PostgresUrl
from watcher.errors import DatabaseUnavailable, NoDatabase, StoreError
from watcher.store.dialect import postgres_params, to_postgres
from watcher.store.pgschema import MIGRATIONS
from watcher.store.sqlite import Store, now_iso

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5
# pg_advisory_xact_lock keys: one for every ingest transaction, one for migrations.
INGEST_LOCK = 0x57544348_0001
MIGRATE_LOCK = 0x57544348_0002
MIGRATIONS_TABLE = "watcher_migrations"


class _Numeric(psycopg.adapt.Loader):
    """numeric (what sum() returns) as int or float, as sqlite3 gives them, never Decimal."""

    def load(self, data: Any) -> int | float:
        value = Decimal(bytes(data).decode())
        return int(value) if value == value.to_integral_value() else float(value)


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_loader("numeric", _Numeric)


def _configure_readonly(conn: psycopg.Connection[Any]) -> None:
    _configure(conn)
    conn.execute("SET default_transaction_read_only = on")


@dataclass
class Result:
    """What a statement returned, read at once (its connection goes back to the pool)."""

    rows: list[tuple[Any, ...]]
    rowcount: int
    description: Sequence[Any] | None

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.rows)


class PgConnection:
    """sqlite3's connection interface (execute, executemany) over a psycopg pool."""

    def __init__(self, pool: ConnectionPool, where: str, *, dry_run: bool = False):
        self.pool = pool
        self.where = where
        self._tx: psycopg.Connection[Any] | None = None
        # A dry run holds one connection in one transaction that is never committed: its writes are
        # savepoints inside it, and all of it is rolled back at close.
        self._held: psycopg.Connection[Any] | None = None
        if dry_run:
            self._held = self._tx = pool.getconn()
            self._held.execute("BEGIN")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        if self._tx is not None:
            yield self._tx
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise DatabaseUnavailable(f"{self.where}: the server does not answer") from None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        query, lists = to_postgres(sql)
        try:
            with self._connection() as conn:
                cur = conn.execute(query, postgres_params(params, lists))  # type: ignore[call-overload]
                rows = cur.fetchall() if cur.description else []
                return Result(rows, cur.rowcount, cur.description)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"{self.where}: {_first_line(e)}") from None
        except psycopg.Error as e:
            raise StoreError(f"{self.where}: {_first_line(e)}") from None

    def executemany(self, sql: str, seq: Sequence[Sequence[Any]]) -> Result:
        query, lists = to_postgres(sql)
        rows = [postgres_params(p, lists) for p in seq]
        if not rows:
            return Result([], 0, None)
        try:
            with self._connection() as conn, conn.cursor() as cur:
                cur.executemany(query, rows)  # type: ignore[call-overload]
                return Result([], cur.rowcount, None)
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"{self.where}: {_first_line(e)}") from None
        except psycopg.Error as e:
            raise StoreError(f"{self.where}: {_first_line(e)}") from None

    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        if self._tx is not None and self._tx is not self._held:
            raise StoreError(f"{self.where}: a transaction is already open on this store")
        try:
            with self._borrow() as conn:
                self._tx = conn
                try:
                    with conn.transaction():
                        yield self
                finally:
                    self._tx = self._held
        except PoolTimeout:
            raise DatabaseUnavailable(f"{self.where}: the server does not answer") from None
        except psycopg.OperationalError as e:
            raise DatabaseUnavailable(f"{self.where}: {_first_line(e)}") from None
        except psycopg.Error as e:
            raise StoreError(f"{self.where}: {_first_line(e)}") from None

    @contextmanager
    def _borrow(self) -> Iterator[psycopg.Connection[Any]]:
        if self._held is not None:
            yield self._held
        else:
            with self.pool.connection() as conn:
                yield conn

    def close(self) -> None:
        if self._held is not None:
            try:
                self._held.execute("ROLLBACK")
            except psycopg.Error:
                log.debug("rolling the dry run back failed", exc_info=True)
            self.pool.putconn(self._held)
            self._held = None
        self.pool.close()


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def connect_error(url: PostgresUrl, e: psycopg.Error) -> DatabaseUnavailable:
    """One line naming the server and the database (never the password)."""
    reason = _first_line(e)
    if url.password:
        reason = reason.replace(url.password, "***")
    return DatabaseUnavailable(f"PostgreSQL {url.where}: cannot connect: {reason}")


class PostgresStore(Store):
    """The Store on PostgreSQL: what differs from SQLite is opening, transactions, locks and full-text search."""

    dialect = "postgresql"
    shared = True
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, conn: PgConnection, url: PostgresUrl):
        super().__init__(conn, str(url))  # type: ignore[arg-type]
        self.url = url
        self.pg = conn

    @classmethod
    def open_url(
        cls, url: PostgresUrl, *, migrate: bool = True, readonly: bool = False, dry_run: bool = False
    ) -> PostgresStore:
        # One direct connection first: a wrong password or an unknown database is one clear line at once,
        # where a pool would only time out.
        try:
            psycopg.connect(url.url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.Error as e:
            raise connect_error(url, e) from None
        # Server-side binding: statements run often are prepared once per connection (psycopg's threshold).
        kwargs: dict[str, Any] = {"autocommit": True}
        pool = ConnectionPool(
            url.url,
            min_size=1,
            max_size=1,
            kwargs=kwargs,
            configure=_configure_readonly if readonly else _configure,
            timeout=CONNECT_TIMEOUT,
            open=False,
            name=f"watcher {url.host}/{url.dbname}",
        )
        pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        store = cls(PgConnection(pool, f"PostgreSQL {url.where}", dry_run=dry_run), url)
        try:
            store._refuse_foreign()
            if migrate:
                store.migrate()
            else:
                store.refuse_newer()
                if not store.applied():
                    raise NoDatabase(f"{url}: watcher has not set this database up yet (run `watcher db upgrade`)")
        except BaseException:
            store.close()
            raise
        return store

    # schema ---------------------------------------------------------------------------------------------

    def applied(self) -> list[str]:
        if not self._has_table(MIGRATIONS_TABLE):
            return []
        rows = self.pg.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY applied_at, name")  # noqa: S608
        return [r[0] for r in rows]

    def pending(self) -> list[str]:
        done = set(self.applied())
        return [name for name, _ in MIGRATIONS if name not in done]

    def migrate(self) -> list[str]:
        """Apply the pending migrations (under an advisory lock: daemons may start together); their names."""
        with self.pg.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))
            conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT)")
        self.refuse_newer()
        done: list[str] = []
        for name, statements in MIGRATIONS:
            with self.pg.transaction() as conn:
                conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_LOCK,))
                if conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", (name,)).fetchone():  # noqa: S608
                    continue
                for sql in statements:
                    conn.execute(sql)
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",  # noqa: S608
                    (name, now_iso()),
                )
                done.append(name)
        return done

    def refuse_newer(self) -> None:
        known = {name for name, _ in MIGRATIONS}
        unknown = [name for name in self.applied() if name not in known]
        if unknown:
            raise StoreError(
                f"{self.url}: the database's schema is newer than this watcher (it has {', '.join(unknown)}): "
                "upgrade watcher on this machine; refusing to use it"
            )

    def _has_table(self, name: str) -> bool:
        return bool(self.pg.execute("SELECT to_regclass(?) IS NOT NULL", (name,)).fetchone()[0])  # type: ignore[index]

    def _refuse_foreign(self) -> None:
        if self._has_table(MIGRATIONS_TABLE):
            return
        tables = [
            r[0]
            for r in self.pg.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "ORDER BY table_name LIMIT 5"
            )
        ]
        if tables:
            raise DatabaseUnavailable(
                f"{self.url}: this database belongs to another program ({', '.join(tables)}); refusing to use it. "
                "Point `database:` in watcher.yaml at a new database (or schema)."
            )

    # what differs from SQLite ---------------------------------------------------------------------------

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Any]:
        try:
            with self.pg.transaction() as conn:
                if not durable:
                    # A lease or a claim: lost in a crash, it only expires; its commit need not wait for the disk.
                    conn.execute("SET LOCAL synchronous_commit = off")
                yield conn
        except BaseException:
            self._source_ids.clear()
            raise

    def lock_for_ingest(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (INGEST_LOCK,))

    def index_text(self, conn: Any, item_ids: list[int]) -> None:
        """Nothing to do: the search column is generated."""

    def unindex_text(self, conn: Any, item_id: int) -> None:
        """Nothing to do: the search column is generated."""

    def after_copy(self, tables: list[str]) -> None:
        """Move each identity sequence past the ids a copy brought in."""
        with self.write() as conn:
            for table in tables:
                conn.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 - names from the code
                    f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"
                )

    def close(self) -> None:
        self.pg.close()
