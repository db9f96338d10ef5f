"""Durations as people write them: '30s', '15m', '1h', '1h30m', '2d', or a number of seconds."""

from __future__ import annotations

import re
from typing import Any

_DURATION = re.compile(
    r"^\s*(?:(\d+(?:\.\d+)?)\s*d)?\s*(?:(\d+(?:\.\d+)?)\s*h)?\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*"
    r"(?:(\d+(?:\.\d+)?)\s*s)?\s*$"
)


def parse_duration(value: Any) -> float | None:
    """Seconds from '30s', '15m', '1h', '1h30m', '2d' or a number of seconds; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value >= 0 else None
    if not isinstance(value, str) or not value.strip():
        return None
    if re.fullmatch(r"\s*\d+(?:\.\d+)?\s*", value):
        return float(value)
    m = _DURATION.match(value)
    if not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    return d * 86400 + h * 3600 + mi * 60 + s
