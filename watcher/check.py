"""`watcher check`: everything a daemon needs, checked offline at once, like `amtool check-config`.

The configuration (every problem, located), the rules (problems and examples), the paths (the database's
directory writable, the rules and seed directories there), the notify targets (Apprise parses each when the
configuration loads), the tag wiring (every rule tag reaches a target), the feeds' addresses (an IP literal
or `localhost` is judged by the address policy without a DNS lookup; names are resolved only when polled),
and the health server's listen address.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from watcher.config import Config, load_config
from watcher.config.database import PostgresUrl
from watcher.config.http import is_loopback
from watcher.delivery.outbox import unrouted_tags
from watcher.errors import ConfigError, NoDatabase, WatcherError
from watcher.rules.engine import Engine
from watcher.rules.load import load_rules
from watcher.rules.report import check_examples
from watcher.sources.fetch import address_allowed
from watcher.store.open import open_existing


@dataclass
class CheckResult:
    """Every problem found (each one line, located where it can be), and warnings that do not fail."""

    config: str = "built-in defaults"
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rules: int = 0
    feeds: int = 0
    targets: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def check(config_path: Path | None) -> CheckResult:
    """Check the configuration found from `config_path` (as every command finds it) and what it names."""
    result = CheckResult()
    try:
        config = load_config(config_path)
    except ConfigError as e:
        result.problems.extend(str(p) for p in e.problems)
        return result
    result.config = str(config.path or "built-in defaults")
    result.warnings.extend(config.warnings)
    result.feeds, result.targets = len(config.feeds), len(config.notify)
    _paths(config, result)
    if config.rules.exists():
        ruleset = load_rules(config.rules)
        result.problems.extend(str(p) for p in ruleset.problems)
        result.rules = len(ruleset.rules)
        if not ruleset.problems:
            result.problems.extend(check_examples(ruleset, Engine(ruleset)).failures)
        result.problems.extend(unrouted_tags(ruleset.rules, config.notify))
        if not ruleset.rules and not ruleset.problems:
            result.problems.append(f"{config.rules}: no rules: the daemon would alert on nothing")
    _feeds(config, result)
    _listen(config, result)
    return result


def _paths(config: Config, result: CheckResult) -> None:
    if isinstance(config.database, PostgresUrl):
        _postgres(config.database, result)
    else:
        _sqlite_path(config.database, result)
    if not config.rules.exists():
        result.problems.append(f"rules {config.rules}: no such file or directory")
    for seed in config.seeds:
        if not seed.path.is_dir():
            result.problems.append(f"seed directory {seed.name}: {seed.path} is not a directory")


def _postgres(url: PostgresUrl, result: CheckResult) -> None:
    """The server answers, the database is watcher's (or empty), and its schema is not newer than watcher."""
    try:
        open_existing(url).close()
    except NoDatabase:
        pass  # empty: the daemon sets it up at its first start
    except WatcherError as e:
        result.problems.append(str(e))


def _sqlite_path(database: Path, result: CheckResult) -> None:
    folder = database.parent
    if not folder.is_dir():
        result.problems.append(f"database {database}: its directory {folder} does not exist")
    elif not os.access(folder, os.W_OK | os.X_OK):
        result.problems.append(f"database {database}: its directory {folder} is not writable")
    elif database.exists() and not os.access(database, os.R_OK | os.W_OK):
        result.problems.append(f"database {database}: not readable and writable")


def _feeds(config: Config, result: CheckResult) -> None:
    if config.http.allow_private_addresses:
        return
    for feed in config.feeds:
        host = urlsplit(feed.url).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            result.problems.append(f"feed {feed.name}: {feed.url}: a loopback address (http.allow_private_addresses)")
            continue
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            continue  # a name: judged when it resolves, at each poll
        if not address_allowed(ip):
            result.problems.append(
                f"feed {feed.name}: {feed.url}: a private or reserved address (http.allow_private_addresses)"
            )


def _listen(config: Config, result: CheckResult) -> None:
    listen = config.daemon.listen
    if listen is None:
        return
    host = listen[0]
    if not is_loopback(host):
        guarded = " (the dashboard wants server.token)" if config.daemon.dashboard else ""
        result.warnings.append(
            f"server.listen {host}:{listen[1]}: /healthz and /metrics are open to the network, with no token{guarded}"
        )
