"""`watcher db`: the database itself: its schema (`upgrade`, `status`) and moving it (`copy`)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from watcher.cli import _config, config_option, main, say
from watcher.config.database import Location, PostgresUrl, parse_postgres_url
from watcher.daemon.service import InstanceLock
from watcher.errors import NotFound, WatcherError
from watcher.store.copy import copy_database
from watcher.store.open import exists, open_existing, open_store


@main.group("db")
def db() -> None:
    """The database: its schema, and moving an installation to PostgreSQL."""


def _location(ctx: click.Context, param: click.Parameter, text: str) -> Location:
    """A path, sqlite:///path, or postgresql:// URL given on the command line."""
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite:///") :]).expanduser()
    if "://" not in text:
        return Path(text).expanduser()
    found = parse_postgres_url(text)
    if isinstance(found, str):
        # The URL itself is not repeated: it may hold a password.
        raise click.BadParameter(f"{text.split('://')[0]}://...: {found}", ctx, param)
    return found


@db.command("upgrade")
@config_option
def upgrade(config_path: Path | None) -> None:
    """Create the database's schema or bring it up to this watcher's version (daemons do it at start too).

    \b
    Examples:
      watcher db upgrade
      watcher db upgrade --config /etc/watcher/watcher.yaml
    """
    config = _config(config_path)
    with open_store(config.database) as store:
        applied, pending = store.applied(), store.pending()
    say(f"{config.database}: schema up to date ({len(applied)} migrations, the last {applied[-1]})")
    if pending:
        raise WatcherError(f"{config.database}: migrations still pending: {', '.join(pending)}")


@db.command("copy")
@click.option(
    "--from",
    "src",
    required=True,
    callback=_location,
    help="The database to copy: a SQLite file (or sqlite:///path).",
)
@click.option("--to", "dst", required=True, callback=_location, help="Where to: postgresql://user@host:5432/dbname.")
@click.option("--json", "as_json", is_flag=True, help="The rows copied per table, as one JSON object.")
def copy(src: Location, dst: Location, as_json: bool) -> None:
    """Copy an installation (items, stories, alerts, outbox, feed state) to another database.

    Idempotent and resumable: run it again after an interruption and it copies what is missing. Stop the
    daemon on the SQLite file first; start the daemons on PostgreSQL after.

    \b
    Examples:
      watcher db copy --from /var/lib/watcher/watcher.db --to postgresql://watcher@db:5432/watcher
    """
    if src == dst or (isinstance(src, Path) and isinstance(dst, Path) and src.resolve() == dst.resolve()):
        raise click.UsageError("--from and --to are the same database")
    if not exists(src):
        raise NotFound(f"no database at {src}")
    lock = InstanceLock(src) if isinstance(src, Path) else None
    if lock is not None:
        try:
            lock.acquire()
        except WatcherError as e:
            raise WatcherError(f"{e}: stop it before copying") from None
    try:
        with open_existing(src) as old, open_store(dst) as new:
            report = copy_database(old, new)
    finally:
        if lock is not None:
            lock.release()
    if as_json:
        click.echo(json.dumps({"from": str(src), "to": str(dst), **asdict(report)}))
        return
    for table, n in report.copied.items():
        if n or report.present[table]:
            there = f" ({report.present[table]:,} were there)" if report.present[table] else ""
            say(f"  {table:<16} {n:>9,} copied{there}")
    say(f"copied {report.total:,} rows from {src} to {dst}")
    if isinstance(dst, PostgresUrl):
        say(f"next: point `database:` in watcher.yaml at {dst} (the password from ${{VAR}} or ${{credential:NAME}})")
