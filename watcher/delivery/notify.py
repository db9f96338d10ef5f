"""Sending through Apprise: one Apprise object per target, so a failure retries only its own target.

Target URLs carry secrets. They are only ever shown through Apprise's privacy form (passwords and tokens
masked), and error text from a send is scrubbed of the raw URL and its secret parts before it is logged or
stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apprise

from watcher.config import Target
from watcher.config.secrets import url_secrets

log = logging.getLogger(__name__)

# Apprise and urllib3 log request URLs at DEBUG, and they must never print a secret; httpx and the
# scheduler log every request and every run at INFO, which drowns what matters. Only their warnings pass.
_QUIET_LOGGERS = ("apprise", "urllib3", "requests", "httpx", "httpcore", "apscheduler")


def quiet_third_party_loggers() -> None:
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def redact(url: str) -> str:
    """A target URL with its secrets masked (Apprise's privacy form); scheme only when it cannot be parsed."""
    try:
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # noqa: BLE001 - an unparseable URL must still be shown safely
        plugin = None
    if plugin:
        # Apprise's privacy URL, without the query of its own defaults (method=POST&overflow=...), and with
        # token-like path segments masked too: generic plugins (json://, form://) keep them as plain path.
        private = str(plugin.url(privacy=True)).split("?", 1)[0]
        scheme, _, rest = private.partition("://")
        host, _, path = rest.partition("/")
        masked = "/".join("****" if _looks_secret(seg) else seg for seg in path.split("/")) if path else ""
        return f"{scheme}://{host}" + (f"/{masked}" if path else "")
    scheme = url.split("://", 1)[0] if "://" in url else "?"
    return f"{scheme}://****"


def _looks_secret(segment: str) -> bool:
    """A path segment that looks like a token: long, or mixing letters and digits."""
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    return len(segment) >= 20 or (len(segment) >= 8 and has_digit and has_alpha)


def target_key(target: Target) -> str:
    """The stable name of a target in the outbox: its name, else its redacted URL."""
    return target.name or redact(target.url)


def scrub(text: str, url: str) -> str:
    """Error text with any secret part of `url` replaced by '****'."""
    for secret in url_secrets(url):
        if secret:
            text = text.replace(secret, "****")
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str = ""


class Notifier:
    """Apprise objects for the configured targets, built once each."""

    def __init__(self, targets: Sequence[Target], *, timeout: float = 30.0):
        quiet_third_party_loggers()
        self.targets = {target_key(t): t for t in targets}
        self.timeout = timeout
        self._apprise: dict[str, Any] = {}

    def markdown(self, key: str) -> bool:
        """Whether a target's messages are written in Markdown: not for the generic webhooks (json://, xml://,
        form://), whose receivers get the text as it is, without escapes or emphasis."""
        target = self.targets.get(key)
        scheme = target.url.split("://", 1)[0].lower() if target else ""
        return scheme not in _RAW_WEBHOOKS

    def label(self, key: str) -> str:
        target = self.targets.get(key)
        return key if target is None or target.name is None else f"{key} ({redact(target.url)})"

    def _object(self, key: str) -> Any:
        obj = self._apprise.get(key)
        if obj is None:
            target = self.targets[key]
            obj = apprise.Apprise()
            if not obj.add(target.url):
                raise ValueError(f"not a valid Apprise URL: {redact(target.url)}")
            for server in obj:
                if "overflow=" not in target.url:
                    server.overflow_mode = apprise.OverflowMode.TRUNCATE
            self._apprise[key] = obj
        return obj

    def send(self, key: str, title: str, body: str, *, markdown: bool = True) -> SendResult:
        """Send one message to one target; never raises for a delivery failure."""
        target = self.targets.get(key)
        if target is None:
            return SendResult(False, f"target {key!r} is no longer configured")
        try:
            obj = self._object(key)
        except ValueError as e:
            return SendResult(False, str(e))
        body_format = apprise.NotifyFormat.MARKDOWN if markdown else apprise.NotifyFormat.TEXT
        try:
            result = obj.notify(body=body, title=title, body_format=body_format, timeout=self.timeout)
        except Exception as e:  # noqa: BLE001 - a plugin's exception is one target's failure, not ours
            return SendResult(False, scrub(f"{type(e).__name__}: {e}", target.url))
        if result:
            return SendResult(True)
        return SendResult(False, scrub(_failure_text(result), target.url))


_RAW_WEBHOOKS = frozenset({"json", "jsons", "xml", "xmls", "form", "forms"})


def _failure_text(result: Any) -> str:
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    messages = []
    try:
        for entry in result.logs():
            text = getattr(entry, "message", None) or str(entry)
            level = getattr(entry, "level", logging.ERROR)
            if isinstance(level, str):
                level = logging.getLevelName(level.upper())
            if not isinstance(level, int) or level >= logging.WARNING:
                messages.append(str(text))
    except (AttributeError, TypeError):
        pass
    detail = messages[-1] if messages else "the service did not accept the notification"
    # Apprise's own status name ("FAILURE") says nothing the detail does not; keep the others (a throttle).
    return (detail if status in ("FAILURE", "FAILED") else f"{status.lower()}: {detail}")[:500]
