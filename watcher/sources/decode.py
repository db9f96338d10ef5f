"""Bytes to text for documents: BOMs first, then UTF-8, then cp1252."""

from __future__ import annotations

import codecs

import re2

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# UTF-16/32 without a byte order mark, detected by where the NULs of "<?" fall.
_WIDE_NO_BOM = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
# RE2: linear time on whatever a file holds.
_META_CHARSET = re2.compile(rb"""(?i)<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""")


def bom_encoding(data: bytes) -> tuple[str, int] | None:
    """The encoding a byte order mark announces, and the mark's length."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, len(bom)
    return None


def wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32, from a byte order mark or from an XML declaration's NULs; else None."""
    found = bom_encoding(data)
    if found and found[0] != "utf-8":
        return found[0]
    for prefix, name in _WIDE_NO_BOM:
        if data.startswith(prefix):
            return name
    return None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode a document: a BOM wins, then a declared charset, then UTF-8, else cp1252."""
    found = bom_encoding(data)
    if found:
        name, skip = found
        return data[skip:].decode(name, errors="replace")
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document declares in a <meta> tag near its start."""
    m = _META_CHARSET.search(data[:4096])
    return m.group(1).decode("ascii") if m else None


def looks_binary(data: bytes) -> bool:
    """True for bytes that are not text: a NUL byte in what is not UTF-16/32."""
    return b"\x00" in data[:8192] and wide_encoding(data) is None
