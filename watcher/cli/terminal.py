"""Output for a person at a terminal: tables with headers, colour, relative times, progress bars.

Only on a terminal: piped or redirected output stays the plain lines that scripts read, and colour also
stays off when NO_COLOR is set (https://no-color.org) or TERM is "dumb". Built on click's own styling and
progress bar; every value is made printable first (feeds' text is untrusted).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

import click

from watcher.daemon.logs import printable

HEALTH_COLOURS = {"ok": "green", "new": "cyan", "failing": "yellow", "broken": "red", "disabled": "red"}
STATE_COLOURS = {"sent": "green", "pending": "cyan", "partly sent": "yellow", "failed": "red", "suppressed": None}


def interactive() -> bool:
    """Whether standard output is a terminal a person reads."""
    return sys.stdout.isatty() and os.environ.get("TERM") != "dumb"


def coloured() -> bool:
    return interactive() and "NO_COLOR" not in os.environ


def paint(text: str, colour: str | None) -> str:
    return click.style(text, fg=colour) if colour and coloured() else text


def relative(iso: str | None, now: datetime | None = None) -> str:
    """An ISO 8601 time with how long ago it was: "2026-11-30T08:00:00+00:00 (3 min ago)"."""
    if not iso:
        return "never"
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    ahead = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or unit == "s":
            n = seconds // size
            span = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            break
    return f"{iso} ({'in ' + span if ahead else span + ' ago'})"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], colours: Sequence[str | None] = ()) -> list[str]:
    """Aligned columns under a bold header; `colours` colours the cells of a row (one colour per row)."""
    cells = [[printable(str(c)) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    head = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    lines = [click.style(head, bold=True) if coloured() else head]
    for i, row in enumerate(cells):
        text = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        lines.append(paint(text, colours[i] if i < len(colours) else None))
    return lines
