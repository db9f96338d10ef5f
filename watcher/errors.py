"""The exception hierarchy, drawn once.

WatcherError            every error meant for a user; str() is the one-line message
 +- ConfigError         watcher.yaml is missing, unreadable or invalid
 +- RuleError           rule files are invalid (carries every problem found)
 +- ReadError           a document could not be read
 +- NotFound            a path or an id given on the command line is not there (exit 2)
 +- StoreError          the database is unusable (corrupt, foreign, locked)
 |   +- NoDatabase       a command that reads the database found none (exit 2: a wrong path, not a failure)
 +- FetchError          a feed could not be fetched; .retryable says whether to try again
 |   +- HostWaiting      not fetched: its host asked to be left alone (429/503 Retry-After) for .seconds
 +- NotifyError         a notification could not be sent; .retryable likewise
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem in a YAML file, located by file, line and key path."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class WatcherError(Exception):
    """Root of every error watcher reports to a user."""

    # The CLI's exit status for it: 1 for a failure, 2 for a usage mistake (a path or an id that is not there).
    exit_code = 1


class ProblemsError(WatcherError):
    """An error made of several located problems, all reported at once."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ConfigError(ProblemsError):
    """The configuration is invalid."""


class RuleError(ProblemsError):
    """The rule files are invalid."""


class ReadError(WatcherError):
    """A document could not be read."""


class NotFound(WatcherError):
    """A path or an id the user gave does not exist: a mistake in the command, not a failure."""

    exit_code = 2


class StoreError(WatcherError):
    """The database cannot be used."""


class DatabaseUnavailable(StoreError):
    """The database cannot be reached or is not watcher's: its server is down or silent, the password or
    the database's name is wrong, or it belongs to another program."""

    exit_code = 2


class NoDatabase(StoreError):
    """A command that only reads the database found none where the configuration says."""

    exit_code = 2


class FetchError(WatcherError):
    """A feed (or page) could not be fetched. `kind` says why, as metrics label it: refused (a private
    address), timeout, too_large, redirects, or fetch_failed."""

    def __init__(self, message: str, *, retryable: bool = True, kind: str = "fetch_failed"):
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind


class HostWaiting(FetchError):
    """A request not made: its host asked to be left alone until later (`seconds` from now)."""

    def __init__(self, message: str, seconds: float):
        super().__init__(message)
        self.seconds = seconds


class NotifyError(WatcherError):
    """A notification could not be sent."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable
