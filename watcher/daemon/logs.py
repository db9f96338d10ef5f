"""Logging: readable text on a terminal, one JSON object per line otherwise when asked (--log-format json)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from watcher.delivery.notify import quiet_third_party_loggers


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(*, verbose: bool = False, fmt: str = "text") -> None:
    """Configure the root logger on stderr; third-party loggers that print URLs stay above DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("watcher: %(levelname)s %(message)s"))
    handler._watcher = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    # Replace only our own handler: others (a test's capture, an embedding program's) stay.
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "_watcher", False)] + [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    quiet_third_party_loggers()
