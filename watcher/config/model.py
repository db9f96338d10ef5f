"""The configuration as typed values: what watcher.yaml says once validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from watcher.config.database import Location
from watcher.config.template import Template


@dataclass(frozen=True)
class SeedDir:
    path: Path
    name: str
    interval: float = 300.0


@dataclass(frozen=True)
class Feed:
    url: str
    name: str
    interval: float = 900.0
    alert_existing: bool = False
    # Read the article each new entry links to: "on", "auto" (short or cut entries), "off"; None: the default.
    full_text: str | None = None
    full_text_selector: str | None = None


@dataclass(frozen=True)
class Target:
    """An Apprise notification target. `url` holds secrets: never log it, use a redacted form."""

    url: str
    tags: tuple[str, ...] = ()
    name: str | None = None
    template: Template = field(default_factory=Template)


@dataclass(frozen=True)
class Delivery:
    max_attempts: int = 8
    retry_base: float = 30.0
    retry_max: float = 3600.0
    timeout: float = 30.0
    flood_threshold: int = 25


@dataclass(frozen=True)
class Http:
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    allow_private_addresses: bool = False
    # Politeness, shared by feeds and articles: requests at once to one host, seconds between their starts.
    per_host: int = 2
    per_host_gap: float = 0.25
    # An article page larger than this (decompressed) is not read: its entry keeps its summary.
    max_page_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class Daemon:
    """`watcher run`: where /healthz and /metrics listen (off when None), and its timings (seconds)."""

    listen: tuple[str, int] | None = None
    # The dashboard on the same address: served unless `server.dashboard: false`; off loopback it wants `token`.
    dashboard: bool = True
    token: str | None = field(default=None, repr=False)
    grace_period: float = 20.0
    deliver_interval: float = 10.0
    reload_debounce: float = 1.0
    stall_timeout: float = 120.0
    # How long one feed body or document file may take to parse in its worker before it is killed.
    parse_timeout: float = 20.0
    # How long a daemon's claim on a feed holds without renewal (renewed every third of it while it polls):
    # on PostgreSQL, how soon the feeds of a daemon that died are taken over by the others.
    lease: float = 60.0


@dataclass(frozen=True)
class Stories:
    """Near copies of an item stored within `window` seconds join its story; a rule alerts once per story."""

    enabled: bool = True
    window: float = 3 * 86400.0


@dataclass(frozen=True)
class Config:
    path: Path | None
    # A SQLite file, or a PostgreSQL database (watcher.config.database).
    database: Location
    rules: Path
    seeds: tuple[SeedDir, ...]
    feeds: tuple[Feed, ...] = ()
    notify: tuple[Target, ...] = ()
    http: Http = field(default_factory=Http)
    delivery: Delivery = field(default_factory=Delivery)
    daemon: Daemon = field(default_factory=Daemon)
    stories: Stories = field(default_factory=Stories)
    # The feeds' default `full_text` mode ("off", "on" or "auto"): top-level `full_text:` or `http.full_text`.
    full_text: str = "off"
    warnings: tuple[str, ...] = ()
    # Every value that ${VAR} or ${credential:NAME} supplied, and the secret parts of notify URLs: logs scrub them.
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
