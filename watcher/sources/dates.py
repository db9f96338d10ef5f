"""Dates as publishers write them: ISO 8601 (fractions kept), RFC 822, and RFC 822 with day and month names in
the common European languages ("mer, 16 nov 2022", "Seg, 24 Set 2018", "Di, 3. Okt 2023"), which feedparser
alone reads as nothing.
"""

from __future__ import annotations

import email.utils
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import Any

# Month names and abbreviations (French, German, Spanish, Portuguese, Italian, Dutch), accents stripped.
_MONTHS = {
    1: "janvier janv jan januar jaen enero ene janeiro gennaio genn gen januari",
    2: "fevrier fevr fev februar feb febrero fevereiro febbraio febr februari",
    3: "mars mar marz maerz marzo marco maart mrt",
    4: "avril avr apr april abril abr aprile",
    5: "mai mayo may maio maggio mag mei",
    6: "juin jun juni junio junho giugno giu",
    7: "juillet juil jul juli julio julho luglio lug",
    8: "aout aou aug august agosto ago augustus",
    9: "septembre sept sep september septiembre setembro set settembre",
    10: "octobre oct oktober okt octubre outubro out ottobre ott",
    11: "novembre nov november noviembre novembro",
    12: "decembre dec dezember dez diciembre dic dezembro dicembre december",
}
_MONTH = {name: number for number, names in _MONTHS.items() for name in names.split()}
_ENGLISH = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# "mer, 16 nov 2022 10:00:00 +0100": an optional weekday word, day, month word, year, the rest.
_LOCALIZED = re.compile(r"^\s*(?:[^\W\d_]+\.?,?\s+)?(\d{1,2})\.?\s+([^\W\d_]+)\.?\s+(\d{4})(.*)$")


def parse_date(value: Any) -> datetime | None:
    """A date (str, date or datetime) in UTC, or None: ISO 8601, RFC 822, or RFC 822 in another language.

    Naive values are taken as UTC.
    """
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif hasattr(value, "isoformat") and hasattr(value, "year"):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    elif isinstance(value, str) and value.strip():
        parsed = _from_text(value.strip())
    else:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 east of Greenwich, or 9999 west of it: no date in UTC
        return None


def _from_text(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for candidate in (text, english_rfc822(text)):
        if candidate:
            try:
                return email.utils.parsedate_to_datetime(candidate)
            except (TypeError, ValueError, IndexError):
                continue
    return None


def english_rfc822(text: str) -> str | None:
    """An RFC 822 date written with another language's day and month names, in English; None otherwise."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    m = _LOCALIZED.match(folded)
    if not m:
        return None
    month = _MONTH.get(m.group(2).casefold())
    if month is None:
        return None
    return f"{int(m.group(1))} {_ENGLISH[month - 1]} {m.group(3)}{m.group(4)}"


def localized_date_handler(text: str) -> time.struct_time | None:
    """feedparser's date handler interface: a UTC struct_time for a date in another language."""
    english = english_rfc822(text)
    if english is None:
        return None
    try:
        return email.utils.parsedate_to_datetime(english).astimezone(UTC).timetuple()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
