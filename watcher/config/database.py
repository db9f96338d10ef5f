"""Where the store lives: a SQLite file (the embedded default) or a PostgreSQL database.

`database:` in watcher.yaml is a path, `sqlite:///path`, or `postgresql://user:password@host:5432/dbname`
(also `postgres://`). The password may come from `${VAR}` or `${credential:NAME}`; it is a secret, so the
location is only ever shown without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

POSTGRES_SCHEMES = ("postgresql", "postgres")


@dataclass(frozen=True)
class PostgresUrl:
    """A PostgreSQL database: the connection URL (with its password) and what may be shown of it."""

    url: str = field(repr=False)
    host: str
    port: int
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        # Never the password: this is what logs, errors and `watcher check` print.
        user = f"{self.user}@" if self.user else ""
        if self.socket:
            return f"postgresql://{user}/{self.dbname}?host={self.host}"
        return f"postgresql://{user}{self.server}/{self.dbname}"

    @property
    def socket(self) -> bool:
        """Whether the server is reached through a Unix socket in the directory `host`."""
        return self.host.startswith("/")

    @property
    def server(self) -> str:
        if self.socket:
            return f"the socket in {self.host}"
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def where(self) -> str:
        """The database and its server, for error messages."""
        return f"database {self.dbname} on {self.server}"

    @property
    def options(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


Location = Path | PostgresUrl


def parse_postgres_url(url: str) -> PostgresUrl | str:
    """The PostgresUrl of `url`, or why it is not one (never quoting the password)."""
    try:
        split = urlsplit(url)
        query = dict(parse_qsl(split.query))
        port = split.port or int(query.get("port") or 5432)
    except ValueError:
        return "not a valid postgresql:// URL (postgresql://user@host:5432/dbname)"
    if split.scheme not in POSTGRES_SCHEMES:
        return "not a postgresql:// URL"
    dbname = unquote(split.path.lstrip("/"))
    # The host in the URL, or as libpq also takes it: ?host=, a Unix socket's directory for a local server.
    host = split.hostname or query.get("host", "")
    if not host:
        return "the PostgreSQL URL names no host (postgresql://user@host:5432/dbname, or ?host=/run/postgresql)"
    if not dbname or "/" in dbname:
        return "the PostgreSQL URL names no database (postgresql://user@host:5432/dbname)"
    return PostgresUrl(
        url=url,
        host=host,
        port=port,
        dbname=dbname,
        user=unquote(split.username or "") or query.get("user", ""),
        password=unquote(split.password) if split.password else query.get("password"),
    )


def is_postgres(location: Location) -> bool:
    return isinstance(location, PostgresUrl)
