"""What makes two items the same: a key within a source, and a hash of the normalized text across sources.

The key is the item's guid, else its link (normalized: scheme and host case, default ports, fragments and
tracking parameters removed), else its path, else a hash of title and content. Independently, items whose
normalized text is identical are copies wherever they come from.
"""

from __future__ import annotations

import hashlib
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from watcher.items.model import Item

_TRACKING_PREFIXES = ("utm_", "mtm_", "pk_")
_TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "yclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref_src",
        "cmpid",
        "ocid",
        "smid",
        "wt.mc_id",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Texts shorter than this are too generic ("Untitled", an empty entry) to call two items copies.
MIN_COPY_TEXT = 40
MAX_KEY_BYTES = 2000


def normalize_link(url: str) -> str:
    """A link with scheme and host lower-cased, default port, fragment and tracking parameters removed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if parts.username or parts.password:
        userinfo = parts.netloc.rsplit("@", 1)[0]
        host = f"{userinfo}@{host}"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING_PREFIXES) and k.lower() not in _TRACKING
    ]
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def item_key(item: Item) -> str:
    """The item's identity within its source: its base key, and its variant where it has one."""
    base = base_key(item)
    return f"{base}#{item.variant}" if item.variant else base


def base_key(item: Item) -> str:
    """The identity the item claims: its guid, else its link, path, or a hash of its text. A claim longer
    than MAX_KEY_BYTES (a hostile feed's 20 KB guid) is kept as its hash: it is indexed, and PostgreSQL's
    index rows hold at most 2,704 bytes."""
    if item.guid:
        key = f"guid:{item.guid.strip()}"
    elif item.link:
        key = f"link:{normalize_link(item.link)}"
    elif item.path:
        # However the path was typed (`backfill` reads the configured seed directory, `backfill seeds/` the
        # same files by a relative path), one file is one item: keyed by its absolute path.
        key = f"path:{os.path.abspath(item.path)}"
    else:
        return "hash:" + hashlib.sha256(f"{item.title}\x00{item.content}".encode()).hexdigest()
    encoded = key.encode("utf-8", "surrogatepass")
    if len(encoded) <= MAX_KEY_BYTES:
        return key
    kind = key.split(":", 1)[0]
    return f"{kind}~sha256:{hashlib.sha256(encoded).hexdigest()}"


def normalized_text(item: Item) -> str:
    """Title and body, white space folded and case folded: what 'the same story' means."""
    body = item.content or item.summary
    return " ".join(f"{item.title}\n{body}".split()).casefold()


def text_hash(item: Item) -> str:
    return hashlib.sha256(normalized_text(item).encode()).hexdigest()


def variant_of(item: Item) -> str:
    """A digest of everything an entry says: what tells apart entries that claim the same identity."""
    published = item.published.isoformat() if item.published else ""
    fields = (item.title, item.summary, item.content, item.link or "", item.author, published)
    return hashlib.sha256("\x00".join(fields).encode()).hexdigest()[:16]


def disambiguate(items: list[Item]) -> tuple[list[Item], int]:
    """Items of one fetch with exact repeats dropped, and entries that share an identity but differ each
    given their variant; and how many entries shared an identity. Feed order is kept."""
    keyed = [(base_key(item), variant_of(item), item) for item in items]
    variants: dict[str, set[str]] = {}
    for key, variant, _ in keyed:
        variants.setdefault(key, set()).add(variant)
    out: list[Item] = []
    kept: set[tuple[str, str]] = set()
    shared = 0
    for key, variant, item in keyed:
        if (key, variant) in kept:
            continue  # the same entry twice: once is enough
        kept.add((key, variant))
        if len(variants[key]) > 1:
            item.variant = variant
            shared += 1
        out.append(item)
    return out, shared
