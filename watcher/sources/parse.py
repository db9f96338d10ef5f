"""Feed bytes to items: feedparser on defused bytes, never on a URL or a path.

feedparser's loose parser expands internal entities that expat refused (a 40 KB feed with one entity
referenced 10,000 times becomes 100 MB), and the strict parser can be pointed at external entities. Every
DOCTYPE and ENTITY declaration is removed before parsing: a feed has no business declaring either, and
what is left of a reference to an undeclared entity stays text.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from watcher.errors import ReadError
from watcher.items.model import Item
from watcher.sources.dates import localized_date_handler, parse_date
from watcher.sources.decode import wide_encoding
from watcher.sources.entries import kept_entries
from watcher.sources.jsonfeed import is_json_feed, json_feed_items
from watcher.sources.markup import html_to_text

# What RSS and Atom themselves say of an entry. An entry with none of it is a phantom of illegally nested
# markup, or carries only extension elements (itunes:duration, georss:where): nothing to store.
_CORE = frozenset(
    {"title", "link", "links", "id", "summary", "content", "published", "updated", "created", "author"}
    | {"author_detail", "authors", "contributors", "tags", "enclosures", "source", "comments", "rights", "license"}
)
_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?encoding\s*=\s*)(["'])[^"']*\2""")


# feedparser's documented extension point: dates in French, German, Spanish, Portuguese, Italian and Dutch.
feedparser.registerDateHandler(localized_date_handler)


def defuse(data: bytes) -> bytes:
    """Remove DOCTYPE and ENTITY declarations; re-encode UTF-16/32 input as UTF-8 so they can be found; and
    make character references that name no character (a surrogate, past U+10FFFF) U+FFFD, which would
    otherwise fail the whole feed in feedparser."""
    encoding = wide_encoding(data)
    if encoding:
        text = data.decode(encoding, errors="replace").lstrip("\ufeff")
        data = _XML_ENCODING.sub(rb"\1\2utf-8\2", text.encode("utf-8"), count=1)
    if b"&#" in data:
        data = _CHAR_REF.sub(_no_character, data)
    if b"<!" not in data:
        return data
    return strip_declarations(data)


# Only references that may name no character are looked at (the common &#39; and &#x2019; are not): four hex
# digits from D800, six or more; five decimal digits from 55000, seven or more (leading zeros skipped).
_CHAR_REF = re.compile(
    rb"&#(?:[xX]0*([dD][89a-fA-F][0-9a-fA-F]{2}(?![0-9a-fA-F])|[0-9a-fA-F]{6,})|0*(5[5-7][0-9]{3}(?![0-9])|[0-9]{7,}))"
)


def _no_character(m: re.Match[bytes]) -> bytes:
    hexadecimal = m.group(1) is not None
    digits = m.group(1) if hexadecimal else m.group(2)
    if len(digits) > 7:  # past U+10FFFF (and never a huge number to convert)
        return b"&#xFFFD"
    code = int(digits, 16 if hexadecimal else 10)
    return b"&#xFFFD" if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF else m.group()


# What ends a declaration, opens a quoted literal or an internal subset: found by C code, never backtracked.
_DECLARATION_STOPS = re.compile(rb"[>\"'\[]")
_SUBSET_STOPS = re.compile(rb"[\]\"']")
_SKIPPED = {b"--": b"-->", b"[C": b"]]>"}


def strip_declarations(data: bytes) -> bytes:
    """Remove every <!DOCTYPE ...> (with its [internal subset]) and <!ENTITY ...> in one linear pass.

    Quoted literals may hold '>' and ']'. An unterminated declaration runs to the end of the data: what
    follows it would be part of it for an XML parser too.
    """
    out: list[bytes] = []
    pos = 0
    while True:
        start = data.find(b"<!", pos)
        if start < 0:
            out.append(data[pos:])
            return b"".join(out)
        word = data[start + 2 : start + 9].upper()
        if not (word.startswith(b"DOCTYPE") or word.startswith(b"ENTITY")):
            # Comments and CDATA sections are text: a "<!DOCTYPE" inside one is not a declaration.
            close = _SKIPPED.get(data[start + 2 : start + 4], b"")
            end = data.find(close, start + 2) + len(close) if close else start + 2
            end = len(data) if end < len(close) else end
            out.append(data[pos:end])
            pos = end
            continue
        out.append(data[pos:start])
        pos = _declaration_end(data, start + 2)


def _declaration_end(data: bytes, pos: int) -> int:
    """The index just past the '>' that closes the declaration whose body starts at `pos`."""
    stops = _DECLARATION_STOPS
    while True:
        m = stops.search(data, pos)
        if m is None:
            return len(data)
        char = m.group()
        if char == b">" and stops is _DECLARATION_STOPS:
            return m.end()
        if char in (b'"', b"'"):
            close = data.find(char, m.end())
            if close < 0:
                return len(data)
            pos = close + 1
        elif char == b"[":
            stops, pos = _SUBSET_STOPS, m.end()
        elif char == b"]":
            stops, pos = _DECLARATION_STOPS, m.end()
        else:
            pos = m.end()


