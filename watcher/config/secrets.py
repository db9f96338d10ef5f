"""Secrets in the configuration: what counts as one, and checking a notify URL without ever printing it.

A secret is any value that `${VAR}` or `${credential:NAME}` put into watcher.yaml, and every part of a notify
URL that may be one (user, password, path segments, query values). Logs scrub them all (`watcher.daemon.logs`),
whoever writes the line: watcher, Apprise or any other library.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlsplit

# Shorter values would scrub ordinary words out of every log line.
MIN_SECRET_LENGTH = 4


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be secret: the whole URL, user, password, path segments, query values."""
    parts = [url]
    try:
        split = urlsplit(url)
    except ValueError:
        return parts
    parts += [p for p in (split.username, split.password) if p]
    parts += [seg for seg in split.path.split("/") if len(seg) >= 6]
    parts += [v for kv in split.query.split("&") for v in kv.split("=")[1:] if len(v) >= 6]
    if "://" in url:
        # What Apprise reads as host may be a token too (slack://TokenA/TokenB/...).
        netloc = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
        parts += [netloc] if len(netloc) >= 6 else []
    return sorted({unquote(p) for p in parts} | set(parts), key=len, reverse=True)


def all_secrets(values: Iterable[str]) -> frozenset[str]:
    """The values long enough to scrub, and the secret parts of any that are URLs."""
    out: set[str] = set()
    for value in values:
        parts = url_secrets(value) if "://" in value else [value]
        out.update(p for p in parts if len(p) >= MIN_SECRET_LENGTH)
    return frozenset(out)


def scheme_of(url: str) -> str:
    """What of a URL may always be shown: its scheme."""
    return url.split("://", 1)[0].strip().lower() if "://" in url else ""


def apprise_url_error(url: str) -> str | None:
    """Why Apprise cannot use `url` (naming only its scheme), or None. Apprise's own log lines are held back."""
    import apprise
    from apprise.manager_plugins import NotificationManager

    scheme = scheme_of(url)
    if not scheme:
        return "not an Apprise URL (scheme://...)"
    if scheme not in NotificationManager().schemas():
        return f"unknown notification service '{scheme}://'"
    with _apprise_silent():
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        return f"Apprise cannot use this '{scheme}://' URL (a missing or malformed part)"
    return None


@contextlib.contextmanager
def _apprise_silent() -> Iterator[None]:
    # Apprise logs the URL it fails to parse; while checking one, its logger says nothing at all.
    logger = logging.getLogger("apprise")
    drop = _DropAll()
    logger.addFilter(drop)
    try:
        yield
    finally:
        logger.removeFilter(drop)


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False
