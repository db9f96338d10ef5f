"""Logging: readable text on a terminal, one JSON object per line otherwise when asked (--log-format json).

Two guarantees hold for every record, whoever logs it (watcher, Apprise, httpx...): the configured secrets
are replaced by `****` before the line is written, and in text form control characters are shown escaped,
so a feed's guid or a file's name can neither forge a log line nor drive the terminal.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from watcher.delivery.notify import quiet_third_party_loggers

# C0 and C1 controls (newlines included, tab excepted), DEL, and the bidirectional overrides.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Text with every control character written as an escape (\\x1b, \\n, \\u202e)."""
    return _CONTROL.sub(_escape, text)


def _escape(m: re.Match[str]) -> str:
    return m.group().encode("unicode_escape").decode("ascii")


class Scrubber(logging.Filter):
    """Replaces every known secret in a record's message (and its exception text) with ****."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()

    def protect(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        self.secrets = tuple(sorted(set(secrets), key=len, reverse=True))

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, "****")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        clean = self.scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("watcher: %(levelname)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = printable(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info or record.exc_text:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(*, verbose: bool = False, fmt: str = "text") -> None:
    """Configure the root logger on stderr; third-party loggers that print URLs stay above DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    previous = _our_handler()
    scrubber = previous.filters[0] if previous is not None else Scrubber()
    handler.addFilter(scrubber)
    handler._watcher = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace only our own handler: others (a test's capture, an embedding program's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_watcher", False)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet_third_party_loggers()
    # psycopg's pool warns at each failed reconnection while PostgreSQL is away: the daemon says it once.
    logging.getLogger("psycopg.pool").setLevel(logging.DEBUG if verbose else logging.ERROR)


class SkippedRuns(logging.Filter):
    """APScheduler's line for each run it skips because the job's last run is still going: under load, one
    per feed per interval. Counted instead (`count`), for the daemon to report once a minute."""

    def __init__(self, count: Callable[[], None]):
        super().__init__()
        self.count = count

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            self.count()
            return False
        return True


def protect_secrets(secrets: Iterable[str]) -> None:
    """From now on, scrub these values from every log line watcher's handler writes."""
    handler = _our_handler()
    if handler is not None:
        handler.filters[0].protect(secrets)  # type: ignore[union-attr]


def _our_handler() -> logging.Handler | None:
    return next((h for h in logging.getLogger().handlers if getattr(h, "_watcher", False)), None)