def parse_feed(
    data: bytes, *, source: str, url: str = "", headers: Mapping[str, str] | None = None, name: str = ""
) -> Any:
    """Parse feed bytes with feedparser; raise ReadError when the bytes hold no feed at all.

    `url` is where the bytes came from (the base for relative links); `name` names them in errors.
    """
    # No base URL for feedparser: it would resolve relative guids too ("1" -> "https://host/1"), and a feed
    # that moves would then change every guid and alert its whole history again. Links are resolved below.
    response_headers = {k.lower(): v for k, v in (headers or {}).items() if k.lower() != "content-location"}
    parsed = feedparser.parse(
        io.BytesIO(defuse(data)),
        response_headers=response_headers,
        sanitize_html=True,
        resolve_relative_uris=True,
    )
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f" ({reason})" if reason else ""
        raise ReadError(f"{name or url or source}: not a feed{detail}")
    return parsed


def parse_body(
    data: bytes, *, source: str, url: str = "", headers: Mapping[str, str] | None = None, name: str = ""
) -> list[Item]:
    """A fetched body's items: JSON Feed by its content type or first character, else RSS/Atom/RDF."""
    kind = {k.lower(): v for k, v in (headers or {}).items()}.get("content-type", "").split(";")[0].strip().lower()
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if "json" in kind or stripped[:1] in (b"{", b"["):
        try:
            doc = json.loads(stripped.decode("utf-8", errors="replace"))
        except ValueError:
            raise ReadError(f"{name or url or source}: not a feed (invalid JSON)") from None
        if not is_json_feed(doc):
            raise ReadError(f"{name or url or source}: not a feed (JSON, but not a JSON Feed)")
        return json_feed_items(doc, source, name or url or source)
    return feed_items(data, source=source, url=url, headers=headers, name=name)


def feed_items(
    data: bytes, *, source: str, url: str = "", headers: Mapping[str, str] | None = None, name: str = ""
) -> list[Item]:
    """Parse feed bytes into items, one per entry; entries without guid fall back to link, then a hash."""
    parsed = parse_feed(data, source=source, url=url, headers=headers, name=name)
    # Relative links resolve against xml:base (feedparser does that), then where the bytes came from, then,
    # for a saved file, the feed's own link.
    channel = parsed.feed.get("link", "") if isinstance(parsed.feed.get("link"), str) else ""
    base = (headers or {}).get("content-location") or (headers or {}).get("Content-Location") or url or channel
    entries = [entry for entry in parsed.entries if _CORE & set(dict.keys(entry))]
    items = [entry_item(entry, source=source, base=base) for entry in entries]
    return kept_entries(items, name or url or source, empty=len(parsed.entries) - len(entries))


def entry_item(entry: Mapping[str, Any], *, source: str, base: str = "") -> Item:
    """One feedparser entry as an Item, its HTML turned into text."""
    title = _text_of(entry.get("title_detail"), entry.get("title", ""))
    summary = _text_of(entry.get("summary_detail"), entry.get("summary", ""))
    content = ""
    for part in entry.get("content") or []:
        content = _text_of(part, part.get("value", ""))
        if content:
            break
    if summary and summary == content:
        summary = ""
    link = entry.get("link") or None
    if link and base:
        link = urljoin(base, link)
    guid = entry.get("id") or link
    if not guid:
        digest = hashlib.sha256(f"{title}\x00{summary}\x00{content}".encode()).hexdigest()[:32]
        guid = f"sha256:{digest}"
    author = entry.get("author") or ""
    published = _published(entry)
    return Item(
        source=source,
        guid=str(guid),
        link=link,
        title=title,
        summary=summary,
        content=content,
        published=published,
        date_text=_date_text(entry) if published is None else None,
        author=author if isinstance(author, str) else "",
    )


def _text_of(detail: Mapping[str, Any] | None, value: str) -> str:
    if not value:
        return ""
    kind = (detail or {}).get("type", "text/plain")
    if "html" in kind or ("<" in value and ">" in value and kind != "text/plain"):
        return html_to_text(value)[1]
    return value.strip()


def _published(entry: Mapping[str, Any]) -> datetime | None:
    # The text first: ISO 8601 keeps its fractions of a second, which feedparser's struct_time drops.
    for key in ("published", "updated", "created"):
        # dict.get: feedparser's own get maps a missing "published" to "updated", with a DeprecationWarning.
        raw = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(raw, str) and raw[:4].isdigit():
            exact = parse_date(raw)
            if exact is not None:
                return exact
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _date_text(entry: Mapping[str, Any]) -> str | None:
    for key in ("published", "updated", "created"):
        raw = dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)
        if isinstance(raw, str) and raw.strip():
            return raw.strip()[:100]
    return None
