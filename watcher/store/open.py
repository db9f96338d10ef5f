"""Opening the store where watcher.yaml's `database:` points: a SQLite file or a PostgreSQL database."""

from __future__ import annotations

from pathlib import Path

from watcher.config.database import Location, PostgresUrl
from watcher.errors import NoDatabase
from watcher.store.sqlite import Store


def open_store(location: Location, *, check: bool = True) -> Store:
    """Open for reading and writing, creating and migrating the schema where needed."""
    if isinstance(location, PostgresUrl):
        from watcher.store.postgres import PostgresStore

        return PostgresStore.open_url(location)
    return Store.open(location, check=check)


def open_existing(location: Location) -> Store:
    """Open a database that must already hold watcher's data (commands that only read or settle it)."""
    if isinstance(location, PostgresUrl):
        from watcher.store.postgres import PostgresStore

        return PostgresStore.open_url(location, migrate=False)
    if not Path(location).exists():
        raise NoDatabase(f"no database at {location}: run backfill or poll first, or pass --config")
    return Store.open(location)


def open_readonly(location: Location) -> Store:
    """A read-only connection (the dashboard's): nothing is created or migrated."""
    if isinstance(location, PostgresUrl):
        from watcher.store.postgres import PostgresStore

        return PostgresStore.open_url(location, migrate=False, readonly=True)
    return Store.open_readonly(location)


def open_dry_run(location: Location) -> Store:
    """A store whose writes are all undone at close (a dry run): an in-memory copy of a SQLite file, or one
    PostgreSQL transaction that is rolled back."""
    if isinstance(location, PostgresUrl):
        from watcher.store.postgres import PostgresStore

        return PostgresStore.open_url(location, dry_run=True)
    return Store.open_copy(location)


def exists(location: Location) -> bool:
    """Whether there may be a database there (a PostgreSQL server is asked only when it is opened)."""
    return isinstance(location, PostgresUrl) or Path(location).is_file()
